"""build end to end on Beam: every variant checked by decoding it out of its shard, manifests and
shards agreeing both ways, loaders reading the shards, and a second build byte-identical."""

import hashlib
import json
import tarfile
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pytest
import yaml
from conftest import SHARED

from earwitness.demo.clips import make_clip, tone_for
from earwitness.errors import EarwitnessError
from earwitness.pipelines.acquire import run_acquire
from earwitness.pipelines.build import run_build
from earwitness.pipelines.config import Config
from earwitness.schemas import CANDIDATES, CLIPS, PREFERENCES, QA, SAMPLES, read_table, write_table
from earwitness.transforms.media import decode_audio
from earwitness.transforms.questions import NONE

CLASSES = {"Dog": "/c/dog", "Cat": "/c/cat", "Guitar": "/c/guitar", "Rain": "/c/rain"}
BEEP_AT_S = 3.0
WORK_SHARDS = Path(".build") / "shards"


def settings(**build) -> Config:
    config = Config(name="test-release")
    config.build.ambient_classes = [CLASSES["Rain"]]
    config.build.options = {"swap": {"donors": {"eval": 1, "*": 2}}}
    config.build.shard_samples = 3
    for key, value in build.items():
        setattr(config.build, key, value)
    return config


@pytest.fixture(scope="module")
def acquired(tmp_path_factory) -> Path:
    """Acquired clips from generated media: a beep at 3 s in each, so shifts can be measured."""
    root = tmp_path_factory.mktemp("acquired")
    candidates = []
    for split, count in (("eval", 2), ("balanced_train", 1)):
        rows = []
        for name, class_id in CLASSES.items():
            for i in range(count):
                ytid = f"{name[:4]}{split[:4]}{i:03d}"[:11].ljust(11, "x")
                make_clip(root / "source" / f"{ytid}_000000.mp4", 10.5, frequency=tone_for(name), beep_at_s=BEEP_AT_S)
                rows.append(
                    {
                        "ytid": ytid,
                        "start_ms": 0,
                        "end_ms": 10000,
                        "class_id": class_id,
                        "class_name": name,
                        "labels": [class_id],
                        "line": 1,
                    }
                )
        candidates.append(str(write_table(pa.Table.from_pylist(rows), root / f"{split}.parquet", CANDIDATES)))
    config = Config()
    config.acquire.source = str(root / "source")
    run_acquire(config, candidates, root / "acquire", show_progress=False)
    return root / "acquire"


@pytest.fixture(scope="module")
def release(acquired, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "release"
    run_build(settings(), acquired, out)
    return out


def samples_of(release: Path) -> dict[str, dict]:
    return {s["key"]: s for s in read_table(release / "manifests" / "samples.parquet", SAMPLES).to_pylist()}


def media_of(release: Path, sample: dict, folder: Path) -> str:
    with (release / sample["shard"]).open("rb") as handle:
        handle.seek(sample["offset"])
        data = handle.read(sample["size"])
    assert hashlib.sha256(data).hexdigest() == sample["sha256"]
    path = folder / f"{sample['key']}.mp4"
    path.write_bytes(data)
    return str(path)


def test_every_manifest_row_is_in_its_tar_and_every_member_in_the_manifest(release):
    samples = samples_of(release)
    members: dict[str, set[str]] = {}
    for tar_path in release.rglob("*.tar"):
        shard = tar_path.relative_to(release).as_posix()
        with tarfile.open(tar_path) as tar:
            for member in tar.getmembers():
                key, extension = member.name.split(".", 1)
                members.setdefault(key, set()).add(extension)
                assert samples[key]["shard"] == shard, member.name
                if extension == "json":
                    label = json.loads(tar.extractfile(member).read())
                    assert (label["visual_class"], label["audio_class"]) == (
                        samples[key]["visual_class"],
                        samples[key]["audio_class"],
                    )
    assert set(members) == set(samples) and all(ext == {"mp4", "json"} for ext in members.values())
    assert all("." not in key for key in samples)
    variants = {s["variant"] for s in samples.values()}
    assert variants == {"aligned", "swap", "shift", "mute", "no_audio", "black_frames", "ambient"}


def test_each_variant_is_what_it_says_when_decoded(release, tmp_path):
    samples = samples_of(release)
    for key, sample in samples.items():
        path = media_of(release, sample, tmp_path)
        params = json.loads(sample["params"])
        aligned = samples[f"{sample['clip_key']}_aligned"]
        if sample["variant"] in ("swap", "ambient"):
            borrowed = params.get("donor") or params["ambient"]
            donor_audio, _ = decode_audio(media_of(release, samples[f"{borrowed}_aligned"], tmp_path))
            audio, _ = decode_audio(path)
            assert np.array_equal(audio, donor_audio[:, : audio.shape[1]]), key
            assert sample["audio_class"] != sample["visual_class"]
        elif sample["variant"] == "shift":
            audio, rate = decode_audio(path)
            onset = int(np.argmax(np.abs(audio[0]) > 0.05))
            original, _ = decode_audio(media_of(release, aligned, tmp_path))
            assert abs(onset - (int(np.argmax(np.abs(original[0]) > 0.05)) + params["offset_samples"])) <= 2, key
        elif sample["variant"] == "mute":
            audio, rate = decode_audio(path)
            assert np.abs(audio).max() == 0.0 and abs(audio.shape[1] - 10 * rate) <= 1024
        elif sample["variant"] == "no_audio":
            with av.open(path) as container:
                assert not container.streams.audio
        elif sample["variant"] == "black_frames":
            with av.open(path) as container:
                assert max(int(f.to_ndarray(format="rgb24").max()) for f in container.decode(video=0)) <= 2
            assert np.array_equal(decode_audio(path)[0], decode_audio(media_of(release, aligned, tmp_path))[0])


def test_donors_come_from_the_clips_own_split_and_no_clip_is_in_two_splits(release):
    samples = samples_of(release)
    for sample in samples.values():
        params = json.loads(sample["params"])
        borrowed = params.get("donor") or params.get("ambient")
        if borrowed:
            assert samples[f"{borrowed}_aligned"]["split"] == sample["split"]
    splits_of = {}
    for s in samples.values():
        splits_of.setdefault(s["ytid"], set()).add(s["split"])
    assert all(len(v) == 1 for v in splits_of.values())
    assert sum(1 for s in samples.values() if s["variant"] == "swap" and s["split"] == "balanced_train") == 2 * 4


def test_every_question_is_answered_by_how_its_variant_was_made(release):
    samples = samples_of(release)
    qa = read_table(release / "manifests" / "qa.parquet", QA).to_pylist()
    kinds = {q["kind"] for q in qa}
    assert kinds == {"class", "class_caption", "class_long", "probe", "sync", "match"}
    for q in qa:
        s = samples[q["key"]]
        assert q["answer"] in q["options"], q["qid"]
        if q["kind"].startswith("class"):
            truth = s["visual_class"] if q["modality"] == "visual" else s["audio_class"]
            assert q["answer"] == (truth or NONE), q["qid"]
        elif q["kind"] == "probe":
            name = (
                q["question"]
                .removeprefix("Is the sound of ")
                .removeprefix("Is ")
                .split(" audible")[0]
                .split(" visible")[0]
            )
            truth = s["audio_class"] if q["modality"] == "audio" else s["visual_class"]
            assert q["answer"] == ("yes" if name == truth else "no"), q["qid"]
        elif q["kind"] == "sync":
            direction = json.loads(s["params"]).get("direction")
            assert q["answer"] == {"delayed": "audio delayed", "early": "audio early", None: "synchronised"}[direction]
        elif q["kind"] == "match":
            assert q["answer"] == ("yes" if s["audio_class"] == s["visual_class"] else "no")
    caption = next(q for q in qa if q["kind"] == "class_caption")
    wrong = caption["question"].split("Video_caption: ")[1].split(".")[0]
    assert wrong not in (samples[caption["key"]]["visual_class"], samples[caption["key"]]["audio_class"])
    pairs = read_table(release / "manifests" / "preferences.parquet", PREFERENCES).to_pylist()
    assert {p["kind"] for p in pairs} == {"audio_attribution", "audio_sensitivity", "swap", "shift", "mute"}
    for p in pairs:
        if p["kind"] == "audio_attribution":
            s = samples[p["chosen_key"]]
            assert (p["chosen"], p["rejected"]) == (s["audio_class"], s["visual_class"])
        if p["kind"] == "audio_sensitivity":
            assert samples[p["chosen_key"]]["variant"] == "aligned" and samples[p["rejected_key"]]["variant"] == "swap"


def test_webdataset_and_hf_datasets_read_the_shards(release):
    import webdataset as wds
    from datasets import Video, load_dataset

    samples = samples_of(release)
    tars = sorted(str(p) for p in (release / "eval" / "swap").glob("*.tar"))
    seen = {s["__key__"]: json.loads(s["json"]) for s in wds.WebDataset(tars, shardshuffle=False)}
    expected = {k for k, s in samples.items() if (s["split"], s["variant"]) == ("eval", "swap")}
    assert set(seen) == expected and all(seen[k]["audio_class"] == samples[k]["audio_class"] for k in seen)
    dataset = load_dataset("webdataset", data_files={"eval": tars}, split="eval").cast_column(
        "mp4", Video(decode=False)
    )
    assert dataset.num_rows == len(expected)
    assert {row["__key__"] for row in dataset} == expected


def test_the_release_files_are_complete_and_checksummed(release):
    lines = (release / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in lines}
    on_disk = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert set(listed) == on_disk
    assert all(hashlib.sha256((release / name).read_bytes()).hexdigest() == digest for name, digest in listed.items())
    card = (release / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert {c["config_name"] for c in front["configs"]} == {
        "aligned",
        "swap",
        "shift",
        "mute",
        "no_audio",
        "black_frames",
        "ambient",
    }
    index = json.loads((release / "index" / "eval-swap.json").read_text())
    assert index["__kind__"] == "wids-shard-index-v1"
    for shard in index["shardlist"]:
        data = (release / "index" / shard["url"]).resolve().read_bytes()
        assert hashlib.md5(data).hexdigest() == shard["md5sum"] and len(data) == shard["filesize"]
    report = (release / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 7 and report.count("<polygon") >= 7
    exported = [json.loads(line) for line in (release / "exports" / "qa.jsonl").read_text().splitlines()]
    assert len(exported) == len(read_table(release / "manifests" / "qa.parquet", QA))
    assert exported[0]["messages"][0]["content"].startswith("<video>") and exported[0]["videos"]


def test_a_second_build_with_two_worker_processes_is_byte_identical(acquired, release, tmp_path):
    config = settings()
    config.beam.workers = 2
    again = tmp_path / "again"
    run_build(config, acquired, again)
    assert (again / "SHA256SUMS").read_text() == (release / "SHA256SUMS").read_text()


def test_the_real_clips_build_into_a_release(tmp_path):
    folder = SHARED / "media" / "vggsounder"
    if not (folder / "labels.csv").exists():
        pytest.skip(f"the real clips are not at {folder} (set EARWITNESS_SHARED to the shared folder)")
    import csv

    rows = [
        {"ytid": r["ytid"], "start_ms": int(r["start_seconds"]) * 1000, "end_ms": int(r["end_seconds"]) * 1000,
         "class_id": r["audioset_mid"], "class_name": r["audioset_name"], "labels": [r["audioset_mid"]], "line": 1}
        for r in csv.DictReader((folder / "labels.csv").open())
    ]  # fmt: skip
    candidates = str(write_table(pa.Table.from_pylist(rows), tmp_path / "eval.parquet", CANDIDATES))
    config = Config()
    config.acquire.source = str(folder)
    run_acquire(config, [candidates], tmp_path / "acquire", show_progress=False)
    config.build.interventions = ["aligned", "swap", "black_frames", "mute"]
    result = run_build(config, tmp_path / "acquire", tmp_path / "release")
    assert len(result.samples) == 9 * 4 and not result.failed
    black = next(s for s in result.samples.to_pylist() if s["variant"] == "black_frames" and s["ytid"] == "-0pJqpNjft4")
    path = media_of(tmp_path / "release", black, tmp_path)
    with av.open(path) as container:
        assert (container.streams.video[0].codec_context.width, container.streams.video[0].codec_context.height) == (
            1280,
            720,
        )


def test_a_build_killed_midway_resumes_keeping_the_shards_it_finished(acquired, release, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "build.yaml"
    config.write_text(
        "name: test-release\n"
        "build:\n  shard_samples: 3\n  ambient_classes: [/c/rain]\n  options: {swap: {donors: {eval: 1, '*': 2}}}\n"
    )
    out = tmp_path / "resumed"
    command = [sys.executable, "-m", "earwitness", "build", str(acquired), "--out", str(out), "-c", str(config)]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list((out / WORK_SHARDS).rglob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    recorded = {
        p.relative_to(out / WORK_SHARDS).as_posix().removesuffix(".json") for p in (out / WORK_SHARDS).rglob("*.json")
    }
    finished = {out / name: (out / name).stat().st_mtime_ns for name in recorded}
    assert 3 <= len(finished) < len(list(release.rglob("*.tar"))), "the build should be killed part-way"
    run_build(settings(), acquired, out)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in finished.items())  # not written again
    assert (out / "SHA256SUMS").read_text() == (release / "SHA256SUMS").read_text()
    assert not (out / ".build").exists()


def test_the_build_survives_beams_portable_job_api_byte_for_byte(acquired, release, tmp_path):
    config = settings()
    config.beam.runner = "PortableRunner"
    config.beam.options = ["--job_endpoint=embed", "--environment_type=LOOPBACK"]
    run_build(config, acquired, tmp_path / "portable")
    assert (tmp_path / "portable" / "SHA256SUMS").read_text() == (release / "SHA256SUMS").read_text()


def with_clips(acquired: Path, folder: Path, change) -> Path:
    """A copy of the clips table with some rows changed by `change(rows)`."""
    rows = read_table(acquired / "clips.parquet", CLIPS).to_pylist()
    change(rows)
    folder.mkdir(parents=True, exist_ok=True)
    write_table(pa.Table.from_pylist(rows, schema=CLIPS.schema), folder / "clips.parquet", CLIPS)
    return folder


def test_a_corrupt_clip_costs_only_its_variants_and_the_build_stays_deterministic(acquired, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00" * 1000)

    def break_one(rows):
        rows[0]["path"] = str(corrupt)

    clips = with_clips(acquired, tmp_path / "clips", break_one)
    first = run_build(settings(), clips, tmp_path / "a")
    second = run_build(settings(), clips, tmp_path / "b")
    broken = read_table(clips / "clips.parquet", CLIPS).to_pylist()[0]["key"]
    failed = {f["key"] for f in first.failed}
    assert {k for k in failed if k.startswith(broken)} == {v for v in failed if v.startswith(broken)} != set()
    assert f"{broken}_aligned" in failed  # even a plain copy of it is checked, and refused
    for key, sample in samples_of(tmp_path / "a").items():
        assert sample["clip_key"] != broken and broken not in sample["params"], key
    assert " @ 0x" not in json.dumps(first.failed) and str(tmp_path) not in json.dumps(first.failed)
    assert (tmp_path / "a" / "SHA256SUMS").read_text() == (tmp_path / "b" / "SHA256SUMS").read_text()
    assert len(second.samples) == len(first.samples)
    assert all(p.stat().st_size > 10240 for p in (tmp_path / "a").rglob("*.tar"))  # no empty shard


def test_nothing_to_build_and_a_finished_release_are_refused(acquired, release, tmp_path):
    from earwitness.errors import EarwitnessError

    def fail_all(rows):
        for row in rows:
            row["status"] = "failed"

    with pytest.raises(EarwitnessError, match="no clip was acquired"):
        run_build(settings(), with_clips(acquired, tmp_path / "failed", fail_all), tmp_path / "out")
    with pytest.raises(EarwitnessError, match="not empty and not a build in progress"):
        run_build(settings(), acquired, release)


def test_what_could_not_be_made_is_counted_and_exports_name_each_medium(release):
    stats = json.loads((release / "stats.json").read_text())
    assert stats["funnel"]["ambient_not_possible"] == 3  # the Rain clips: no other ambient class to borrow
    samples = samples_of(release)
    for line in (release / "exports" / "qa.jsonl").read_text().splitlines():
        record = json.loads(line)
        sample = samples[record["id"].split("-", 1)[0]]
        has_audio = sample["variant"] != "no_audio"
        assert sample["has_audio"] == has_audio
        content = record["messages"][0]["content"]
        assert content.startswith("<video>") and content.startswith("<video><audio>") == has_audio
        assert len(record["audios"]) == has_audio


def test_two_classes_leave_no_wrong_caption_and_still_give_questions(acquired):
    from earwitness.transforms.interventions import Clip, Variant
    from earwitness.transforms.questions import QuestionSet

    clip = Clip("abcdefghijk_0", "eval", "/c/dog", "Dog", "x.mp4")
    variant = Variant("abcdefghijk_0_swap0", clip, "swap", {}, "Cat", "Dog")
    rows = QuestionSet(("Cat", "Dog")).for_variant(variant)
    assert {r["kind"] for r in rows} == {"class", "class_long", "probe", "match"}


def test_checksums_skip_only_the_releases_own_work_folder(tmp_path):
    from earwitness.pipelines.release import write_checksums

    out = tmp_path / ".build" / "release"
    (out / "eval").mkdir(parents=True)
    (out / "eval" / "a.tar").write_bytes(b"x")
    (out / ".build").mkdir()
    (out / ".build" / "scratch").write_bytes(b"y")
    write_checksums(out)
    assert [line.split("  ")[1] for line in (out / "SHA256SUMS").read_text().splitlines()] == ["eval/a.tar"]


def test_the_build_takes_only_clips_the_verifier_passed_and_annotators_accepted(acquired, tmp_path):
    from earwitness.pipelines.build import accepted_clips
    from earwitness.schemas import CONSENSUS, VERDICTS

    run = tmp_path / "run"
    (run / "acquire").mkdir(parents=True)
    clips = read_table(acquired / "clips.parquet", CLIPS)
    write_table(clips, run / "acquire" / "clips.parquet", CLIPS)
    ok = sorted((r for r in clips.to_pylist() if r["status"] == "ok"), key=lambda r: r["key"])
    passed, failed, stale, unjudged = ok[0], ok[1], ok[2], ok[3]
    verdicts = [
        {"key": r["key"], "sha256": sha, "class_id": r["class_id"], "class_name": r["class_name"], "model": "m",
         "prompt_version": "v1", "threshold": 0.5, "skipped": [], "passed": good, "status": "ok",
         "prefill_tokens": 1, "naive_tokens": 4, "reason": None, "first_failed": None if good else "audio_black"}
        | dict.fromkeys(["visual_muted", "audio_black", "visual_full", "audio_full"], 0.9 if good else 0.1)
        for r, sha, good in [(passed, passed["sha256"], True), (failed, failed["sha256"], False),
                             (stale, "0" * 64, True)] + [(r, r["sha256"], True) for r in ok[4:]]
    ]  # fmt: skip
    write_table(pa.Table.from_pylist(verdicts), run / "verify" / "verdicts.parquet", VERDICTS)

    def keys(**build) -> set[str]:
        return {c.key for c in accepted_clips(run / "acquire", settings(**build).build)[0]}

    verified = {passed["key"]} | {r["key"] for r in ok[4:]}
    assert keys() == verified  # 'auto' finds verify/ beside the clips folder
    assert unjudged["key"] not in keys() and stale["key"] not in keys()
    assert keys(verdicts="off") == {r["key"] for r in ok}

    consensus = [
        {"key": r["key"], "sha256": r["sha256"], "task_id": i, "status": "accepted" if i % 2 == 0 else "rejected",
         "accepted": i % 2 == 0,
         "annotations": 2, "visible_passes": 2, "dominant_passes": 2, "action_passes": 2 * (i % 2 == 0),
         "annotators": ["1", "2"], "comment": None}
        for i, r in enumerate(ok)
    ]  # fmt: skip
    consensus[4]["sha256"] = "0" * 64  # annotators accepted another version of this clip
    write_table(pa.Table.from_pylist(consensus), tmp_path / "elsewhere.parquet", CONSENSUS)
    both = keys(consensus=str(tmp_path / "elsewhere.parquet"))
    assert ok[4]["key"] in verified and ok[4]["key"] not in both
    assert both == {r["key"] for i, r in enumerate(ok) if i % 2 == 0 and i != 4} & verified
    _, funnel = accepted_clips(run / "acquire", settings(consensus=str(tmp_path / "elsewhere.parquet")).build)
    assert funnel["clips_verified"] == len(verified) and funnel["clips_accepted"] == len(both)
    with pytest.raises(EarwitnessError, match="no such consensus table"):
        keys(consensus=str(tmp_path / "missing.parquet"))
