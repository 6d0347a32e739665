"""Shared fixtures: the real AudioSet files in ../shared (skipped where absent) and tiny ontologies."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EARWITNESS_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def audioset() -> Path:
    folder = SHARED / "audioset"
    if not (folder / "ontology.json").exists():
        pytest.skip(f"the real AudioSet files are not at {folder} (set EARWITNESS_SHARED to the shared folder)")
    return folder


def write_ontology(folder: Path, nodes: list[tuple], name: str = "ontology.json") -> Path:
    """nodes: (id, name, [child ids], [restrictions]) tuples, written as an AudioSet ontology.json."""
    document = [
        {"id": i, "name": n, "description": f"{n}.", "child_ids": list(c), "restrictions": list(r)}
        for i, n, c, *rest in nodes
        for r in [rest[0] if rest else []]
    ]
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def write_policy(folder: Path, ambiguous=(), action_less=(), name: str = "policy.yaml") -> Path:
    """Entries are (id, name) pairs; each gets a reason."""
    import yaml

    document = {
        "version": 1,
        "ambiguous": [{"id": i, "name": n, "reason": f"{n} is ambiguous"} for i, n in ambiguous],
        "action_less": [{"id": i, "name": n, "reason": f"{n} has no visible source"} for i, n in action_less],
    }
    path = folder / name
    path.write_text(yaml.safe_dump(document))
    return path


def write_segments(folder: Path, rows: list[str], name: str = "eval_segments.csv", header: bool = True) -> Path:
    lines = [
        "# Segments csv created by a test",
        f"# num_ytids={len(rows)}, num_segs={len(rows)}",
        "# YTID, start_seconds, end_seconds, positive_labels",
    ]
    path = folder / name
    path.write_text("\n".join((lines if header else []) + rows) + "\n")
    return path


# A small ontology with every shape the policy meets: two roots, a multi-parent leaf under two
# classes, a multi-parent leaf under a kept and a removed class, restricted nodes deep and shallow.
TINY = [
    ("/r/animal", "Animal", ["/a/pets", "/a/wild"]),
    ("/a/pets", "Pets", ["/a/dog", "/a/cat"]),
    ("/a/dog", "Dog", ["/a/bark", "/a/growl"]),
    ("/a/bark", "Bark", ["/a/yip"]),
    ("/a/yip", "Yip", []),
    ("/a/growl", "Growl", []),
    ("/a/cat", "Cat", ["/a/growl", "/a/purr", "/a/chirp"]),
    ("/a/purr", "Purr", [], ["blacklist"]),
    ("/a/chirp", "Chirp", []),
    ("/a/wild", "Wild", ["/a/bird", "/a/noise"], ["abstract"]),
    ("/a/bird", "Bird", ["/a/chirp"]),
    ("/a/noise", "Animal noise", []),
    ("/r/things", "Things", ["/t/tools"]),
    ("/t/tools", "Tools", ["/t/hammer", "/t/saw", "/t/hum"]),
    ("/t/hammer", "Hammer", ["/t/nail"]),
    ("/t/nail", "Nailing", []),
    ("/t/saw", "Saw", []),
    ("/t/hum", "Hum", ["/t/buzz"]),
    ("/t/buzz", "Buzz", []),
]
TINY_AMBIGUOUS = [
    ("/r/animal", "Animal"),
    ("/a/pets", "Pets"),
    ("/r/things", "Things"),
    ("/t/tools", "Tools"),
    ("/a/noise", "Animal noise"),
]
TINY_ACTION_LESS = [("/t/hum", "Hum")]


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    return write_ontology(tmp_path, TINY), write_policy(tmp_path, TINY_AMBIGUOUS, TINY_ACTION_LESS)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on 127.0.0.1 serving a temporary folder: (folder, base URL)."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


SMALL_RELEASE_CLASSES = {"Dog": "/c/dog", "Cat": "/c/cat", "Rain": "/c/rain"}


@pytest.fixture(scope="session")
def small_release(tmp_path_factory) -> Path:
    """One small release built once per session (acquired from generated clips): two splits, five
    variants, two samples per shard, so every selection spans several shards. Treat it as read-only."""
    import pyarrow as pa

    from earwitness.demo.clips import make_clip, tone_for
    from earwitness.pipelines.acquire import run_acquire
    from earwitness.pipelines.build import run_build
    from earwitness.pipelines.config import Config
    from earwitness.schemas import CANDIDATES, write_table

    root = tmp_path_factory.mktemp("small_release")
    candidates = []
    for split, count in (("eval", 2), ("balanced_train", 1)):
        rows = []
        for name, class_id in SMALL_RELEASE_CLASSES.items():
            for i in range(count):
                ytid = f"{name[:4]}{split[:4]}{i:03d}"[:11].ljust(11, "x")
                make_clip(root / "source" / f"{ytid}_000000.mp4", 4.2, frequency=tone_for(name))
                rows.append({"ytid": ytid, "start_ms": 0, "end_ms": 4000, "class_id": class_id, "class_name": name,
                             "labels": [class_id], "line": 1})  # fmt: skip
        candidates.append(str(write_table(pa.Table.from_pylist(rows), root / f"{split}.parquet", CANDIDATES)))
    config = Config(name="small")
    config.acquire.source, config.acquire.clip_seconds = str(root / "source"), 4.0
    run_acquire(config, candidates, root / "acquire", show_progress=False)
    config.build.version = "1.2.0"
    config.build.interventions = ["aligned", "swap", "mute", "no_audio", "black_frames"]
    config.build.options = {"swap": {"donors": {"eval": 1, "*": 1}}}
    config.build.shard_samples = 2
    run_build(config, root / "acquire", root / "release")
    return root / "release"


@pytest.fixture(scope="session")
def document_root(tmp_path_factory) -> Path:
    """What the Label Studio server may serve files from: everything the session's tests make."""
    return tmp_path_factory.getbasetemp()


@pytest.fixture(scope="session")
def server(tmp_path_factory, document_root):
    """A real Label Studio server on 127.0.0.1 (from .venv-labelstudio), one per session."""
    from earwitness import testing_labelstudio as lstest

    reason = lstest.available()
    if reason:
        pytest.skip(reason)
    instance = lstest.LabelStudioServer(tmp_path_factory.mktemp("labelstudio") / "data", document_root)
    instance.start()
    yield instance
    instance.stop()
