"""publish and fetch: a release published to a folder and fetched over loopback HTTP, against the
floors of the same run: a plain copy of the same bytes, and plain HTTP GETs of them (no checks);
then the bytes a resumed fetch does not download again after a transfer cut short.

    python benchmarks/fetch_bench.py [--clips 8] [--shared ../shared]
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from build_bench import prepare
from common import parser

from earwitness.errors import EarwitnessError
from earwitness.pipelines.build import run_build
from earwitness.pipelines.config import Config, PublishConfig
from earwitness.pipelines.fetch import fetch
from earwitness.pipelines.publish import publish
from earwitness.testing import MediaServer


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def median_of(runs: int, action) -> float:
    """The median time of `runs` calls of action(i), each into its own folder."""
    return statistics.median(timed(lambda i=i: action(i))[0] for i in range(runs))


def main() -> int:
    arguments = parser(__doc__)
    arguments.add_argument("--clips", type=int, default=8)
    arguments.add_argument("--runs", type=int, default=3)
    args = arguments.parse_args()
    settings = PublishConfig(attempts=1, backoff_s=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = Config()
        config.build.ambient_classes = ["/c/Rain"]
        config.build.shard_samples = 8
        run_build(config, prepare(root, args.shared, args.clips), root / "release")
        copy_into = root / "dest"
        publish_s, published = timed(lambda: publish(root / "release", str(copy_into), settings))
        version = copy_into / published.version
        files = sorted(p for p in version.rglob("*") if p.is_file())
        total = sum(p.stat().st_size for p in files)

        def plain_copy(run: int) -> None:
            for p in files:
                target = root / f"copy{run}" / p.relative_to(version)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, target)

        copy_s = median_of(args.runs, plain_copy)
        with MediaServer(copy_into, subfolders=True) as server:

            def plain_http(run: int) -> None:
                for p in files:
                    name = p.relative_to(copy_into).as_posix()
                    target = root / f"http{run}" / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with urllib.request.urlopen(f"{server.url}/{name}") as response:
                        target.write_bytes(response.read())

            http_s = median_of(args.runs, plain_http)
            fetch_s = median_of(args.runs, lambda i: fetch(server.url, root / f"fetched{i}", settings=settings))
            one_s = median_of(
                args.runs, lambda i: fetch(server.url, root / f"one{i}", variants=["swap"], settings=settings)
            )

            biggest = max(files, key=lambda p: p.stat().st_size)
            cut, cut_size = biggest.relative_to(copy_into).as_posix(), biggest.stat().st_size
            server.faults[cut] = "cut-transfer"
            with contextlib.suppress(EarwitnessError):  # the cut file fails; every other one is complete
                fetch(server.url, root / "resumed", settings=settings)
            assert not (root / "resumed" / "RELEASE.json").exists()
            server.faults.clear()
            _, resumed = timed(lambda: fetch(server.url, root / "resumed", settings=settings))
    figures = {
        "files": len(files),
        "release_mb": round(total / 1e6, 1),
        "publish_s": round(publish_s, 2),
        "publish_over_copy": round(publish_s / copy_s, 1),
        "copy_mb_per_s": round(total / 1e6 / copy_s),
        "plain_http_over_copy": round(http_s / copy_s, 1),
        "fetch_over_copy": round(fetch_s / copy_s, 1),
        "fetch_over_plain_http": round(fetch_s / http_s, 2),
        "fetch_one_variant_over_whole": round(one_s / fetch_s, 2),
        "resume_cut_file_mb": round(cut_size / 1e6, 2),
        "resume_downloaded_mb": round(resumed.downloaded / 1e6, 2),
        "resume_saved_of_release": round(1 - resumed.downloaded / total, 3),
        "cores": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
