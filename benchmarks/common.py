"""What the benchmark scripts share: where ../shared is, and a folder of clips to work on."""

from __future__ import annotations

import argparse
import csv
import os
import shutil
from pathlib import Path

from earwitness.demo.clips import make_clip, tone_for

GENERATED_CLASSES = ("Dog", "Cat", "Rain", "Guitar")


def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with --shared (default: $EARWITNESS_SHARED, else ../shared)."""
    parsed = argparse.ArgumentParser(description=doc.splitlines()[0])
    default = os.environ.get("EARWITNESS_SHARED", Path(__file__).resolve().parents[2] / "shared")
    parsed.add_argument("--shared", type=Path, default=Path(default))
    return parsed


def clip_folder(folder: Path, shared: Path, count: int) -> list[tuple[str, int, str]]:
    """The 9 real clips (when ../shared is there) and generated 320x240 25 fps ones up to `count`,
    named `{ytid}_{start_s:06d}.mp4`; returns (ytid, start_s, class name) for each."""
    rows = []
    labels = shared / "media" / "vggsounder" / "labels.csv"
    if labels.exists():
        for row in csv.DictReader(labels.open()):
            shutil.copy(labels.parent / row["file"], folder / row["file"])
            rows.append((row["ytid"], int(row["start_seconds"]), row["audioset_name"]))
    for i in range(count - len(rows)):
        ytid, name = f"Generated{i:02d}", GENERATED_CLASSES[i % len(GENERATED_CLASSES)]
        make_clip(folder / f"{ytid}_000000.mp4", 10.5, size="320x240", rate=25, frequency=tone_for(name))
        rows.append((ytid, 0, name))
    return rows
