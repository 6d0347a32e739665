"""acquire against a real HTTP server on 127.0.0.1: yt-dlp downloads, ffmpeg normalises, and every
clip ends as a row: stored and decodable, or failed with the right reason."""

import csv
import hashlib
import shutil
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pytest
from conftest import SHARED

from earwitness.demo.clips import make_clip
from earwitness.errors import EarwitnessError
from earwitness.pipelines.acquire import run_acquire
from earwitness.pipelines.config import Config
from earwitness.schemas import CANDIDATES, CLIPS, read_table, write_table
from earwitness.testing import MediaServer

TEMPLATE = "/{ytid}_{start_s:06d}.mp4"


def candidate(ytid: str, start_s: int = 0, class_name: str = "Dog") -> dict:
    return {
        "ytid": ytid, "start_ms": start_s * 1000, "end_ms": (start_s + 10) * 1000,
        "class_id": "/m/0bt9lr", "class_name": class_name, "labels": ["/m/0bt9lr"], "line": 1,
    }  # fmt: skip


def write_candidates(folder: Path, rows: list[dict], split: str = "eval") -> str:
    return str(write_table(pa.Table.from_pylist(rows), folder / f"{split}.parquet", CANDIDATES))


def config(source: str, **acquire) -> Config:
    settings = Config()
    settings.acquire.source = source
    settings.acquire.backoff_s = 0.01
    settings.acquire.max_attempts = 2
    for key, value in acquire.items():
        setattr(settings.acquire, key, value)
    return settings


def rows_by_key(result) -> dict:
    return {row["key"]: row for row in result.clips.to_pylist()}


def decode(path: str) -> tuple[np.ndarray, int, int, float]:
    """The audio as mono samples, the sample rate, the video frame count and the frame rate."""
    with av.open(path) as container:
        frames = sum(1 for _ in container.decode(video=0))
        fps = float(container.streams.video[0].average_rate)
    with av.open(path) as container:
        rate = container.streams.audio[0].sample_rate
        audio = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(audio=0)])
    return audio, rate, frames, fps


def no_leftovers(out: Path) -> None:
    store = out / "clips"
    names = [p.name for p in store.rglob("*") if p.is_file()]
    assert all(n.endswith((".mp4", ".json")) for n in names), names
    assert not (out / ".work").exists()


# Media the server offers. Names follow the URL template; ids are 11 characters.
GENERATED = {
    "good": ("GoodClip001", {}),
    "dash": ("-dashFirst1", {}),  # real ids begin with '-': never read as an option
    "rate": ("RateLimit01", {}),  # 429 once, then served
    "gone": ("NotThere001", None),  # never written: 404
    "boom": ("ServerErr01", {}),  # 500 every time
    "cut": ("CutTransfer", {}),  # the transfer stops a third of the way
    "trunc": ("Truncated01", {}),  # served whole, but the file itself is cut
    "mute": ("NoAudio0001", {"audio": False}),
    "still": ("NoVideo0001", {"video": False}),
    "short": ("TooShort001", {"seconds": 6.0}),
}
FAULTS = {"rate": "429-once", "boom": "500", "cut": "cut-transfer"}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    for name, (ytid, options) in GENERATED.items():
        if options is None:
            continue
        path = make_clip(folder / f"{ytid}_000000.mp4", **({"seconds": 11.0} | options))
        if name == "trunc":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    make_clip(folder / "LongVideo01_000000.mp4", 30.0, beep_at_s=13.0, frequency=1000)
    return folder


def serve(media: Path) -> MediaServer:
    faults = {f"{GENERATED[name][0]}_000000.mp4": fault for name, fault in FAULTS.items()}
    return MediaServer(media, faults)


def test_a_clip_is_cut_to_length_and_normalised(tmp_path, media):
    with serve(media) as server:
        result = run_acquire(
            config(server.url + TEMPLATE), [write_candidates(tmp_path, [candidate("GoodClip001")])], tmp_path / "out"
        )
    (row,) = result.clips.to_pylist()
    assert row["status"] == "ok" and row["attempts"] == 1
    audio, rate, frames, fps = decode(row["path"])
    assert (rate, row["channels"], row["width"], row["height"]) == (44100, 2, 160, 120)
    assert frames == round(10 * fps)  # 11 s of source, exactly 10 s kept
    assert abs(len(audio) - 10 * rate) <= 1024  # audio ends with the video, within one AAC frame
    assert np.abs(audio).max() > 0.3  # the swelling tone survived
    assert hashlib.sha256(Path(row["path"]).read_bytes()).hexdigest() == row["sha256"]
    assert read_table(tmp_path / "out" / "clips.parquet", CLIPS).num_rows == 1
    no_leftovers(tmp_path / "out")


def test_a_section_is_cut_from_a_whole_video_at_the_right_sample(tmp_path, media):
    """The source holds a 30 s video with a beep at 13.0 s; the segment starts at 12 s."""
    template = "/LongVideo01_000000.mp4?start={start_s}"
    with serve(media) as server:
        settings = config(server.url + template, source_holds="video", square=64)
        result = run_acquire(settings, [write_candidates(tmp_path, [candidate("LongVideo01", 12)])], tmp_path / "out")
    (row,) = result.clips.to_pylist()
    assert row["status"] == "ok", row["reason"]
    audio, rate, _, _ = decode(row["path"])
    onset = np.argmax(np.abs(audio) > 0.05) / rate
    assert abs(onset - 1.0) < 0.01, onset  # the beep, 13.0 s into the video, is 1.0 s into the clip
    assert (row["width"], row["height"]) == (64, 64)  # centre square crop
    assert abs(len(audio) / rate - 10.0) <= 1024 / rate


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "two-worker-processes"])
def test_every_failure_ends_as_a_row_with_its_reason(tmp_path, media, workers):
    ytids = [ytid for ytid, _ in GENERATED.values()] + ["abc/../defg", "..abcdefghi"]
    with serve(media) as server:
        settings = config(server.url + TEMPLATE)
        settings.beam.workers = workers
        result = run_acquire(settings, [write_candidates(tmp_path, [candidate(y) for y in ytids])], tmp_path / "out")
        hits = dict(server.hits)
    rows = {row["ytid"]: row for row in result.clips.to_pylist()}
    assert len(rows) == len(ytids)

    def outcome(name):
        row = rows[GENERATED[name][0]] if name in GENERATED else rows[name]
        return row["status"], (row["reason"] or "").split(":")[0], row["retryable"], row["attempts"]

    assert outcome("good")[:2] == ("ok", "")
    assert outcome("dash")[:2] == ("ok", "")
    assert outcome("rate") == ("ok", "", None, 2)
    assert outcome("gone") == ("failed", "unavailable", False, 1)
    assert outcome("boom") == ("failed", "server_error", True, 2)
    assert outcome("cut")[:3] == ("failed", "broken_transfer", True)
    assert outcome("trunc")[:3] == ("failed", "undecodable", False)
    assert outcome("mute")[:3] == ("failed", "no_audio", False)
    assert outcome("still")[:3] == ("failed", "no_video", False)
    assert outcome("short")[:3] == ("failed", "too_short", False)
    for bad in ("abc/../defg", "..abcdefghi"):
        assert outcome(bad) == ("failed", "invalid_id", False, 0)
    assert not [name for name in hits if ".." in name or "defg" in name]  # never reached the server
    assert result.counters["failed_invalid_id"] == 2 and result.counters["downloaded"] == 3
    no_leftovers(tmp_path / "out")


def test_a_rerun_downloads_nothing_twice_and_retries_only_transient_failures(tmp_path, media):
    ytids = [GENERATED[name][0] for name in ("good", "dash", "gone", "boom")]
    candidates = [write_candidates(tmp_path, [candidate(y) for y in ytids])]
    with serve(media) as server:
        first = run_acquire(config(server.url + TEMPLATE), candidates, tmp_path / "out")
        before = dict(server.hits)
        second = run_acquire(config(server.url + TEMPLATE), candidates, tmp_path / "out")
        after_second = dict(server.hits)
        third = run_acquire(config(server.url + TEMPLATE, retry_permanent=True), candidates, tmp_path / "out")
        after_third = dict(server.hits)
    name = {n: f"{GENERATED[n][0]}_000000.mp4" for n in ("good", "dash", "gone", "boom")}
    assert after_second[name["good"]] == before[name["good"]] and after_second[name["dash"]] == before[name["dash"]]
    assert after_second[name["gone"]] == before[name["gone"]]  # permanent: not asked again
    assert after_second[name["boom"]] > before[name["boom"]]  # transient: retried
    assert after_third[name["gone"]] > after_second[name["gone"]]  # unless permanent ones are asked for
    assert second.counters["skipped_stored"] == 2 and second.counters["skipped_failed_before"] == 1
    assert rows_by_key(second)["ServerErr01_0"]["attempts"] == 4  # attempts add up over runs
    assert rows_by_key(first)["GoodClip001_0"]["sha256"] == rows_by_key(third)["GoodClip001_0"]["sha256"]
    no_leftovers(tmp_path / "out")


@pytest.fixture(scope="module")
def real_clips() -> Path:
    folder = SHARED / "media" / "vggsounder"
    if not (folder / "labels.csv").exists():
        pytest.skip(f"the real clips are not at {folder} (set EARWITNESS_SHARED to the shared folder)")
    return folder


def test_the_real_youtube_clips_are_normalised_keeping_their_frame(tmp_path, real_clips):
    served = tmp_path / "served"
    served.mkdir()
    rows = list(csv.DictReader((real_clips / "labels.csv").open()))
    for row in rows:
        shutil.copy(real_clips / row["file"], served / row["file"])
    candidates = [candidate(r["ytid"], int(r["start_seconds"]), r["audioset_name"]) for r in rows]
    with MediaServer(served) as server:
        result = run_acquire(config(server.url + TEMPLATE), [write_candidates(tmp_path, candidates)], tmp_path / "out")
    assert result.count("ok") == len(rows) == 9
    for row in result.clips.to_pylist():
        with av.open(str(served / f"{row['ytid']}_{row['start_ms'] // 1000:06d}.mp4")) as source:
            size = (source.streams.video[0].codec_context.width, source.streams.video[0].codec_context.height)
        assert (row["width"], row["height"]) == size
        audio, rate, frames, fps = decode(row["path"])
        assert abs(frames - 10 * fps) <= 1 and abs(len(audio) - 10 * rate) <= 1024, row["key"]
    assert "-0pJqpNjft4_267000" in rows_by_key(result)


def test_a_run_killed_midway_resumes_without_downloading_a_stored_clip_again(tmp_path, media):
    import os
    import signal
    import subprocess
    import sys
    import time

    served = tmp_path / "served"
    served.mkdir()
    ytids = [f"Killed{i:05d}" for i in range(12)]
    for ytid in ytids:
        shutil.copy(media / "GoodClip001_000000.mp4", served / f"{ytid}_000000.mp4")
    candidates = write_candidates(tmp_path, [candidate(y) for y in ytids])
    out = tmp_path / "out"
    slow = {f"{y}_000000.mp4": "slow" for y in ytids}
    with MediaServer(served, slow, delay_s=0.3) as server:
        command = [sys.executable, "-m", "earwitness", "acquire", candidates, "--source", server.url + TEMPLATE]
        process = subprocess.Popen([*command, "--out", str(out)], start_new_session=True, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(list((out / "clips").glob("*.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        stored_before = {p.stem for p in (out / "clips").glob("*.json")}
        assert 3 <= len(stored_before) < len(ytids), "the run should be killed part-way"
        requests_before = dict(server.requests)
        result = run_acquire(config(server.url + TEMPLATE), [candidates], out)
        requests_after = dict(server.requests)
    assert result.count("ok") == len(ytids)
    assert result.counters["skipped_stored"] == len(stored_before)
    for key in stored_before:
        name = f"{key.rsplit('_', 1)[0]}_000000.mp4"
        assert requests_after[name] == requests_before[name], f"{key} was downloaded again"
    assert sorted(p.stem for p in (out / "clips").glob("*.mp4")) == sorted(f"{y}_0" for y in ytids)
    no_leftovers(out)


def test_changed_clip_settings_make_the_clip_again(tmp_path, media):
    candidates = [write_candidates(tmp_path, [candidate("GoodClip001")])]
    with serve(media) as server:
        run_acquire(config(server.url + TEMPLATE), candidates, tmp_path / "out")
        again = run_acquire(config(server.url + TEMPLATE, square=64), candidates, tmp_path / "out")
    (row,) = again.clips.to_pylist()
    assert (row["width"], row["height"]) == (64, 64) and "skipped_stored" not in again.counters


def test_a_wrong_ffmpeg_stops_the_run_before_any_clip_is_marked_failed(tmp_path, media):
    settings = config("http://127.0.0.1:9" + TEMPLATE)
    settings.media.ffmpeg = str(tmp_path / "no-such-ffmpeg")
    with pytest.raises(EarwitnessError, match="not an executable file"):
        run_acquire(settings, [write_candidates(tmp_path, [candidate("GoodClip001")])], tmp_path / "out")
    assert not (tmp_path / "out" / "clips").exists()


def test_a_broken_store_still_gives_every_candidate_a_row(tmp_path, media):
    (tmp_path / "a-file").write_text("not a folder")
    with serve(media) as server:
        settings = config(server.url + TEMPLATE, store=str(tmp_path / "a-file"))
        result = run_acquire(settings, [write_candidates(tmp_path, [candidate("GoodClip001")])], tmp_path / "out")
    (row,) = result.clips.to_pylist()
    assert row["status"] == "failed" and row["reason"].startswith("internal_error") and row["retryable"]


def test_credentials_in_a_source_url_stay_out_of_the_summary(tmp_path, media, monkeypatch):
    monkeypatch.setenv("EARWITNESS_PROXY", "http://user:hunter2@127.0.0.1:3128")
    with serve(media) as server:
        source = server.url.replace("http://", "http://bob:s3cret@") + TEMPLATE + "?token=abc"
        run_acquire(config(source), [write_candidates(tmp_path, [candidate("NotThere001")])], tmp_path / "out")
    everything = (tmp_path / "out" / "acquire.json").read_text() + str(
        read_table(tmp_path / "out" / "clips.parquet", CLIPS).to_pylist()
    )
    assert "s3cret" not in everything and "hunter2" not in everything and "token=abc" not in everything
    assert '"proxy": "(set)"' in everything


def test_the_pipeline_survives_beams_portable_job_api(tmp_path, media):
    """The protocol Flink's and Spark's job servers speak, run against an in-process job service."""
    with serve(media) as server:
        settings = config(server.url + TEMPLATE)
        settings.beam.runner = "PortableRunner"
        settings.beam.options = ["--job_endpoint=embed", "--environment_type=LOOPBACK"]
        candidates = [write_candidates(tmp_path, [candidate("GoodClip001"), candidate("NotThere001")])]
        result = run_acquire(settings, candidates, tmp_path / "out")
    assert [r["status"] for r in result.clips.to_pylist()] == ["ok", "failed"]
    assert result.counters.get("downloaded") == 1


def test_a_picture_that_needs_no_change_is_copied_not_re_encoded(tmp_path, media):
    def packets(path, limit_s=None):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return [
                bytes(p)
                for p in container.demux(stream)
                if p.size and (limit_s is None or p.pts * stream.time_base < limit_s)
            ]

    source = media / "GoodClip001_000000.mp4"
    with serve(media) as server:
        copied = run_acquire(
            config(server.url + TEMPLATE), [write_candidates(tmp_path, [candidate("GoodClip001")])], tmp_path / "a"
        )
        encoded = run_acquire(
            config(server.url + TEMPLATE, copy_video=False),
            [write_candidates(tmp_path, [candidate("GoodClip001")])],
            tmp_path / "b",
        )
    (fast,) = copied.clips.to_pylist()
    (slow,) = encoded.clips.to_pylist()
    assert packets(fast["path"]) == packets(source, limit_s=10.0)  # the same H.264, untouched
    assert packets(slow["path"]) != packets(source, limit_s=10.0)
    for row in (fast, slow):
        audio, rate, frames, fps = decode(row["path"])
        assert frames == round(10 * fps) and abs(len(audio) - 10 * rate) <= 1024


def test_a_split_without_candidates_gives_an_empty_clips_table(tmp_path):
    empty = str(write_table(CANDIDATES.schema.empty_table(), tmp_path / "eval.parquet", CANDIDATES))
    result = run_acquire(Config(), [empty], tmp_path / "acquire", show_progress=False)
    assert result.clips.num_rows == 0 and read_table(tmp_path / "acquire" / "clips.parquet", CLIPS).num_rows == 0
