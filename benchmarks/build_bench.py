"""build: the CPU cost of each variant against a stream-copy remux of the same clip, the bytes of
all variants against the clip's, shard writing against copying the same bytes, and end-to-end
clips per second. Clips: the 9 real ones (if ../shared is there) and generated 320x240 ones,
acquired first. CPU time counts this process and its ffmpeg children.

    python benchmarks/build_bench.py [--clips 16] [--shared ../shared]
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from common import clip_folder, parser

from earwitness.pipelines.acquire import run_acquire
from earwitness.pipelines.build import _add, accepted_clips, plan_variants, run_build
from earwitness.pipelines.config import Config
from earwitness.schemas import CANDIDATES, write_table
from earwitness.transforms.ffmpeg import run_ffmpeg
from earwitness.transforms.interventions import load
from earwitness.transforms.media import Media


def cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def prepare(root: Path, shared: Path, count: int) -> Path:
    source = root / "source"
    source.mkdir()
    table = [
        {"ytid": y, "start_ms": s * 1000, "end_ms": s * 1000 + 10000, "class_id": f"/c/{n}", "class_name": n,
         "labels": [], "line": 1}
        for y, s, n in clip_folder(source, shared, count)
    ]  # fmt: skip
    candidates = str(write_table(pa.Table.from_pylist(table), root / "eval.parquet", CANDIDATES))
    config = Config()
    config.acquire.source = str(source)
    run_acquire(config, [candidates], root / "acquire", show_progress=False)
    return root / "acquire"


def main() -> int:
    arguments = parser(__doc__)
    arguments.add_argument("--clips", type=int, default=16)
    args = arguments.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        acquired = prepare(root, args.shared, args.clips)
        config = Config()
        config.build.ambient_classes = ["/c/Rain"]
        clips, _ = accepted_clips(acquired, config.build)
        variants, _ = plan_variants(clips, config.build)
        registry = {i.name: i for i in load(config.build.interventions, **config.build.options)}
        media = Media(cache=str(root / "cache"))
        cost: dict[str, float] = {}
        remux_total, clip_bytes, variant_bytes, rendered = 0.0, 0, 0, []
        (root / "out").mkdir()
        for clip in clips:
            start = cpu()
            run_ffmpeg(["-i", clip.path, "-c", "copy", "-y", str(root / "out" / "remux.mp4")])
            remux_total += cpu() - start
            clip_bytes += Path(clip.path).stat().st_size
            for variant in variants[clip.key]:
                out = root / "out" / f"{variant.key}.mp4"
                start = cpu()
                registry[variant.intervention].render(variant, out, media)
                cost[variant.intervention] = cost.get(variant.intervention, 0.0) + cpu() - start
                variant_bytes += out.stat().st_size
                rendered.append(out)
        per_clip_remux = remux_total / len(clips)
        counts = {name: sum(1 for vs in variants.values() for v in vs if v.intervention == name) for name in cost}

        payload = sum(p.stat().st_size for p in rendered)
        start = time.perf_counter()
        with tarfile.open(root / "shard.tar", "w", format=tarfile.GNU_FORMAT) as tar:
            for path in rendered:
                _add(tar, path.name, path.read_bytes())
                _add(tar, path.stem + ".json", b"{}")
        tar_s = time.perf_counter() - start
        start = time.perf_counter()
        for path in rendered:
            shutil.copyfile(path, root / "copy.bin")
        copy_s = time.perf_counter() - start

        start = time.perf_counter()
        result = run_build(config, acquired, root / "release")
        build_s = time.perf_counter() - start
    figures = {
        "clips": len(clips),
        "variants": sum(len(v) for v in variants.values()),
        "remux_cpu_ms_per_clip": round(per_clip_remux * 1000, 1),
        "variant_cpu_over_remux": {n: round(cost[n] / counts[n] / per_clip_remux, 1) for n in sorted(cost)},
        "all_variants_of_a_clip_over_remux": round(sum(cost.values()) / len(clips) / per_clip_remux, 1),
        "variant_bytes_over_clip_bytes": round(variant_bytes / clip_bytes, 2),
        "shard_writing_over_copy": round(tar_s / copy_s, 2),
        "shard_payload_mb": round(payload / 1e6, 1),
        "end_to_end_s": round(build_s, 2),
        "end_to_end_clips_per_s": round(len(clips) / build_s, 2),
        "samples": len(result.samples),
        "cores": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
