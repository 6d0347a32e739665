"""build (Beam): accepted clips -> variants -> WebDataset shards, Parquet manifests and a release.

The driver plans every variant (deterministic from the seed and the clip key, donors from the
clip's own split) and groups them into shards; the pipeline renders and writes the shards:

    Create(shard plan files) | Reshuffle | ParDo(WriteShard) -> sample rows | failed variants

then the driver writes the manifests, questions, preference pairs and the release's files.
A shard already written (its record in RELEASE/.build matches the tar) is not made again, so a
build resumes like acquire. Variants that fail to render are recorded, never put in a shard.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import re
import shutil
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import apache_beam as beam
import av
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics

from earwitness.annotation.consensus import read_agreement
from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import BuildConfig, Config
from earwitness.pipelines.gates import ACCEPTED, VERIFIED, apply_gates
from earwitness.pipelines.release import BuildResult, write_release
from earwitness.pipelines.runners import describe, pipeline_options
from earwitness.schemas import CLIPS, PREFERENCES, QA, SAMPLES, read_table, write_table
from earwitness.storage import local_copy, write_json
from earwitness.transforms.interventions import Clip, Intervention, Pools, Variant, load, seeded
from earwitness.transforms.media import Media
from earwitness.transforms.preferences import preference_pairs
from earwitness.transforms.questions import QuestionSet

log = logging.getLogger(__name__)
NAMESPACE = "build"
WORK = ".build"


@dataclass(frozen=True)
class ShardPlan:
    path: str  # relative to the release: <split>/<variant>/<split>-<variant>-00000.tar
    variants: tuple[Variant, ...]

    @property
    def fingerprint(self) -> str:
        """What the shard holds: a resumed build reuses a shard only if this is unchanged."""
        described = [
            (v.key, v.intervention, v.params, v.clip.path, v.borrowed.path if v.borrowed else None)
            for v in self.variants
        ]
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


class WriteShard(beam.DoFn):
    """Render a shard's variants and write them as one tar; emit a manifest row per sample."""

    def __init__(self, release: str, media: Media, interventions: list[str], options: dict):
        self.release, self.media, self.interventions, self.options = release, media, interventions, options

    def setup(self) -> None:
        self.registry: dict[str, Intervention] = {i.name: i for i in load(self.interventions, **self.options)}

    def process(self, plan_file: str) -> Iterator:
        plan: ShardPlan = pickle.loads(Path(plan_file).read_bytes())
        target = Path(self.release) / plan.path
        record = Path(self.release) / WORK / "shards" / (plan.path + ".json")
        done = json.loads(record.read_text()) if record.exists() else {}
        size = target.stat().st_size if target.exists() else None
        if done.get("plan") == plan.fingerprint and done.get("bytes") == size:
            Metrics.counter(NAMESPACE, "shards_skipped").inc()
            rows, failed = done["rows"], done["failed"]
        else:
            scratch = Path(self.release) / WORK / "scratch"
            rows, failed = write_shard(plan, target, self.registry, self.media, scratch)
            size = target.stat().st_size if rows else None
            write_json(record, {"plan": plan.fingerprint, "bytes": size, "rows": rows, "failed": failed})
        Metrics.counter(NAMESPACE, "samples").inc(len(rows))
        for failure in failed:
            Metrics.counter(NAMESPACE, "variants_failed").inc()
            yield beam.pvalue.TaggedOutput("failed", json.dumps(failure))
        yield from rows


def write_shard(
    plan: ShardPlan, target: Path, registry: dict[str, Intervention], media: Media, scratch_root: Path
) -> tuple[list, list]:
    """A deterministic tar: members in key order, no timestamps or owners; renamed into place, so
    the release never holds half a shard (scratch lives in RELEASE/.build, removed at the end)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch_root.mkdir(parents=True, exist_ok=True)
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="shard.", dir=scratch_root) as scratch:
        temp = Path(scratch) / "shard.tar"
        with tarfile.open(temp, "w", format=tarfile.GNU_FORMAT) as tar:
            for variant in sorted(plan.variants, key=lambda v: v.key):
                mp4 = Path(scratch) / f"{variant.key}.mp4"
                try:
                    local = _with_local_media(variant, Path(scratch))
                    registry[variant.intervention].render(local, mp4, media)
                    audio_track = has_audio(mp4)  # also proves what was made opens
                except Exception as exc:  # a bad clip costs its variants, recorded, never the build
                    failed.append({"key": variant.key, "variant": variant.intervention, "reason": _reason(exc)})
                    continue
                data = mp4.read_bytes()
                offset = _add(tar, f"{variant.key}.mp4", data)
                _add(tar, f"{variant.key}.json", json.dumps(sample_json(variant), sort_keys=True).encode())
                rows.append(manifest_row(variant, plan.path, offset, data, audio_track))
                mp4.unlink()
        if rows:
            os.replace(temp, target)
        elif target.exists():
            target.unlink()  # every variant failed: no empty shard in the release
    return rows, failed


def _with_local_media(variant: Variant, folder: Path) -> Variant:
    """The variant with its clips' files local (copied from a bucket store; ffmpeg and PyAV read no gs://)."""
    clip = replace(variant.clip, path=local_copy(variant.clip.path, folder))
    borrowed = variant.borrowed and replace(variant.borrowed, path=local_copy(variant.borrowed.path, folder))
    return replace(variant, clip=clip, borrowed=borrowed)


def _plan_files(shards: list[ShardPlan], folder: Path) -> list[str]:
    """Each shard's plan in a file the workers read: the pipeline carries only the files' names (its job
    graph would otherwise hold every variant of every clip)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, plan in enumerate(shards):
        path = folder / f"{i:06d}.pickle"
        path.write_bytes(pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
        files.append(str(path))
    return files


def _reason(exc: Exception) -> str:
    """A failure's text without what differs between runs: memory addresses and local paths."""
    text = re.sub(r" @ 0x[0-9a-f]+", "", f"{type(exc).__name__}: {exc}")
    return re.sub(r"(?:/[^/\s'\":]+)+/([^/\s'\":]+)", r"\1", text)[:300]


def has_audio(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> int:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))
    return tar.offset - -(-len(data) // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE  # the data ends the member


def sample_json(variant: Variant) -> dict:
    clip = variant.clip
    source = {"ytid": clip.ytid, "start_ms": clip.start_ms, "end_ms": clip.end_ms}
    return {
        "key": variant.key,
        "clip_key": clip.key,
        "split": clip.split,
        "variant": variant.intervention,
        "visual_class": variant.visual_class,
        "audio_class": variant.audio_class,
        "class_id": clip.class_id,
        "class_name": clip.class_name,
        "params": variant.params,
        "source": source,
    }


def manifest_row(variant: Variant, shard: str, offset: int, data: bytes, audio_track: bool) -> dict:
    clip = variant.clip
    return {
        "key": variant.key,
        "clip_key": variant.clip.key,
        "split": variant.clip.split,
        "variant": variant.intervention,
        "shard": shard,
        "offset": offset,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "visual_class": variant.visual_class,
        "audio_class": variant.audio_class,
        "has_audio": audio_track,
        "params": json.dumps(variant.params, sort_keys=True),
        "ytid": clip.ytid,
        "start_ms": clip.start_ms,
        "end_ms": clip.end_ms,
        "class_id": clip.class_id,
    }


def run_build(config: Config, clips_dir: str | Path, out: str | Path) -> BuildResult:
    settings, out = config.build, Path(out)
    if out.exists() and any(out.iterdir()) and not (out / WORK).exists():
        raise EarwitnessError(f"{out}: not empty and not a build in progress; releases go to a new folder")
    clips, funnel = accepted_clips(Path(clips_dir), settings)
    variants, not_possible = plan_variants(clips, settings)
    funnel["variants_planned"] = sum(len(v) for v in variants.values())
    funnel |= {f"{name}_not_possible": n for name, n in sorted(not_possible.items())}
    questions = QuestionSet(tuple(sorted({c.class_name for c in clips})), settings.seed, settings.long_context_words)
    qa = {v.key: questions.for_variant(v) for vs in variants.values() for v in vs}  # before any rendering
    shards = plan_shards([v for vs in variants.values() for v in vs], settings.shard_samples)
    log.info(
        f"build: {len(clips):,} clips, {funnel['variants_planned']:,} variants, {len(shards):,} shards"
        f" ({describe(config.beam)})"
    )

    media = Media(cache=str(out / WORK / "cache"), ffmpeg=config.media.ffmpeg)
    rows_prefix, failed_prefix = out / WORK / "rows" / "samples", out / WORK / "rows" / "failed"
    for leftover in ("rows", "scratch", "plans"):  # what a killed build left; its finished shards stay
        shutil.rmtree(out / WORK / leftover, ignore_errors=True)
    pipeline = beam.Pipeline(options=pipeline_options(config.beam))
    written = (
        pipeline
        | "Shard plans" >> beam.Create(_plan_files(shards, out / WORK / "plans"), reshuffle=False)
        | "Spread over workers" >> beam.Reshuffle()
        | "Render and write shards"
        >> beam.ParDo(WriteShard(str(out), media, settings.interventions, settings.options)).with_outputs(
            "failed", main="samples"
        )
    )
    _ = written.samples | "Manifest rows" >> beam.io.WriteToParquet(
        str(rows_prefix), SAMPLES.schema, file_name_suffix=".parquet"
    )
    _ = written.failed | "Failures" >> beam.io.WriteToText(str(failed_prefix), file_name_suffix=".jsonl")
    pipeline.run().wait_until_finish()

    samples = _merge(rows_prefix.parent, "samples-*.parquet")
    failed = [
        json.loads(line)
        for p in sorted(rows_prefix.parent.glob("failed-*.jsonl"))
        for line in p.read_text().splitlines()
    ]
    failed.sort(key=lambda f: f["key"])
    _remove_stale_shards(out, {plan.path for plan in shards})
    present = set(samples["key"].to_pylist())
    asked = [row for key, rows in qa.items() if key in present for row in rows]
    pairs = [
        row for vs in variants.values() for row in preference_pairs([v for v in vs if v.key in present], questions)
    ]
    funnel |= {"samples": len(samples), "variants_failed": len(failed)}
    result = BuildResult(out, samples, _table(asked, QA, "qid"), _table(pairs, PREFERENCES, "pid"), funnel, failed)
    write_table(result.samples, out / "manifests" / "samples.parquet", SAMPLES)
    write_table(result.qa, out / "manifests" / "qa.parquet", QA)
    write_table(result.preferences, out / "manifests" / "preferences.parquet", PREFERENCES)
    result.annotation = read_agreement(ACCEPTED.locate(settings.consensus, Path(clips_dir).parent))
    write_release(result, config, clips)
    shutil.rmtree(out / WORK, ignore_errors=True)
    return result


def accepted_clips(clips_dir: Path, settings: BuildConfig) -> tuple[list[Clip], dict[str, int]]:
    """Acquire's ok clips that pass the gates present, each video in one split only (the first in split_priority).

    The gates' tables are found beside the clips folder: <run>/acquire, <run>/verify, <run>/annotate.
    """
    table = read_table(clips_dir / "clips.parquet", CLIPS)
    rows = [r for r in table.to_pylist() if r["status"] == "ok"]
    if not rows:
        raise EarwitnessError(f"{clips_dir / 'clips.parquet'}: no clip was acquired ({len(table)} rows, none ok)")
    ok = len(rows)
    rows, gated = apply_gates(rows, {VERIFIED: settings.verdicts, ACCEPTED: settings.consensus}, clips_dir.parent)
    if not rows:
        raise EarwitnessError(f"no clip passed the gates ({gated}); see verdicts.parquet and consensus.parquet")
    rank = {s: i for i, s in enumerate(settings.split_priority)}
    rows.sort(key=lambda r: (rank.get(r["split"], len(rank)), r["split"], r["key"]))
    seen: dict[str, str] = {}
    clips = []
    for r in rows:
        if seen.setdefault(r["ytid"], r["split"]) != r["split"]:
            continue
        clip = Clip(
            r["key"], r["split"], r["class_id"], r["class_name"], r["path"],
            seconds=round(r["duration_s"], 1),  # the normalised length; AAC padding adds a few ms
            width=r["width"], height=r["height"], fps=r["fps"], sample_rate=r["sample_rate"],
            channels=r["channels"], ytid=r["ytid"], start_ms=r["start_ms"], end_ms=r["end_ms"],
        )  # fmt: skip
        clips.append(clip)
    funnel = {"clips": len(table), "clips_ok": ok} | gated | {"clips_in_one_split": len(clips)}
    return sorted(clips, key=lambda c: (c.split, c.key)), funnel


def _remove_stale_shards(out: Path, planned: set[str]) -> None:
    """A resumed build whose plan changed must not leave the old plan's shards in the release."""
    for tar in out.glob("*/*/*.tar"):
        if tar.relative_to(out).as_posix() not in planned:
            tar.unlink()


def plan_variants(clips: list[Clip], settings: BuildConfig) -> tuple[dict[str, list[Variant]], Counter]:
    """Every clip's variants, keyed by clip; pools come from the clip's own split. Also counts, per
    intervention, the clips it could make nothing for (no donor of another class in the split)."""
    interventions = load(settings.interventions, **settings.options)
    pools = {}
    for split in sorted({c.split for c in clips}):
        in_split = [c for c in clips if c.split == split]
        by_class: dict[str, list[Clip]] = {}
        for c in in_split:
            by_class.setdefault(c.class_id, []).append(c)
        pools[split] = Pools(by_class, [c for c in in_split if c.class_id in settings.ambient_classes])
    variants, not_possible = {}, Counter()
    for clip in clips:
        variants[clip.key] = []
        for intervention in interventions:
            planned = intervention.plan(clip, seeded(settings.seed, clip.key, intervention.name), pools[clip.split])
            variants[clip.key] += planned
            not_possible[intervention.name] += not planned
    return variants, +not_possible


def plan_shards(variants: list[Variant], per_shard: int) -> list[ShardPlan]:
    groups: dict[tuple[str, str], list[Variant]] = {}
    for v in sorted(variants, key=lambda v: v.key):
        groups.setdefault((v.clip.split, v.intervention), []).append(v)
    plans = []
    for (split, name), members in sorted(groups.items()):
        for i in range(0, len(members), per_shard):
            path = f"{split}/{name}/{split}-{name}-{i // per_shard:05d}.tar"
            plans.append(ShardPlan(path, tuple(members[i : i + per_shard])))
    return plans


def _merge(folder: Path, pattern: str) -> pa.Table:
    tables = [pq.read_table(p, schema=SAMPLES.schema) for p in sorted(folder.glob(pattern))]
    merged = pa.concat_tables(tables) if tables else SAMPLES.schema.empty_table()
    return merged.sort_by([("split", "ascending"), ("variant", "ascending"), ("key", "ascending")])


def _table(rows: list[dict], schema, order: str) -> pa.Table:
    table = pa.Table.from_pylist(rows, schema=schema.schema) if rows else schema.schema.empty_table()
    return table.sort_by(order)
