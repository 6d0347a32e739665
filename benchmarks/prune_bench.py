"""Time prune over the three real AudioSet splits against pyarrow just reading the same CSV files.

The floor is pyarrow.csv.read_csv of each file into its four columns (split on the space, so the
quoted label list stays one field), threads on, gzip decompressed by pyarrow: the least any
Arrow-based reader of these files must do. Runs alternate floor and prune so that the machine's
noise hits both; the figures are medians, and the ratio is what to read.

    python benchmarks/prune_bench.py [--repeats 5] [--shared ../shared]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv
from common import parser

from earwitness.pipelines.config import PruneConfig
from earwitness.pipelines.prune import run_prune

FILES = ("eval_segments.csv", "balanced_train_segments.csv", "unbalanced_train_segments.csv.gz")


def read_floor(paths: list[Path]) -> int:
    rows = 0
    for path in paths:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=3, column_names=["ytid", "start", "end", "labels"]),
            parse_options=pacsv.ParseOptions(delimiter=" "),
        )
        rows += table.num_rows
    return rows


def main() -> int:
    arguments = parser(__doc__)
    arguments.add_argument("--repeats", type=int, default=5)
    args = arguments.parse_args()
    audioset = args.shared / "audioset"
    if not (audioset / "ontology.json").exists():
        print(f"skipped: the real AudioSet files are not at {audioset}", file=sys.stderr)
        return 0
    paths = [audioset / f for f in FILES]
    config = PruneConfig(ontology=str(audioset / "ontology.json"), segments=[str(p) for p in paths])

    floor, prune = [], []
    rows = read_floor(paths)  # warm the page cache for both
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            start = time.perf_counter()
            read_floor(paths)
            floor.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = run_prune(config, Path(tmp) / f"run{i}", progress=lambda _: None)
            prune.append(time.perf_counter() - start)
    figures = {
        "segments": rows,
        "candidates": sum(f["unique"] for f in result.funnel.values()),
        "repeats": args.repeats,
        "floor_read_s": round(statistics.median(floor), 3),
        "prune_s": round(statistics.median(prune), 3),
        "prune_over_floor": round(statistics.median(prune) / statistics.median(floor), 2),
        "cores": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
