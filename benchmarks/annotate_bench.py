"""Time annotate against a real Label Studio server: start from the prepared data folder, push N
clips, pull N clips each annotated by two annotators; each against its floor in the same run.

Floors: importing the same N tasks with the SDK in one request into a fresh project (what any client
must do; push also reads the project's tasks back and checks every clip file), and Label Studio's own
JSON export of the annotated project (pull also computes the consensus and writes two files).
The clips are hard links of one generated clip, so only Label Studio's side is measured.

    python benchmarks/annotate_bench.py [--clips 200]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from common import parser

from earwitness import testing_labelstudio as lstest
from earwitness.annotation.labelstudio import Studio, labeling_config
from earwitness.demo.clips import make_clip
from earwitness.pipelines.annotate import run_pull, run_push
from earwitness.pipelines.config import Config
from earwitness.schemas import CLIPS, write_table

TOKEN_ENV = "EARWITNESS_BENCH_LABEL_STUDIO_TOKEN"
PASS = [{"from_name": q, "to_name": "video", "type": "choices", "value": {"choices": ["pass"]}}
        for q in ("visible", "dominant", "action")]  # fmt: skip


def clips_table(folder: Path, count: int) -> Path:
    original = make_clip(folder / "clips" / "original.mp4", 2.0)
    rows = []
    for i in range(count):
        key = f"bench{i:06d}"[:11] + "_0"
        path = folder / "clips" / f"{key}.mp4"
        os.link(original, path)
        rows.append({"key": key, "split": "eval", "ytid": key[:11], "start_ms": 0, "end_ms": 2000,
                     "class_id": "/c/dog", "class_name": "Dog", "status": "ok", "attempts": 1,
                     "sha256": "0" * 64, "path": str(path)})  # fmt: skip
    unset = dict.fromkeys(["reason", "retryable", "bytes", "duration_s", "width", "height", "fps", "sample_rate",
                           "channels"])  # fmt: skip
    return write_table(
        pa.Table.from_pylist([unset | r for r in rows], CLIPS.schema), folder / "acquire" / "clips.parquet", CLIPS
    )


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--clips", type=int, default=200)
    count = arguments.parse_args().clips
    reason = lstest.available()
    if reason:
        sys.exit(reason)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        table = clips_table(root, count)
        began = time.monotonic()
        lstest.prepared()
        prepare_s = time.monotonic() - began
        server = lstest.LabelStudioServer(root / "data", root)
        start_s = server.start()
        try:
            os.environ[TOKEN_ENV] = lstest.ADMIN.token
            config = Config()
            config.annotate.url, config.annotate.token_env = server.url, TOKEN_ENV
            config.annotate.project, config.annotate.document_root = "bench", str(root)
            studio = Studio(server.url, lstest.ADMIN.token)

            floor = studio.client.projects.create(title="floor", label_config=labeling_config())
            tasks = [{"video": f"/data/local-files/?d=clips/{i}.mp4", "key": str(i)} for i in range(count)]
            began = time.monotonic()
            studio.import_tasks(floor.id, tasks)
            import_floor_s = time.monotonic() - began

            began = time.monotonic()
            pushed = run_push(config, table.parent, root / "annotate")
            push_s = time.monotonic() - began
            began = time.monotonic()
            again = run_push(config, table.parent, root / "annotate")
            push_again_s = time.monotonic() - began
            assert pushed.counts["imported"] == count and again.counts["imported"] == 0

            began = time.monotonic()
            for account in lstest.ANNOTATORS:
                annotator = Studio(server.url, account.token).client
                for task in annotator.tasks.list(project=pushed.project, page_size=1000):
                    annotator.annotations.create(id=task.id, result=PASS)
            annotate_s = time.monotonic() - began

            began = time.monotonic()
            studio.export(pushed.project)
            export_floor_s = time.monotonic() - began
            began = time.monotonic()
            pulled = run_pull(config, root / "annotate")
            pull_s = time.monotonic() - began
            assert pulled.agreement["consensus"]["accepted"] == count
        finally:
            server.stop()
    figures = {
        "clips": count,
        "prepare_once_s": round(prepare_s, 2),
        "start_from_prepared_copy_s": round(start_s, 2),
        "import_floor_s": round(import_floor_s, 2),
        "push_s": round(push_s, 2),
        "push_ratio": round(push_s / import_floor_s, 2),
        "push_again_s": round(push_again_s, 2),
        "two_annotators_via_api_s": round(annotate_s, 2),
        "export_floor_s": round(export_floor_s, 2),
        "pull_s": round(pull_s, 2),
        "pull_ratio": round(pull_s / export_floor_s, 2),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
