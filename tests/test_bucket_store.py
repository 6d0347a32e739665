"""A clip store in a bucket: acquire writes it, verify and build read it, all through Beam's FileSystems.

No bucket can be reached from here, so a Beam filesystem of the project's own stands in for one
(`earwitness.testing_bucket`: `testbucket://` paths with no directories, kept in a local folder).
Like gs:// and s3://, neither PyAV nor ffmpeg can open its paths: verify and build must copy what
they read."""

import io
import json
import shutil
import tarfile

import av
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from earwitness.demo.clips import make_clip, tone_for
from earwitness.pipelines.acquire import run_acquire
from earwitness.pipelines.build import run_build
from earwitness.pipelines.config import Config
from earwitness.schemas import CANDIDATES, write_table

CLASSES = {"Dog": "/c/dog", "Cat": "/c/cat"}


@pytest.fixture
def bucket(tmp_path, monkeypatch):
    from earwitness import testing_bucket

    monkeypatch.setenv(testing_bucket.ROOT_ENV, str(tmp_path / "bucket"))
    return tmp_path / "bucket"


def test_acquire_verify_and_build_with_the_clip_store_in_a_bucket(tmp_path, bucket):
    pytest.importorskip("torch", reason="verify needs the verify extra (torch, transformers)")
    from earwitness.pipelines.verify import run_verify
    from earwitness.transforms.verifier.tiny import save_tiny_model

    rows = []
    for name, class_id in CLASSES.items():
        for i in range(2):
            ytid = f"{name.lower()}bucket{i}".ljust(11, "x")[:11]
            make_clip(tmp_path / "source" / f"{ytid}_000000.mp4", 4.2, frequency=tone_for(name))
            rows.append({"ytid": ytid, "start_ms": 0, "end_ms": 4000, "class_id": class_id, "class_name": name,
                         "labels": [class_id], "line": 1})  # fmt: skip
    candidates = str(write_table(pa.Table.from_pylist(rows), tmp_path / "eval.parquet", CANDIDATES))
    config = Config(name="bucket")
    config.acquire.source, config.acquire.clip_seconds = str(tmp_path / "source"), 4.0
    config.acquire.store = "testbucket://lab/clips"
    run = tmp_path / "run"

    # one clip is missing from the source at first: its failure is recorded in the bucket, then cleared
    late = tmp_path / "source" / f"{rows[-1]['ytid']}_000000.mp4"
    late.rename(tmp_path / "late.mp4")
    early = run_acquire(config, [candidates], run / "acquire", show_progress=False).clips.to_pylist()
    assert sorted(c["status"] for c in early) == ["failed", "ok", "ok", "ok"]
    failure = bucket / "lab" / "clips" / "_failed" / f"{rows[-1]['ytid']}_0.json"
    assert failure.is_file()
    (tmp_path / "late.mp4").rename(late)
    config.acquire.retry_permanent = True  # it was "unavailable", a permanent failure
    acquired = run_acquire(config, [candidates], run / "acquire", show_progress=False).clips.to_pylist()
    assert [c["status"] for c in acquired] == ["ok"] * 4 and not failure.exists()
    assert all(c["path"] == f"testbucket://lab/clips/{c['key']}.mp4" for c in acquired)
    assert sorted(p.name for p in (bucket / "lab" / "clips").glob("*.mp4")) == sorted(
        f"{c['key']}.mp4" for c in acquired
    )
    assert not list((run / "acquire").rglob("*.mp4"))  # nothing of the store on local disk

    # verify copies each clip to read it; one missing from the bucket for now is `unreadable`, asked again later
    config.verify.model = str(save_tiny_model(tmp_path / "model"))
    config.verify.threshold = 0.0
    config.verify.min_pixels, config.verify.max_pixels = 28 * 28 * 4, 112 * 112
    away = bucket / "lab" / "clips" / f"{acquired[0]['key']}.mp4"
    shutil.move(away, tmp_path / "away.mp4")
    first = {v["key"]: v for v in run_verify(config, run / "acquire", run / "verify").verdicts.to_pylist()}
    assert first[acquired[0]["key"]]["status"] == "failed"
    assert first[acquired[0]["key"]]["reason"].startswith("unreadable: the clip store cannot be read")
    assert all(v["status"] == "ok" and v["passed"] for k, v in first.items() if k != acquired[0]["key"])
    shutil.move(tmp_path / "away.mp4", away)
    again = run_verify(config, run / "acquire", run / "verify")
    assert again.asked == 1 and all(v["passed"] for v in again.verdicts.to_pylist())

    # build renders every variant from the bucket's clips, the swapped sound a donor's
    config.build.interventions = ["aligned", "swap", "mute"]
    config.build.options = {"swap": {"donors": 1}}
    result = run_build(config, run / "acquire", run / "release")
    stats = json.loads((run / "release" / "stats.json").read_text())
    assert stats["funnel"]["clips_verified"] == 4 and stats["funnel"]["variants_failed"] == 0
    samples = pq.read_table(run / "release" / "manifests" / "samples.parquet").to_pylist()
    assert len(samples) == 12 == result.samples.num_rows
    swap = next(s for s in samples if s["variant"] == "swap")
    with tarfile.open(run / "release" / swap["shard"]) as tar:
        data = tar.extractfile(f"{swap['key']}.mp4").read()
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video and container.streams.audio
        assert sum(1 for _ in container.decode(video=0)) > 0
    assert swap["audio_class"] != swap["visual_class"]
