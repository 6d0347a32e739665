"""acquire (Beam): candidates -> download each segment -> normalise -> clip store -> clips table.

    ReadFromParquet(candidates) | Reshuffle | ParDo(AcquireClip) | WriteToParquet(rows)

then the driver merges the rows into DIR/clips.parquet. Re-running skips every clip already
stored, retries transient failures (429, 5xx, timeouts, broken transfers) and leaves permanent
ones (unavailable, private, removed, no audio, no video, too short, undecodable) alone unless
asked. Nothing half-written survives: clips are renamed into place, scratch folders are removed
per clip and swept at the start and end of every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from earwitness.errors import EarwitnessError
from earwitness.ids import clip_key
from earwitness.ontology.segments import split_name
from earwitness.pipelines.config import AcquireConfig, Config
from earwitness.pipelines.runners import describe, pipeline_options, staged_rows
from earwitness.schemas import CANDIDATES, CLIPS, read_table, write_table
from earwitness.storage import ClipStore, redact, write_json
from earwitness.transforms.ffmpeg import ffmpeg_binary
from earwitness.transforms.normalise import ClipSpec, normalise
from earwitness.transforms.probe import Undecodable, probe
from earwitness.transforms.sources import (
    AcquireFailure,
    DownloadOptions,
    Segment,
    check_ytid,
    make_source,
    remove_tree,
)

log = logging.getLogger(__name__)
NAMESPACE = "acquire"
SHORT_TOLERANCE_S = 0.05  # a source this much short of the length is padded, not rejected


@dataclass(frozen=True)
class AcquireJob:
    """Everything a worker needs, small and picklable (Dataflow, Flink and Spark ship it)."""

    store: str
    scratch: str  # local folder for downloads in flight, one subfolder per clip
    source: str
    holds: str | None
    download: DownloadOptions
    spec: ClipSpec
    max_attempts: int = 4
    backoff_s: float = 2.0
    backoff_max_s: float = 120.0
    retry_permanent: bool = False
    min_interval_s: float = 0.0
    progress: str | None = None  # a local folder where each finished clip drops a marker

    @property
    def spec_id(self) -> str:
        """Stored clips made with other settings are not reused: the record carries this."""
        settings = {k: v for k, v in asdict(self.spec).items() if k != "ffmpeg"}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class AcquireClip(beam.DoFn):
    """One candidate in, one clips-table row out, whatever happens."""

    def __init__(self, job: AcquireJob):
        self.job = job
        self.downloaded = Metrics.counter(NAMESPACE, "downloaded")
        self.skipped = Metrics.counter(NAMESPACE, "skipped_stored")
        self.skipped_failed = Metrics.counter(NAMESPACE, "skipped_failed_before")
        self.retries = Metrics.counter(NAMESPACE, "retries")

    def setup(self) -> None:
        self.source = make_source(self.job.source, self.job.download, self.job.holds)
        self.store = ClipStore(self.job.store)
        self._last_download = 0.0

    def process(self, candidate: dict) -> Iterator[dict]:
        try:
            yield self._row(candidate)
        except Exception as exc:  # the store itself failing: still a row, never a lost candidate
            yield self._failed(_base(candidate), _internal(exc), attempts=0, record=False)
        finally:
            if self.job.progress:
                Path(self.job.progress, uuid.uuid4().hex).touch()

    def _row(self, candidate: dict) -> dict:
        segment = Segment(candidate["ytid"], candidate["start_ms"], candidate["end_ms"])
        row = _base(candidate)
        try:
            check_ytid(segment)  # before the key is used in any path
        except AcquireFailure as failure:
            return self._failed(row, failure, attempts=0, record=False)
        stored = self.store.record(row["key"])
        if stored and stored.get("spec") == self.job.spec_id:
            self.skipped.inc()
            return row | _clip_fields(stored) | {"status": "ok", "path": self.store.path(row["key"])}
        previous = self.store.failure(row["key"]) or {}
        if previous and not previous.get("retryable") and not self.job.retry_permanent:
            self.skipped_failed.inc()
            return row | {
                "status": "failed",
                "reason": previous["reason"],
                "retryable": False,
                "attempts": previous["attempts"],
            }
        attempts = previous.get("attempts", 0)
        for attempt in range(self.job.max_attempts):
            attempts += 1
            try:
                stored = self._acquire(segment, row["key"], attempts)
            except Exception as exc:  # whatever happens, the candidate ends as a row
                failure = exc if isinstance(exc, AcquireFailure) else _internal(exc)
                if not failure.transient or attempt + 1 == self.job.max_attempts:
                    return self._failed(row, failure, attempts)
                self.retries.inc()
                time.sleep(min(self.job.backoff_max_s, self.job.backoff_s * 2**attempt) * random.uniform(0.8, 1.2))
                continue
            self.store.clear_failure(row["key"])
            self.downloaded.inc()
            return row | _clip_fields(stored) | {"status": "ok", "path": self.store.path(row["key"])}
        raise AssertionError("unreachable: the loop returns")

    def _failed(self, row: dict, failure: AcquireFailure, attempts: int, record: bool = True) -> dict:
        Metrics.counter(NAMESPACE, f"failed_{failure.code}").inc()
        reason = str(failure)
        if record:
            self.store.put_failure(row["key"], {"reason": reason, "retryable": failure.transient, "attempts": attempts})
        return row | {"status": "failed", "reason": reason, "retryable": failure.transient, "attempts": attempts}

    def _acquire(self, segment: Segment, key: str, attempts: int) -> dict:
        Path(self.job.scratch).mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=self.job.scratch))
        try:
            self._pace()
            fetched = self.source.fetch(segment, workdir)
            try:
                source = probe(fetched.path, decode_check=True)
            except Undecodable as exc:
                raise AcquireFailure("undecodable", str(exc)) from None
            if not source.has_video:
                raise AcquireFailure("no_video", "the source has no video stream")
            if not source.has_audio:
                raise AcquireFailure("no_audio", "the source has no audio stream")
            available = source.duration_s - fetched.offset_s
            if available < self.job.spec.seconds - SHORT_TOLERANCE_S:
                raise AcquireFailure("too_short", f"{available:.2f} s of media, {self.job.spec.seconds:g} s needed")
            clip = workdir / f"clip.{self.job.spec.container}"
            try:
                info = normalise(fetched.path, clip, self.job.spec, fetched.offset_s, source)
            except EarwitnessError as exc:  # the source decoded, so this is ffmpeg, the disk or time
                raise AcquireFailure("normalise_failed", str(exc), transient=True) from None
            record = info.as_dict() | {
                "bytes": clip.stat().st_size,
                "sha256": hashlib.sha256(clip.read_bytes()).hexdigest(),
                "attempts": attempts,
                "spec": self.job.spec_id,
            }
            self.store.put(key, clip, record)
            return record
        finally:
            remove_tree(workdir)

    def _pace(self) -> None:
        wait = self._last_download + self.job.min_interval_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_download = time.monotonic()


def _base(candidate: dict) -> dict:
    row = {k: candidate[k] for k in ("split", "ytid", "start_ms", "end_ms", "class_id", "class_name")}
    return row | {"key": clip_key(candidate["ytid"], candidate["start_ms"])}


def _internal(exc: Exception) -> AcquireFailure:
    return AcquireFailure("internal_error", f"{type(exc).__name__}: {exc}"[:300], transient=True)


def _clip_fields(record: dict) -> dict:
    return {
        k: record.get(k)
        for k in ("bytes", "sha256", "duration_s", "width", "height", "fps", "sample_rate", "channels", "attempts")
    }


@dataclass
class AcquireResult:
    out: Path
    clips: pa.Table
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for s in self.clips["status"].to_pylist() if s == status)


def run_acquire(
    config: Config, candidate_files: list[str], out: str | Path, limit: int | None = None, show_progress: bool = True
) -> AcquireResult:
    settings = config.acquire
    out = Path(out)
    ffmpeg_binary(config.media.ffmpeg)  # a wrong setting stops here, not as a failure per clip
    candidates = _load_candidates(candidate_files, limit)
    store = ClipStore(settings.store or str(out / "clips"))
    scratch, progress = out / ".work" / "scratch", out / ".work" / "progress"
    _reset(out / ".work")
    progress.mkdir(parents=True)
    store.sweep_temporaries()
    rows_prefix = out / ".work" / "rows" / "part"
    job = _job(config, store.root, scratch, progress)
    log.info(f"acquire: {len(candidates):,} candidates -> {redact(store.root)} ({describe(config.beam)})")

    pipeline = beam.Pipeline(options=pipeline_options(config.beam))
    _ = (
        pipeline
        | "Candidates"
        >> beam.io.ReadFromParquet(staged_rows(candidates, out / ".work" / "candidates.parquet", WORK_ROW))
        | "Spread over workers" >> beam.Reshuffle()
        | "Download and normalise" >> beam.ParDo(AcquireClip(job))
        | "Write rows" >> beam.io.WriteToParquet(str(rows_prefix), CLIPS.schema, file_name_suffix=".parquet")
    )
    with _Progress(progress, len(candidates), show_progress):
        result = pipeline.run()
        result.wait_until_finish()

    clips = _merge_rows(rows_prefix.parent)
    write_table(clips, out / "clips.parquet", CLIPS)
    counters = _counters(result)
    _reset(out / ".work", recreate=False)
    store.sweep_temporaries()
    outcome = AcquireResult(out, clips, counters)
    _write_summary(out / "acquire.json", outcome, settings, candidate_files)
    return outcome


def _job(config: Config, store: str, scratch: Path, progress: Path) -> AcquireJob:
    s = config.acquire
    spec = ClipSpec(
        seconds=s.clip_seconds,
        fps=s.fps,
        square=s.square,
        sample_rate=s.sample_rate,
        channels=s.channels,
        crf=s.crf,
        preset=s.preset,
        copy_video=s.copy_video,
        ffmpeg=config.media.ffmpeg,
    )
    download = DownloadOptions(
        format=s.format,
        timeout_s=s.timeout_s,
        rate_limit=s.rate_limit,
        cookies=s.cookies,
        proxy=proxy_from(s.proxy),
        ffmpeg=config.media.ffmpeg,
    )
    return AcquireJob(
        store=store,
        scratch=str(scratch),
        source=s.source,
        holds=s.source_holds,
        download=download,
        spec=spec,
        max_attempts=s.max_attempts,
        backoff_s=s.backoff_s,
        backoff_max_s=s.backoff_max_s,
        retry_permanent=s.retry_permanent,
        min_interval_s=s.min_interval_s,
        progress=str(progress) if config.beam.local else None,
    )


def proxy_from(configured: str | None) -> str | None:
    """A proxy with credentials comes from EARWITNESS_PROXY, so that it never sits in a config file."""
    import os

    return os.environ.get("EARWITNESS_PROXY") or configured


# a candidate as the pipeline reads it: prune's row without what acquire does not use, with its split
WORK_ROW = pa.schema(
    [f for f in CANDIDATES.schema if f.name not in ("labels", "line")] + [pa.field("split", pa.string())]
)


def _load_candidates(files: list[str], limit: int | None) -> list[dict]:
    if not files:
        raise EarwitnessError("name at least one candidates file (prune's candidates/<split>.parquet)")
    rows = []
    for path in files:
        table = read_table(path, CANDIDATES).drop_columns(["labels", "line"])
        if limit is not None:
            table = table.slice(0, limit)
        split = split_name(Path(path).stem)
        rows += [r | {"split": split} for r in table.to_pylist()]
    return rows


def _merge_rows(folder: Path) -> pa.Table:
    parts = sorted(folder.glob("*.parquet"))
    tables = [pq.read_table(p, schema=CLIPS.schema) for p in parts]
    merged = pa.concat_tables(tables) if tables else CLIPS.schema.empty_table()
    return merged.sort_by([("split", "ascending"), ("key", "ascending")])


def _counters(result: beam.runners.runner.PipelineResult) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    totals: dict[str, int] = {}
    for counter in query["counters"]:
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + int(counter.committed or 0)
    return dict(sorted(totals.items()))


def _write_summary(path: Path, result: AcquireResult, settings: AcquireConfig, inputs: list[str]) -> None:
    reasons: dict[str, int] = {}
    for row in result.clips.filter(pa.compute.equal(result.clips["status"], "failed")).to_pylist():
        code = row["reason"].split(":", 1)[0]
        reasons[code] = reasons.get(code, 0) + 1
    proxy = "(set)" if proxy_from(settings.proxy) else None
    store = redact(settings.store) if settings.store else None
    shown = settings.model_dump(mode="json") | {"proxy": proxy, "source": redact(settings.source), "store": store}
    summary = {
        "inputs": inputs,
        "clips": len(result.clips),
        "ok": result.count("ok"),
        "failed": result.count("failed"),
        "failed_by_reason": dict(sorted(reasons.items())),
        "counters": result.counters,
        "config": shown,
    }
    write_json(path, summary)


def _reset(folder: Path, recreate: bool = True) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    if recreate:
        folder.mkdir(parents=True)


class _Progress:
    """A progress line for local runs, counted from the markers workers drop."""

    def __init__(self, folder: Path, total: int, enabled: bool):
        self.folder, self.total, self.enabled = folder, total, enabled and total > 0
        self._stop = threading.Event()

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()

    def _run(self) -> None:
        tty, shown = sys.stderr.isatty(), -1
        while not self._stop.wait(0.5 if tty else 10):
            done = sum(1 for _ in self.folder.iterdir()) if self.folder.exists() else 0
            if done != shown:
                bar = "#" * (30 * done // self.total)
                line = f"acquire [{bar:<30}] {done}/{self.total}"
                sys.stderr.write("\r" + line if tty else line + "\n")
                sys.stderr.flush()
                shown = done
        if tty:
            sys.stderr.write("\n")
