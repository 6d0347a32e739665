"""prune: the ontology and the segment lists -> the class set and each split's candidate segments.

Writes into the run folder:
  classes.json, nodes.parquet, classes.svg        the class set, every node's fate, the picture
  candidates/<split>.parquet, rejects/<split>.parquet
  funnel.json                                     {split: {step: segments left}}, in step order
  prune.json                                      inputs and their sha256, policy steps, warnings
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from earwitness import __version__
from earwitness.errors import EarwitnessError
from earwitness.ontology import ClassSet, apply_policy, load_ontology, load_policy
from earwitness.ontology.labels import STEPS, LabelFilter
from earwitness.ontology.picture import tree_svg
from earwitness.ontology.segments import SegmentBlock, ordered_map, segment_blocks, split_name
from earwitness.pipelines.config import PruneConfig
from earwitness.schemas import CANDIDATES, NODES, REJECTS, write_table
from earwitness.storage import read_input, redact, write_json

log = logging.getLogger(__name__)
FUNNEL_STEPS = ("read", "well_formed", *STEPS, "unique")


@dataclass
class SplitResult:
    split: str
    source: str
    sha256: str
    funnel: dict[str, int]
    candidates: pa.Table
    rejects: pa.Table
    warnings: list[str] = field(default_factory=list)


@dataclass
class PruneResult:
    out: Path
    classes: ClassSet
    splits: list[SplitResult]
    run_warnings: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [w for s in self.splits for w in s.warnings] + self.run_warnings

    @property
    def funnel(self) -> dict[str, dict[str, int]]:
        return {s.split: s.funnel for s in self.splits}


def run_prune(config: PruneConfig, out: str | Path, progress: Callable[[str], None] = log.info) -> PruneResult:
    ontology = load_ontology(config.ontology)
    classes = apply_policy(ontology, load_policy(config.policy), config.class_level)
    progress(f"class policy: {len(classes.classes)} classes from {len(ontology.ids)} nodes")
    splits = [split_name(s) for s in config.segments]
    if len(set(splits)) != len(splits):
        raise EarwitnessError(f"two segment files name the same split: {splits}")
    label_filter = LabelFilter(classes)
    results = []
    for source in config.segments:
        split = _prune_split(source, label_filter, config.max_malformed_fraction)
        progress(f"{split.split}: {split.funnel['read']:,} segments read, {len(split.candidates):,} candidates")
        results.append(split)
    result = PruneResult(Path(out), classes, results)
    _write(result, config)
    return result


def _prune_split(source: str, label_filter: LabelFilter, max_malformed_fraction: float) -> SplitResult:
    raw = read_input(source)
    blocks: list[SegmentBlock] = []
    kept, unknown, counts = [], [], dict.fromkeys(STEPS, 0)
    filtered = ordered_map(lambda block: (block, label_filter.apply(block.segments)), segment_blocks(raw))
    for block, (candidates, unknown_labels, block_counts) in filtered:
        blocks.append(SegmentBlock(pa.table({}), block.rejects, block.read, block.declared))
        kept.append(candidates)
        unknown.append(unknown_labels)
        for step, n in block_counts.items():
            counts[step] += n
    read = sum(b.read for b in blocks)
    malformed_rows = pa.concat_tables([b.rejects for b in blocks])
    malformed = len(malformed_rows)
    _check_size(source, read, next((b.declared for b in blocks if b.declared), None))
    _check_malformed(source, read, malformed_rows, max_malformed_fraction)
    rejected = pa.concat_tables([malformed_rows, *unknown]).sort_by("line")

    candidates = _unique(pa.concat_tables(kept))
    candidates = candidates.set_column(
        candidates.schema.get_field_index("labels"), "labels", pc.split_pattern(candidates["labels"], ",")
    )
    funnel = {"read": read, "well_formed": read - malformed, **counts, "unique": len(candidates)}
    split = SplitResult(split_name(source), source, raw.sha256, funnel, candidates, rejected)
    if malformed:
        first = malformed_rows.slice(0, 1).to_pylist()[0]
        split.warnings.append(
            f"{source}: {malformed} malformed rows dropped (first: line {first['line']}: {first['reason']})"
        )
    if label_filter.unknown:
        common = ", ".join(f"{k} ({v})" for k, v in label_filter.unknown.most_common(5))
        split.warnings.append(f"{source}: labels not in the ontology, segments dropped: {common}")
        label_filter.unknown.clear()
    return split


def _unique(candidates: pa.Table) -> pa.Table:
    """One candidate per (ytid, start): the first in the file."""
    first = candidates.group_by(["ytid", "start_ms"], use_threads=False).aggregate([("line", "min")])
    if len(first) == len(candidates):
        return candidates
    return candidates.filter(pc.is_in(candidates["line"], value_set=first["line_min"]))


def _check_size(source: str, read: int, declared: int | None) -> None:
    if declared and read < declared:
        raise EarwitnessError(
            f"{source}: the header declares {declared:,} segments but the file holds {read:,}: truncated? "
            "(if rows were removed on purpose, remove the num_segs header line too)"
        )


def _check_malformed(source: str, read: int, rejects: pa.Table, max_fraction: float) -> None:
    malformed = len(rejects)
    if malformed and malformed > max_fraction * read:
        shown = rejects.slice(0, 5).to_pylist()
        examples = "; ".join(f"line {r['line']}: {r['reason']}" for r in shown)
        raise EarwitnessError(
            f"{source}: {malformed:,} of {read:,} rows are malformed, more than "
            f"prune.max_malformed_fraction={max_fraction}. First: {examples}"
        )


def _write(result: PruneResult, config: PruneConfig) -> None:
    out, classes = result.out, result.classes
    out.mkdir(parents=True, exist_ok=True)
    for split in result.splits:
        write_table(split.candidates, out / "candidates" / f"{split.split}.parquet", CANDIDATES)
        write_table(split.rejects, out / "rejects" / f"{split.split}.parquet", REJECTS)
    fates = [classes.fates[node] for node in classes.ontology.ids]
    nodes = pa.table({column: [getattr(f, column) for f in fates] for column in NODES.schema.names})
    write_table(nodes, out / "nodes.parquet", NODES)
    per_split = {s.split: _count_by_class(s.candidates) for s in result.splits}
    per_class = {c: sum(counts.get(c, 0) for counts in per_split.values()) for c in classes.classes}
    listed = classes.classes_json()
    for entry in listed:
        entry["candidates"] = {split: counts.get(entry["id"], 0) for split, counts in per_split.items()}
    write_json(out / "classes.json", listed)
    write_json(out / "funnel.json", result.funnel)
    (out / "classes.svg").write_text(tree_svg(classes, per_class))
    empty = [classes.ontology.name(c) for c, n in per_class.items() if n == 0]
    if empty:
        result.run_warnings.append(f"classes without a candidate in any split: {'; '.join(empty)}")
    write_json(
        out / "prune.json",
        {
            "earwitness": __version__,
            "config": config.model_dump(mode="json")
            | {"ontology": redact(config.ontology), "segments": [redact(s) for s in config.segments]},
            "inputs": [{"split": s.split, "source": redact(s.source), "sha256": s.sha256} for s in result.splits],
            "class_policy": classes.steps,
            "classes": len(classes.classes),
            "candidates_per_class": dict(sorted(per_class.items(), key=lambda kv: -kv[1])),
            "videos_in_several_splits": _shared_videos(result.splits),
            "warnings": result.warnings,
        },
    )


def _count_by_class(candidates: pa.Table) -> dict[str, int]:
    counts = pc.value_counts(candidates["class_id"].combine_chunks()).to_pylist()
    return {c["values"]: c["counts"] for c in counts}


def _shared_videos(splits: list[SplitResult]) -> int:
    """YouTube videos that are candidates in more than one split (the build keeps each in one)."""
    seen = [set(s.candidates["ytid"].to_pylist()) for s in splits]
    return sum(len(a & b) for i, a in enumerate(seen) for b in seen[i + 1 :])
