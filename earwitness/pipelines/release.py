"""The release's own files: chat-format exports, the wids shard index, stats, the dataset card,
the report and, last, a checksum over every file."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from earwitness import __version__
from earwitness.pipelines.config import Config
from earwitness.pipelines.report import write_report
from earwitness.storage import write_json
from earwitness.transforms.interventions import Clip

CHECKSUMS = "SHA256SUMS"


@dataclass
class BuildResult:
    out: Path
    samples: pa.Table
    qa: pa.Table
    preferences: pa.Table
    funnel: dict[str, int] = field(default_factory=dict)
    failed: list[dict] = field(default_factory=list)
    annotation: dict | None = None  # annotate's agreement.json, when the consensus gate was used


def write_release(result: BuildResult, config: Config, clips: list[Clip]) -> None:
    out = result.out
    samples = result.samples.to_pylist()
    _write_exports(out, samples, result.qa.to_pylist(), result.preferences.to_pylist())
    groups = _shard_groups(out, samples)
    for (split, variant), shards in groups.items():
        write_json(
            out / "index" / f"{split}-{variant}.json", _wids_index(out, f"{split}-{variant}", shards, samples), True
        )
    stats = _stats(result, clips)
    write_json(out / "stats.json", stats, sort_keys=True)
    (out / "README.md").write_text(dataset_card(config, stats, groups))
    write_report(out, result, config)
    write_checksums(out)


def media_path(sample: dict) -> str:
    """Where a sample's mp4 lands when a split's variant shards are extracted into one folder."""
    return f"{sample['split']}/{sample['variant']}/{sample['key']}.mp4"


def _write_exports(out: Path, samples: list[dict], qa: list[dict], pairs: list[dict]) -> None:
    """Chat formats training tools read: messages with videos and audios; prompt/chosen/rejected."""
    by_key = {s["key"]: s for s in samples}
    (out / "exports").mkdir(parents=True, exist_ok=True)
    with (out / "exports" / "qa.jsonl").open("w") as handle:
        for q in qa:
            sample = by_key[q["key"]]
            path = media_path(sample)
            tokens = "<video><audio>" if sample["has_audio"] else "<video>"  # one token per listed medium
            record = {
                "id": q["qid"],
                "messages": [
                    {"role": "user", "content": f"{tokens}{q['question']}"},
                    {"role": "assistant", "content": q["answer"]},
                ],
                "videos": [path],
                "audios": [path] if sample["has_audio"] else [],
            }
            handle.write(json.dumps(record, sort_keys=True) + "\n")
    with (out / "exports" / "preferences.jsonl").open("w") as handle:
        for p in pairs:
            record = {
                "id": p["pid"],
                "kind": p["kind"],
                "prompt": [{"role": "user", "content": f"<video>{p['prompt']}"}],
                "chosen": [{"role": "assistant", "content": p["chosen"]}],
                "rejected": [{"role": "assistant", "content": p["rejected"]}],
                "chosen_videos": [media_path(by_key[p["chosen_key"]])],
                "rejected_videos": [media_path(by_key[p["rejected_key"]])],
            }
            handle.write(json.dumps(record, sort_keys=True) + "\n")


def _shard_groups(out: Path, samples: list[dict]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], set[str]] = {}
    for s in samples:
        groups.setdefault((s["split"], s["variant"]), set()).add(s["shard"])
    return {k: sorted(v) for k, v in sorted(groups.items())}


def _wids_index(out: Path, name: str, shards: list[str], samples: list[dict]) -> dict:
    """The wids format, written without wids (which needs torch): urls relative to this file."""
    counts = Counter(s["shard"] for s in samples)
    return {
        "__kind__": "wids-shard-index-v1",
        "wids_version": 1,
        "name": name,
        "shardlist": [
            {
                "url": f"../{shard}",
                "md5sum": hashlib.md5((out / shard).read_bytes()).hexdigest(),
                "nsamples": counts[shard],
                "filesize": (out / shard).stat().st_size,
            }
            for shard in shards
        ],
    }


def _stats(result: BuildResult, clips: list[Clip]) -> dict:
    samples = result.samples.to_pylist()
    return {
        "earwitness": __version__,
        "funnel": result.funnel,
        "samples": dict(sorted(Counter(f"{s['split']}/{s['variant']}" for s in samples).items())),
        "bytes": sum(s["size"] for s in samples),
        "clips_per_class": dict(sorted(Counter(f"{c.split}/{c.class_name}" for c in clips).items())),
        "questions": dict(sorted(Counter(q["kind"] for q in result.qa.to_pylist()).items())),
        "preferences": dict(sorted(Counter(p["kind"] for p in result.preferences.to_pylist()).items())),
        "variants_failed": result.failed,
    } | ({"annotation": result.annotation} if result.annotation else {})


def dataset_card(config: Config, stats: dict, groups: dict[tuple[str, str], list[str]]) -> str:
    variants = sorted({v for _, v in groups})
    lines = [
        "---",
        f"license: {config.build.license}",
        "task_categories:",
        "- video-classification",
        "- question-answering",
    ]
    lines += ["tags:", "- audio-visual", "- counterfactual", "- audioset", "configs:"]
    for variant in variants:
        lines += [f"- config_name: {variant}", "  data_files:"]
        for split in sorted({s for s, v in groups if v == variant}):
            lines += [f"  - split: {split}", f"    path: {split}/{variant}/*.tar"]
    lines += ["---", "", f"# {config.name} {config.build.version}", ""]
    lines += [
        "Counterfactual audio-visual samples built from AudioSet by earwitness: each clip in several",
        "variants whose sound and picture disagree in known ways, with questions whose right answers",
        "follow from how each variant was made, and preference pairs for alignment training.",
        "",
        "## How each variant was made",
        "",
        "| variant | picture | sound |",
        "| --- | --- | --- |",
        "| aligned | the clip's | the clip's |",
        "| swap | the clip's | another clip's, of another class, from the same split (donor in `params`) |",
        "| shift | the clip's | the clip's, moved 1.8-2.5 s later (`delayed`) or earlier (`early`), to the sample |",
        "| mute | the clip's | digital silence of the same length |",
        "| no_audio | the clip's | no audio track |",
        "| black_frames | black | the clip's |",
        "| ambient | the clip's | an ambient clip (bird, rain, thunder, power tool) |",
        "",
        "## Funnel",
        "",
        "| step | count |",
        "| --- | ---: |",
        *[f"| {step} | {n:,} |" for step, n in stats["funnel"].items()],
        "",
        *_annotation_section(stats.get("annotation")),
        "## Files",
        "",
        "- `<split>/<variant>/<split>-<variant>-NNNNN.tar`: WebDataset shards; each sample is `<key>.mp4`",
        "  (H.264 + AAC) and `<key>.json` (labels, variant, parameters, source);",
        "- `manifests/samples.parquet`, `manifests/qa.parquet`, `manifests/preferences.parquet`;",
        "- `exports/qa.jsonl` (messages with videos and audios), `exports/preferences.jsonl`",
        "  (prompt/chosen/rejected); their media paths are `<split>/<variant>/<key>.mp4`, as the shards",
        "  of one split and variant extract;",
        "- `index/<split>-<variant>.json`: wids shard indexes for random access;",
        f"- `stats.json`, `report.html`, `{CHECKSUMS}` (sha256 of every file).",
        "",
        "## Loading",
        "",
        "```python",
        "import webdataset as wds",
        'ds = wds.WebDataset("eval/swap/eval-swap-{00000..00000}.tar").decode()',
        "",
        "from datasets import load_dataset, Video",
        'ds = load_dataset("webdataset", data_files={"eval": "eval/swap/*.tar"}, split="eval")',
        'ds = ds.cast_column("mp4", Video(decode=False))  # decoding mp4 needs torchcodec',
        "```",
        "",
        "Labels: AudioSet (Google, CC BY 4.0; ontology CC BY-SA 4.0). The videos are YouTube's; their",
        "rights stay with their owners.",
    ]
    return "\n".join(lines) + "\n"


def _annotation_section(annotation: dict | None) -> list[str]:
    """Two annotators judged every clip; their consensus and agreement (Cohen's kappa) per question."""
    if not annotation:
        return []
    counts = ", ".join(f"{n:,} {status}" for status, n in annotation["consensus"].items())
    lines = ["## Human annotation", "", f"Two annotators per clip in Label Studio: {counts}.", ""]
    lines += ["| question | Cohen's kappa | raw agreement | pairs |", "| --- | ---: | ---: | ---: |"]
    for question, found in annotation["questions"].items():
        kappa = "n/a" if found["kappa"] is None else f"{found['kappa']:.3f}"
        raw = "n/a" if found["agreement"] is None else f"{found['agreement']:.3f}"
        lines.append(f"| {question} | {kappa} | {raw} | {found['pairs']:,} |")
    return [*lines, ""]


def write_checksums(out: Path) -> None:
    files = sorted(
        p for p in out.rglob("*") if p.is_file() and p.name != CHECKSUMS and ".build" not in p.relative_to(out).parts
    )
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}" for p in files]
    (out / CHECKSUMS).write_text("\n".join(lines) + "\n")
