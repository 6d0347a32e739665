"""publish: copy a finished release to any fsspec destination under its version, visible only when complete.

Object stores have no atomic rename, so completeness is a marker written last:

    DEST/<version>/PUBLISHING.json the files about to be copied: written first, removed at the end
    DEST/<version>/...             every file the release's SHA256SUMS lists, SHA256SUMS itself last
    DEST/<version>/RELEASE.json    version, name, every file's sha256 and size: written once all are in place
    DEST/releases.json             the complete versions (and the latest), updated after the marker

Readers (fetch, the stream API) treat a version without RELEASE.json as not published. The local
release is verified against its SHA256SUMS before anything is copied, and every copy's size is
checked before the marker is written. An interrupted publish re-run skips what is already in
place; a version whose marker exists is never overwritten. On the Hugging Face Hub the whole
version (files, marker and index) is one commit, which is atomic there.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from earwitness import __version__
from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import PublishConfig
from earwitness.pipelines.fetch import sha256_of
from earwitness.published import (
    CHECKSUMS,
    INDEX,
    MARKER,
    MARKER_FORMAT,
    PENDING,
    VERSION,
    safe_relative,
    version_key,
)
from earwitness.storage import redact

log = logging.getLogger(__name__)
TEMP_MARK = ".tmp-"


@dataclass
class PublishResult:
    url: str  # redacted: DEST/<version>
    version: str
    files: int
    bytes: int
    copied: int  # files copied in this run; the others were already in place from an interrupted run
    seconds: float


def verified_files(release: Path) -> dict[str, dict]:
    """Every file SHA256SUMS lists, checked: {name: {sha256, size}}, SHA256SUMS included."""
    if (release / ".build").exists():
        raise EarwitnessError(f"{release}: a build in progress (or killed): finish it before publishing")
    sums = release / CHECKSUMS
    if not sums.is_file():
        raise EarwitnessError(f"{release}: not a finished release (no {CHECKSUMS})")
    files, bad = {}, []
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if not safe_relative(name) or len(digest) != 64:
            raise EarwitnessError(f"{sums}: malformed line {line[:80]!r}")
        path = release / name
        if not path.is_file():
            bad.append(f"{name}: missing")
        elif sha256_of(path) != digest:
            bad.append(f"{name}: its sha256 is not the one {CHECKSUMS} lists (damaged or changed)")
        else:
            files[name] = {"sha256": digest, "size": path.stat().st_size}
    if bad:
        raise EarwitnessError(f"{release}: refusing to publish a damaged release:\n  " + "\n  ".join(bad))
    files[CHECKSUMS] = {"sha256": sha256_of(sums), "size": sums.stat().st_size}
    return files


def release_identity(release: Path) -> tuple[str, str]:
    """(name, version) from the dataset card's title, `# <name> <version>`, which build writes."""
    card = release / "README.md"
    body = card.read_text().split("---", 2)[-1] if card.is_file() else ""
    title = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), "")
    name, _, version = title.rpartition(" ")
    if not VERSION.match(version):
        raise EarwitnessError(f"{card}: no '# <name> <version>' title to take the release's version from")
    return name, version


def publish(release: str | Path, dest: str, settings: PublishConfig | None = None) -> PublishResult:
    settings, release, started = settings or PublishConfig(), Path(release), time.perf_counter()
    files = verified_files(release)
    name, version = release_identity(release)
    marker = {"format": MARKER_FORMAT, "name": name, "version": version, "earwitness": __version__, "files": files}
    total = sum(f["size"] for f in files.values())
    if dest.startswith("hf://"):
        copied = _publish_hub(release, dest, marker, settings.parallel)
    else:
        copied = _publish_fsspec(release, dest, marker, settings.parallel)
    target = redact(f"{dest.rstrip('/')}/{version}")
    return PublishResult(target, version, len(files), total, copied, time.perf_counter() - started)


def _filesystem(dest: str):
    try:
        from fsspec.core import url_to_fs

        return url_to_fs(dest)
    except ImportError as exc:
        raise EarwitnessError(
            f"{redact(dest)}: no filesystem for this scheme is installed ({exc}); pip install 'earwitness[cloud]'"
        ) from None
    except ValueError as exc:
        raise EarwitnessError(f"{redact(dest)}: {exc}") from None


def _publish_fsspec(release: Path, dest: str, marker: dict, parallel: int) -> int:
    fs, root = _filesystem(dest)
    root = root.rstrip("/")
    version, files = marker["version"], marker["files"]
    target = f"{root}/{version}"
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    if fs.exists(f"{target}/{MARKER}"):
        _update_index(fs, root, marker, local)  # an earlier run may have stopped just before it
        raise EarwitnessError(
            f"{redact(dest)}: version {version} is already published; a published version is never "
            "overwritten: set build.version to a new version, build, and publish that"
        )
    present = _claim(fs, target, marker, local, redact(f"{dest.rstrip('/')}/{version}"))
    to_copy = [n for n in sorted(files) if present.get(n) != files[n]["size"] and n != CHECKSUMS]

    def copy(name: str) -> None:
        try:
            _put(fs, release / name, f"{target}/{name}", local)
        except OSError as exc:
            raise EarwitnessError(
                f"{redact(dest)}/{version}: copying {name} failed ({exc}); not published: run the same command "
                "again to complete it"
            ) from None

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(copy, to_copy))
    if present.get(CHECKSUMS) != files[CHECKSUMS]["size"]:
        copy(CHECKSUMS)  # last of the release's files
        to_copy.append(CHECKSUMS)
    log.info(f"publish: copied {len(to_copy)} files, {len(files) - len(to_copy)} already in place")
    present = _sizes(fs, target)
    wrong = [n for n in sorted(files) if present.get(n) != files[n]["size"]]
    if wrong:
        raise EarwitnessError(
            f"{redact(dest)}/{version}: {len(wrong)} copies do not have the release's size (first: {wrong[0]}); "
            "not published: run the same command again"
        )
    _put_bytes(fs, f"{target}/{MARKER}", json.dumps(marker, indent=1, sort_keys=True).encode(), local)
    _update_index(fs, root, marker, local)
    with contextlib.suppress(OSError):  # only a note for an unfinished publish: harmless if it stays
        fs.rm_file(f"{target}/{PENDING}")
    return len(to_copy)


def _claim(fs, target: str, marker: dict, local: bool, where: str) -> dict[str, int]:
    """What is already at the target, once sure it is this very build's: PUBLISHING.json, written
    before the first copy, names the files, so an interrupted publish of another build of the same
    version (same sizes, other bytes) is never completed with this one's marker."""
    present = _sizes(fs, target)
    for leftover in [p for p in present if TEMP_MARK in p.rsplit("/", 1)[-1]]:
        fs.rm(f"{target}/{leftover}")  # what an interrupted copy to a local folder left
        del present[leftover]
    if PENDING in present:
        if json.loads(fs.cat_file(f"{target}/{PENDING}")).get("files") != marker["files"]:
            raise EarwitnessError(
                f"{where}: holds an unfinished publish of another build of this version; delete that folder "
                "or publish under a new version"
            )
    elif present:
        raise EarwitnessError(f"{where}: holds files that no earwitness publish put there; publish into an empty place")
    else:
        _put_bytes(fs, f"{target}/{PENDING}", json.dumps(marker, indent=1, sort_keys=True).encode(), local)
    return present


def _sizes(fs, folder: str) -> dict[str, int]:
    if not fs.exists(folder):
        return {}
    found = fs.find(folder, detail=True)
    prefix = folder.rstrip("/") + "/"
    return {p.split(prefix, 1)[-1]: info["size"] for p, info in found.items() if info.get("type") != "directory"}


def _put(fs, source: Path, path: str, local: bool) -> None:
    """Copy a local file; on a local destination under a temporary name, renamed into place."""
    if not local:
        fs.put_file(str(source), path)  # an object appears only once its upload completes
        return
    temp = f"{path}{TEMP_MARK}{uuid.uuid4().hex}"
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.put_file(str(source), temp)
    fs.mv(temp, path)


def _put_bytes(fs, path: str, data: bytes, local: bool) -> None:
    if not local:
        fs.pipe_file(path, data)
        return
    temp = f"{path}{TEMP_MARK}{uuid.uuid4().hex}"
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(temp, data)
    fs.mv(temp, path)


def _index_with(current: bytes | None, marker: dict) -> bytes:
    """releases.json with this version added: versions highest first, and the latest."""
    releases = json.loads(current)["releases"] if current else []
    entry = {
        "version": marker["version"],
        "name": marker["name"],
        "published": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "files": len(marker["files"]),
        "bytes": sum(f["size"] for f in marker["files"].values()),
    }
    releases = [r for r in releases if r["version"] != entry["version"]] + [entry]
    releases.sort(key=lambda r: version_key(r["version"]), reverse=True)
    return json.dumps({"format": 1, "latest": releases[0]["version"], "releases": releases}, indent=1).encode()


def _update_index(fs, root: str, marker: dict, local: bool) -> None:
    """One publisher at a time (the scheduled rebuild): a read, then a write of the whole index."""
    path = f"{root}/{INDEX}"
    current = fs.cat_file(path) if fs.exists(path) else None
    if current and any(r["version"] == marker["version"] for r in json.loads(current)["releases"]):
        return
    _put_bytes(fs, path, _index_with(current, marker), local)


def _publish_hub(release: Path, dest: str, marker: dict, parallel: int) -> int:
    """hf://datasets/<org>/<name>[/<folder>]: one commit holding every file, the marker and the
    index (a Hub commit is atomic, and large files already uploaded are not sent again).
    The token comes from HF_TOKEN or `hf auth login`. Not tested here: it needs the Hub."""
    from huggingface_hub import CommitOperationAdd, HfApi, HfFileSystem

    fs = HfFileSystem()
    root = dest.rstrip("/")
    resolved = fs.resolve_path(root)
    if not hasattr(resolved, "repo_id"):  # a Hub storage bucket, not a repository: no commits there
        return _publish_fsspec(release, dest, marker, parallel)
    version = marker["version"]
    if fs.exists(f"{root}/{version}/{MARKER}"):
        raise EarwitnessError(f"{redact(dest)}: version {version} is already published; it is never overwritten")
    prefix = "/".join(p for p in (resolved.path_in_repo, version) if p)
    index_path = "/".join(p for p in (resolved.path_in_repo, INDEX) if p)
    current = fs.cat_file(f"{root}/{INDEX}") if fs.exists(f"{root}/{INDEX}") else None
    operations = [CommitOperationAdd(f"{prefix}/{n}", str(release / n)) for n in sorted(marker["files"])]
    operations += [
        CommitOperationAdd(f"{prefix}/{MARKER}", json.dumps(marker, indent=1, sort_keys=True).encode()),
        CommitOperationAdd(index_path, _index_with(current, marker)),
    ]
    HfApi().create_commit(
        resolved.repo_id,
        operations,
        commit_message=f"earwitness release {version}",
        repo_type=resolved.repo_type,
        revision=resolved.revision,
    )
    return len(operations)
