"""publish and fetch as a user runs them: a release published to a folder, fetched over a real HTTP
server on 127.0.0.1 whole and in part, damage refused by name, interrupted work resumed."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import PublishConfig
from earwitness.pipelines.fetch import fetch
from earwitness.pipelines.publish import publish
from earwitness.pipelines.release import write_checksums
from earwitness.stream import open_release
from earwitness.testing import MediaServer

VERSION = "1.2.0"  # the small release's build.version
QUICK = PublishConfig(attempts=2, backoff_s=0.0, parallel=3)


def earwitness(*args):
    return subprocess.run([sys.executable, "-m", "earwitness", *args], capture_output=True, text=True, check=False)


def listed(release: Path) -> dict[str, str]:
    lines = (release / "SHA256SUMS").read_text().splitlines()
    return {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in lines}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shards_of(release: Path) -> set[str]:
    return {p.relative_to(release).as_posix() for p in release.rglob("*.tar")}


@pytest.fixture(scope="module")
def published(small_release, tmp_path_factory) -> Path:
    """The small release published (through the command line) into a local folder."""
    dest = tmp_path_factory.mktemp("bucket") / "earwitness"
    result = earwitness("publish", str(small_release), str(dest))
    assert result.returncode == 0, result.stderr
    assert f"published {VERSION}" in result.stdout
    return dest


def test_publish_copies_every_file_under_its_version_and_marks_it_complete_last(small_release, published):
    files = listed(small_release)
    copy = published / VERSION
    on_disk = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
    assert on_disk == set(files) | {"SHA256SUMS", "RELEASE.json"}
    assert all(sha(copy / name) == digest for name, digest in files.items())
    marker = json.loads((copy / "RELEASE.json").read_text())
    assert marker["version"] == VERSION and set(marker["files"]) == set(files) | {"SHA256SUMS"}
    assert all(marker["files"][n]["size"] == (copy / n).stat().st_size for n in marker["files"])
    index = json.loads((published / "releases.json").read_text())
    assert index["latest"] == VERSION and [r["version"] for r in index["releases"]] == [VERSION]
    # a published version is never overwritten: a clear error naming it, exit code 2
    again = earwitness("publish", str(small_release), str(published))
    assert again.returncode == 2 and f"version {VERSION} is already published" in again.stderr
    assert again.stderr.startswith("error: ")


def test_fetch_over_http_whole_then_one_variant(small_release, published, tmp_path):
    files = listed(small_release)
    with MediaServer(published, subfolders=True) as server:
        whole = earwitness("fetch", server.url, "--to", str(tmp_path / "whole"))  # the latest, via releases.json
        assert whole.returncode == 0, whole.stderr
        assert f"fetched {VERSION}" in whole.stdout and "all verified" in whole.stdout
        got = tmp_path / "whole"
        assert all(sha(got / name) == digest for name, digest in files.items())
        assert (got / "RELEASE.json").exists() and not list(got.rglob("*.part"))

        before = dict(server.requests)
        part = fetch(f"{server.url}/{VERSION}", tmp_path / "swap", variants=["swap"], settings=QUICK)
    swap_shards = {s for s in shards_of(small_release) if "/swap/" in s}
    assert len(swap_shards) >= 4 and shards_of(tmp_path / "swap") == swap_shards
    asked = {name for name, n in server.requests.items() if n > before.get(name, 0)}
    assert {a.removeprefix(f"{VERSION}/") for a in asked if a.endswith(".tar")} == swap_shards
    for name in ("manifests/samples.parquet", "manifests/qa.parquet", "README.md", "SHA256SUMS"):
        assert sha(tmp_path / "swap" / name) == sha(small_release / name)
    assert part.files == len(files) + 1 - (len(shards_of(small_release)) - len(swap_shards))
    # what was not fetched is named when it is asked for
    with pytest.raises(EarwitnessError, match="not fetched"):
        open_release(tmp_path / "swap").shard_urls(variant="mute")
    with pytest.raises(EarwitnessError, match="no variant reverse; the release has aligned"):
        fetch(str(published), tmp_path / "none", variants=["reverse"], settings=QUICK)


def test_a_flipped_byte_is_refused_naming_the_file(small_release, tmp_path):
    dest = tmp_path / "dest"
    publish(small_release, str(dest), QUICK)
    victim = f"{VERSION}/eval/aligned/eval-aligned-00001.tar"
    data = bytearray((dest / victim).read_bytes())
    data[len(data) // 2] ^= 0x01
    (dest / victim).write_bytes(bytes(data))
    with MediaServer(dest, subfolders=True) as server, pytest.raises(EarwitnessError) as caught:
        fetch(server.url, tmp_path / "got", settings=QUICK)
    message = str(caught.value)
    assert "failed for 1 file (" in message and "eval/aligned/eval-aligned-00001.tar: sha256" in message
    assert "damaged or was tampered with" in message
    got = tmp_path / "got"
    assert not (got / "eval/aligned/eval-aligned-00001.tar").exists() and not list(got.rglob("*.part"))
    assert not (got / "RELEASE.json").exists()  # an incomplete fetch is not a release
    assert (
        sha(got / "eval/aligned/eval-aligned-00000.tar") == listed(small_release)["eval/aligned/eval-aligned-00000.tar"]
    )

    # and a damaged release is never published
    local = tmp_path / "damaged"
    shutil.copytree(small_release, local)
    (local / "manifests" / "qa.parquet").write_bytes(b"not the questions")
    with pytest.raises(EarwitnessError, match=r"refusing to publish a damaged release:\n  manifests/qa.parquet"):
        publish(local, str(tmp_path / "dest2"), QUICK)
    assert not (tmp_path / "dest2").exists()


def test_an_interrupted_fetch_resumes_without_downloading_again_what_was_complete(published, tmp_path):
    cut = f"{VERSION}/balanced_train/swap/balanced_train-swap-00000.tar"
    size = (published / cut).stat().st_size
    got = tmp_path / "got"
    with MediaServer(published, faults={cut: "cut-transfer"}, subfolders=True) as server:
        with pytest.raises(EarwitnessError, match=r"balanced_train-swap-00000\.tar: transfer"):
            fetch(server.url, got, settings=QUICK)
        partial = (got / "balanced_train/swap/balanced_train-swap-00000.tar.part").stat().st_size
        assert 0 < partial < size
        first = {name: server.requests[name] for name in server.requests}
        served_before = server.served[cut]

        server.faults.clear()
        result = fetch(server.url, got, settings=QUICK)
    assert result.resumed == 1 and result.kept == result.files - 1
    again = {name for name, n in server.requests.items() if n > first.get(name, 0)}
    assert again == {cut, "releases.json", f"{VERSION}/RELEASE.json"}  # no complete file asked for again
    assert server.served[cut] - served_before == size - partial  # from where it stopped, not from zero
    assert result.downloaded == size - partial
    assert sha(got / "balanced_train/swap/balanced_train-swap-00000.tar") == sha(published / cut)

    # a transfer cut once is resumed within the same run
    with MediaServer(published, faults={cut: "cut-once"}, subfolders=True) as server:
        fetch(server.url, tmp_path / "again", variants=["swap"], splits=["balanced_train"], settings=QUICK)
        assert server.requests[cut] == 2 and server.served[cut] == size


class FlakyMemory(MemoryFileSystem):
    """fsspec's in-memory filesystem whose uploads fail once `budget` more have succeeded: a bucket
    whose connection drops part-way through a publish."""

    protocol = "flaky"
    budget: int | None = None

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(str(path).removeprefix("flaky://"))

    def put_file(self, lpath, rpath, *args, **kwargs):
        if FlakyMemory.budget is not None:
            if FlakyMemory.budget <= 0:
                raise ConnectionResetError("connection reset by peer")
            FlakyMemory.budget -= 1
        return super().put_file(lpath, rpath, *args, **kwargs)


def test_an_interrupted_publish_is_not_seen_and_a_rerun_completes_it(small_release, tmp_path):
    fsspec.register_implementation("flaky", FlakyMemory, clobber=True)
    dest, one_at_a_time = "flaky://interrupted/earwitness", PublishConfig(parallel=1)
    try:
        FlakyMemory.budget = 10
        with pytest.raises(EarwitnessError, match=r"copying .* failed \(connection reset by peer\); not published"):
            publish(small_release, dest, one_at_a_time)
        FlakyMemory.budget = None
        with pytest.raises(EarwitnessError, match="no published release here"):
            fetch(dest, tmp_path / "got", settings=QUICK)
        for reader in (lambda: fetch(f"{dest}/{VERSION}", tmp_path / "got", settings=QUICK),
                       lambda: open_release(f"{dest}/{VERSION}")):  # fmt: skip
            with pytest.raises(EarwitnessError, match=r"not \(yet\) published: it has no RELEASE.json"):
                reader()

        # another build of the same version never completes this one's copy
        other = tmp_path / "other"
        shutil.copytree(small_release, other)
        with (other / "exports" / "qa.jsonl").open("a") as handle:
            handle.write("{}\n")
        write_checksums(other)
        with pytest.raises(EarwitnessError, match="unfinished publish of another build of this version"):
            publish(other, dest, one_at_a_time)

        result = publish(small_release, dest, one_at_a_time)
        assert result.copied == len(listed(small_release)) + 1 - 10  # only what the first run had not copied
        memory = fsspec.filesystem("flaky")
        assert not memory.exists(f"/interrupted/earwitness/{VERSION}/PUBLISHING.json")
        fetched = fetch(dest, tmp_path / "got", settings=QUICK)
        assert fetched.version == VERSION and fetched.files == len(listed(small_release)) + 1
        assert all(sha(tmp_path / "got" / name) == digest for name, digest in listed(small_release).items())
    finally:
        FlakyMemory.budget = None
        fsspec.filesystem("flaky").rm("/interrupted", recursive=True)

    stray = tmp_path / "stray" / VERSION
    stray.mkdir(parents=True)
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(EarwitnessError, match="holds files that no earwitness publish put there"):
        publish(small_release, str(tmp_path / "stray"), QUICK)


def test_publish_to_an_object_store_and_fetch_from_it(small_release, tmp_path):
    """fsspec's in-memory filesystem has no rename, like gs:// and s3://: the object-store path."""
    memory = fsspec.filesystem("memory")
    try:
        publish(small_release, "memory://bucket/earwitness", QUICK)
        assert memory.exists(f"/bucket/earwitness/{VERSION}/RELEASE.json")
        result = fetch("memory://bucket/earwitness", tmp_path / "got", splits=["eval"], variants=["mute"])
        assert shards_of(tmp_path / "got") == {s for s in shards_of(small_release) if s.startswith("eval/mute/")}
        on_disk = [f for f in (tmp_path / "got").rglob("*") if f.is_file() and f.name != "RELEASE.json"]
        assert result.version == VERSION and result.files == len(on_disk)
        assert sha(tmp_path / "got" / "stats.json") == sha(small_release / "stats.json")
    finally:
        memory.rm("/bucket", recursive=True)
