"""verify (Beam RunInference): acquired clips -> four yes/no questions to an omni model -> verdicts.

    ReadFromParquet(clips to ask) | Reshuffle | ParDo(DecodeClip) | RunInference(OmniModelHandler) | verdict rows

then the driver merges the new rows with the cached ones into DIR/verdicts.parquet. A verdict is
reused when the clip's sha256, the model and the prompt version are unchanged: a re-run asks
nothing twice. A changed threshold or question order re-decides from the stored scores, asking
again only the clips whose verdict needs a question early stop skipped before. Clips that cannot
be asked (undecodable, silent, no audio or video track) end as failed rows with their reason.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import PredictionResult, RunInference

from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import Config, VerifyConfig
from earwitness.pipelines.omni_handler import OmniModelHandler, ScorerSettings, model_family, model_identity
from earwitness.pipelines.runners import describe, pipeline_options, staged_rows
from earwitness.schemas import CLIPS, VERDICTS, read_table, write_table
from earwitness.storage import local_copy, write_json
from earwitness.transforms.verifier.clip_arrays import Unusable, decode_clip
from earwitness.transforms.verifier.prompts import PROMPTS, QUESTIONS
from earwitness.transforms.verifier.scorer import decide

log = logging.getLogger(__name__)
NAMESPACE = "verify"
LASTING = ("undecodable", "silent", "no_audio", "no_video")  # failures the same clip would fail again


@dataclass(frozen=True)
class Asking:
    """What every verdict row of this run shares."""

    model: str  # the model's identity (a local folder's fingerprint)
    prompt_version: str
    threshold: float
    order: tuple[str, ...]
    early_stop: bool

    def row(self, clip: dict, scores: dict, **fields) -> dict:
        base = {k: clip[k] for k in ("key", "sha256", "class_id", "class_name")}
        base |= {"model": self.model, "prompt_version": self.prompt_version, "threshold": self.threshold}
        base |= {name: scores.get(name) for name in QUESTIONS}
        defaults = {"skipped": [], "passed": False, "first_failed": None, "status": "ok", "reason": None}
        return base | defaults | {"prefill_tokens": 0, "naive_tokens": 0} | fields


class DecodeClip(beam.DoFn):
    """A clip row -> its frames and audio, once; a clip that cannot be asked -> a failed verdict row."""

    def __init__(self, settings: ScorerSettings, asking: Asking):
        self.settings, self.asking = settings, asking
        self.unusable = Metrics.counter(NAMESPACE, "clips_unusable")

    def process(self, clip: dict) -> Iterator:
        try:
            with tempfile.TemporaryDirectory(prefix="verify.") as scratch:
                arrays = decode_clip(
                    _readable(clip["path"], Path(scratch)), clip["key"], clip["sha256"], clip["class_name"],
                    self.settings.fps, self.settings.max_pixels, class_id=clip["class_id"],
                )  # fmt: skip
        except Unusable as exc:
            self.unusable.inc()
            yield beam.pvalue.TaggedOutput("failed", self.asking.row(clip, {}, status="failed", reason=str(exc)))
            return
        yield arrays


def _readable(path: str, scratch: Path) -> str:
    """A local file PyAV can open (a clip in a bucket store is copied); a store that cannot be read now is
    `unreadable`, which the next run asks again (unlike `undecodable`: the same bytes fail the same way)."""
    if "://" not in path and not Path(path).is_file():
        raise Unusable("unreadable", f"{path}: no such file (is the clip store mounted?)")
    try:
        return local_copy(path, scratch)
    except Exception as exc:  # each bucket's client raises its own (google.api_core's NotFound, S3ClientError)
        raise Unusable("unreadable", f"the clip store cannot be read: {type(exc).__name__}: {str(exc)[:300]}") from None


class VerdictRow(beam.DoFn):
    def __init__(self, asking: Asking):
        self.asking = asking
        self.counters = {n: Metrics.counter(NAMESPACE, n) for n in ("clips_asked", "clips_passed", "prefill_tokens")}

    def process(self, result: PredictionResult) -> Iterator[dict]:
        example, verdict = result.example, result.inference
        clip = {
            "key": example.key,
            "sha256": example.sha256,
            "class_id": example.class_id,
            "class_name": example.class_name,
        }
        if "error" in verdict:
            yield self.asking.row(clip, {}, status="failed", reason=verdict["error"])
            return
        self.counters["clips_asked"].inc()
        self.counters["clips_passed"].inc(int(verdict["passed"]))
        self.counters["prefill_tokens"].inc(verdict["prefill_tokens"])
        fields = {k: verdict[k] for k in ("passed", "first_failed", "skipped", "prefill_tokens", "naive_tokens")}
        yield self.asking.row(clip, verdict["scores"], **fields)


@dataclass
class VerifyResult:
    out: Path
    verdicts: pa.Table
    asked: int  # clips the model was asked about in this run
    reused: int  # verdicts taken from an earlier run

    def count(self, **match) -> int:
        return sum(all(r[k] == v for k, v in match.items()) for r in self.verdicts.to_pylist())


def run_verify(config: Config, clips_dir: str | Path, out: str | Path, model: str | None = None) -> VerifyResult:
    settings, out = config.verify, Path(out)
    model = model or settings.model
    if not model:
        raise EarwitnessError("name the model: --model PATH_OR_HUB_ID, or verify.model in the config")
    if settings.prompts not in PROMPTS:
        raise EarwitnessError(f"verify.prompts: no prompt set {settings.prompts!r}; there are {sorted(PROMPTS)}")
    scorer = _scorer_settings(settings, model)
    asking = Asking(model_identity(model), settings.prompts, settings.threshold, tuple(settings.order),
                    settings.early_stop)  # fmt: skip
    clips = [r for r in read_table(Path(clips_dir) / "clips.parquet", CLIPS).to_pylist() if r["status"] == "ok"]
    reused, todo = _from_cache(out / "verdicts.parquet", clips, asking)
    log.info(f"verify: {len(clips):,} clips, {len(reused):,} verdicts reused, {len(todo):,} to ask"
             f" ({asking.model}, prompts {asking.prompt_version}; {describe(config.beam)})")  # fmt: skip

    work = out / ".work"
    shutil.rmtree(work, ignore_errors=True)
    if todo:
        model_family(model)  # a wrong model is an error here, not on every worker after the clips are decoded
        _run_pipeline(config, scorer, asking, todo, work)
    new = [
        row
        for path in sorted(work.glob("*.parquet"))
        for row in pq.read_table(path, schema=VERDICTS.schema).to_pylist()
    ]
    rows = sorted(reused + new, key=lambda r: r["key"])
    verdicts = write_table(pa.Table.from_pylist(rows, schema=VERDICTS.schema), out / "verdicts.parquet", VERDICTS)
    shutil.rmtree(work, ignore_errors=True)
    result = VerifyResult(out, read_table(verdicts, VERDICTS), asked=len(new), reused=len(reused))
    write_json(out / "verify.json", _summary(result, asking, settings))
    return result


def _run_pipeline(config: Config, scorer: ScorerSettings, asking: Asking, todo: list[dict], work: Path) -> None:
    v = config.verify
    handler = OmniModelHandler(
        scorer, min_batch_size=v.batch_min, max_batch_size=v.batch_max, max_batch_duration_secs=v.batch_wait_s,
        shared=v.shared_model, copies=v.model_copies, accelerator=v.accelerator,
    )  # fmt: skip
    pipeline = beam.Pipeline(options=pipeline_options(config.beam))
    decoded = (
        pipeline
        | "Clips to ask" >> beam.io.ReadFromParquet(staged_rows(todo, work / "input" / "clips.parquet", CLIPS.schema))
        | "Spread over workers" >> beam.Reshuffle()
        | "Decode once" >> beam.ParDo(DecodeClip(scorer, asking)).with_outputs("failed", main="clips")
    )
    asked = (
        decoded.clips | "Ask the omni model" >> RunInference(handler) | "Verdict rows" >> beam.ParDo(VerdictRow(asking))
    )
    _ = (
        (asked, decoded.failed)
        | "All rows" >> beam.Flatten()
        | "Write rows" >> beam.io.WriteToParquet(str(work / "rows"), VERDICTS.schema, file_name_suffix=".parquet")
    )
    pipeline.run().wait_until_finish()


def _from_cache(path: Path, clips: list[dict], asking: Asking) -> tuple[list[dict], list[dict]]:
    """Verdicts still valid for these clips (re-decided under this run's threshold and order), and the rest."""
    cached = {}
    if path.exists():
        cached = {r["key"]: r for r in read_table(path, VERDICTS).to_pylist()}
    reused, todo = [], []
    for clip in clips:
        row = cached.get(clip["key"])
        same = row is not None and (row["sha256"], row["model"], row["prompt_version"]) == (
            clip["sha256"], asking.model, asking.prompt_version,
        )  # fmt: skip
        if same and row["status"] == "failed" and row["reason"].split(":")[0] in LASTING:
            reused.append(row)
            continue
        if same and row["status"] == "ok":
            scores = {name: row[name] for name in QUESTIONS if row[name] is not None}
            verdict = decide(scores, asking.threshold, list(asking.order), asking.early_stop)
            if verdict is not None:
                reused.append(row | verdict | {"threshold": asking.threshold})
                continue
        todo.append(clip)
    return reused, todo


def _scorer_settings(settings: VerifyConfig, model: str) -> ScorerSettings:
    return ScorerSettings(
        model=model, device=settings.device, dtype=settings.dtype, attention=settings.attention,
        prompts=settings.prompts, threshold=settings.threshold, order=tuple(settings.order),
        early_stop=settings.early_stop, fps=settings.fps, min_pixels=settings.min_pixels,
        max_pixels=settings.max_pixels,
    )  # fmt: skip


def _summary(result: VerifyResult, asking: Asking, settings: VerifyConfig) -> dict:
    rows = result.verdicts.to_pylist()
    ok = [r for r in rows if r["status"] == "ok"]
    prefill, naive = sum(r["prefill_tokens"] for r in ok), sum(r["naive_tokens"] for r in ok)
    return {
        "asking": asdict(asking),
        "clips": len(rows),
        "asked_this_run": result.asked,
        "reused": result.reused,
        "passed": sum(r["passed"] for r in ok),
        "failed_to_ask": dict(Counter(r["reason"].split(":")[0] for r in rows if r["status"] == "failed")),
        "first_failed": dict(Counter(r["first_failed"] for r in ok if r["first_failed"])),
        "prefill_tokens": prefill,
        "naive_tokens": naive,
        "prefill_fraction_of_naive": round(prefill / naive, 4) if naive else None,
        "settings": json.loads(settings.model_dump_json()),
    }
