"""The embedded demo: a small ontology, its policy, and seeded AudioSet-style segment lists.

Everything the demo needs is made here or shipped beside this file, so `earwitness demo`
runs offline on any machine. Its segment lists deliberately carry what real ones do: label
lists with ancestors, several roots, removed classes, and a malformed row and an unknown
label per split, so every step of the funnel has something to count.
"""

from __future__ import annotations

import random
from pathlib import Path

ONTOLOGY = "earwitness:demo/ontology.json"
POLICY = "earwitness:demo/policy.yaml"
SPLITS = {"eval": 40, "balanced_train": 80}
# what the demo runs offline (verify with a tiny random model); annotate needs a Label Studio server and people
STAGES = ("prune", "acquire", "verify", "build", "publish")
YTID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

# Label lists and how often they occur: single classes, a leaf with its ancestors,
# absorbed leaves, and lists that the filter must drop.
LABEL_LISTS = [
    (["/demo/dog"], 6),
    (["/demo/bark", "/demo/dog", "/demo/animal"], 6),
    (["/demo/cat", "/demo/meow"], 5),
    (["/demo/cattle", "/demo/moo"], 4),
    (["/demo/fowl"], 3),
    (["/demo/guitar", "/demo/electric_guitar"], 5),
    (["/demo/piano", "/demo/music"], 4),
    (["/demo/drum"], 4),
    (["/demo/car", "/demo/horn"], 4),
    (["/demo/train"], 3),
    (["/demo/vacuum"], 3),
    (["/demo/blender"], 3),
    (["/demo/dog", "/demo/guitar"], 3),  # two roots
    (["/demo/guitar", "/demo/pop"], 3),  # a removed genre beside the instrument
    (["/demo/dog", "/demo/cat"], 2),  # two classes of one root
    (["/demo/siren"], 2),  # removed: action-less
    (["/demo/growl"], 1),  # removed: under two classes
]


def write_demo_segments(folder: Path, seed: int = 0) -> list[Path]:
    """One CSV per demo split, in AudioSet's exact format; returns their paths."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lists, weights = zip(*LABEL_LISTS, strict=True)
    paths = []
    for split, count in SPLITS.items():
        rows = []
        for _ in range(count):
            ytid = "".join(rng.choice(YTID_ALPHABET) for _ in range(11))
            start = rng.randrange(0, 30) * 10
            labels = ",".join(rng.choices(lists, weights)[0])
            rows.append(f'{ytid}, {start:.3f}, {start + 10:.3f}, "{labels}"')
        rows.insert(count // 3, f'{"-" * 11}, 10.000, "/demo/dog"')  # malformed: three fields
        rows.insert(count // 2, f'{"x" * 11}, 0.000, 10.000, "/demo/dog,/m/not_in_ontology"')
        header = [
            "# Segments csv created by earwitness demo",
            f"# num_ytids={len(rows)}, num_segs={len(rows)}, num_unique_labels={len(LABEL_LISTS)}",
            "# YTID, start_seconds, end_seconds, positive_labels",
        ]
        path = folder / f"{split}_segments.csv"
        path.write_text("\n".join(header + rows) + "\n")
        paths.append(path)
    return paths


def write_demo_source(candidate_files: list[Path], folder: Path, per_split: int) -> None:
    """A local clip source for the first `per_split` candidates of each split, laid out as
    VGGSound's `{ytid}_{start_s:06d}.mp4`. Each split's last clip is left out and the one before
    it is too short, so the demo's clips table shows how failures are recorded."""
    import pyarrow.parquet as pq

    from earwitness.demo.clips import make_clip, tone_for

    for path in candidate_files:
        rows = pq.read_table(path).slice(0, per_split).to_pylist()
        for i, row in enumerate(rows):
            if i == len(rows) - 1:
                continue
            seconds = 6.0 if i == len(rows) - 2 else 11.0
            name = f"{row['ytid']}_{row['start_ms'] // 1000:06d}.mp4"
            make_clip(folder / name, seconds, frequency=tone_for(row["class_name"]))


def write_demo_segment_source(segment_files: list[str | Path], folder: Path, per_split: int) -> Path:
    """A local clip source that needs no prune run: the first `per_split` well-formed segments of each
    demo list, laid out as VGGSound's `{ytid}_{start_s:06d}.mp4`. Every other segment is missing, so
    acquire records it as unavailable, as it would many AudioSet videos; the last clip written for each
    split is too short, so the clips table also shows a rejected download. Returns the folder."""
    import csv

    from earwitness.demo.clips import make_clip, tone_for

    folder.mkdir(parents=True, exist_ok=True)
    for path in segment_files:
        lines = [line for line in Path(path).read_text().splitlines() if not line.startswith("#")]
        rows = [r for r in csv.reader(lines, skipinitialspace=True) if len(r) == 4][:per_split]
        for i, (ytid, start, _end, labels) in enumerate(rows):
            seconds = 6.0 if i == len(rows) - 1 else 11.0
            make_clip(folder / f"{ytid}_{int(float(start)):06d}.mp4", seconds, frequency=tone_for(labels))
    return folder
