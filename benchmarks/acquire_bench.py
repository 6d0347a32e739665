"""acquire over loopback: clips per second for 40 clips (the 9 real ones and 31 generated), in-process
and with 2 worker processes, against the floor: the same files plain-copied over the same server
(median of five copies).

    python benchmarks/acquire_bench.py [--clips 40] [--shared ../shared]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
from common import clip_folder, parser

from earwitness.pipelines.acquire import run_acquire
from earwitness.pipelines.config import Config
from earwitness.schemas import CANDIDATES, write_table
from earwitness.testing import MediaServer

TEMPLATE = "/{ytid}_{start_s:06d}.mp4"


def prepare(folder: Path, shared: Path, count: int) -> list[dict]:
    return [
        {"ytid": y, "start_ms": s * 1000, "end_ms": s * 1000 + 10000, "class_id": "/m/x", "class_name": name,
         "labels": ["/m/x"], "line": i, "real": not y.startswith("Generated")}
        for i, (y, s, name) in enumerate(clip_folder(folder, shared, count))
    ]  # fmt: skip


def plain_copy(url: str, rows: list[dict], target: Path) -> float:
    target.mkdir()
    start = time.perf_counter()
    for row in rows:
        name = f"{row['ytid']}_{row['start_ms'] // 1000:06d}.mp4"
        with urllib.request.urlopen(f"{url}/{name}") as response, (target / name).open("wb") as out:
            shutil.copyfileobj(response, out)
    return time.perf_counter() - start


def timed_acquire(url: str, candidates: str, out: Path, workers: int) -> tuple[float, int]:
    settings = Config()
    settings.acquire.source = url + TEMPLATE
    settings.beam.workers = workers
    start = time.perf_counter()
    result = run_acquire(settings, [candidates], out, show_progress=False)
    return time.perf_counter() - start, result.count("ok")


def main() -> int:
    arguments = parser(__doc__)
    arguments.add_argument("--clips", type=int, default=40)
    args = arguments.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "served").mkdir()
        rows = prepare(root / "served", args.shared, args.clips)
        table = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "real"} for r in rows])
        candidates = str(write_table(table, root / "eval.parquet", CANDIDATES))
        source_mb = sum(p.stat().st_size for p in (root / "served").iterdir()) / 1e6
        with MediaServer(root / "served") as server:
            copy_s = statistics.median(plain_copy(server.url, rows, root / f"copy{i}") for i in range(5))
            in_process_s, ok_1 = timed_acquire(server.url, candidates, root / "run1", 0)
            two_workers_s, ok_2 = timed_acquire(server.url, candidates, root / "run2", 2)
            rerun_s, _ = timed_acquire(server.url, candidates, root / "run2", 2)
    figures = {
        "clips": len(rows),
        "real_clips": sum(1 for r in rows if r["real"]),
        "source_mb": round(source_mb, 1),
        "ok": [ok_1, ok_2],
        "plain_copy_s": round(copy_s, 3),
        "in_process_s": round(in_process_s, 2),
        "two_workers_s": round(two_workers_s, 2),
        "rerun_all_stored_s": round(rerun_s, 2),
        "clips_per_s_in_process": round(len(rows) / in_process_s, 2),
        "clips_per_s_two_workers": round(len(rows) / two_workers_s, 2),
        "in_process_over_copy": round(in_process_s / copy_s, 1),
        "two_workers_over_copy": round(two_workers_s / copy_s, 1),
        "rerun_over_copy": round(rerun_s / copy_s, 1),
        "cores": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
