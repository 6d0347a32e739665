"""The demo: every stage that can run offline, on the embedded demo ontology and generated inputs.

prune -> acquire -> verify (a tiny random Qwen2.5-Omni thinker, when the verify extra is installed)
-> build -> publish (to <out>/published). annotate needs a Label Studio server and people, so the
demo leaves it out and says so; the Airflow DAG's test runs it against a real server.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from earwitness import demo
from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import Config

CLIPS_PER_SPLIT = 12
DEMO_NAME = "demo"


def can_verify() -> bool:
    return all(importlib.util.find_spec(name) for name in ("torch", "transformers"))


def demo_config(out: Path, seed: int) -> Config:
    """The demo's settings, with its generated segment lists written below out/inputs."""
    segments = demo.write_demo_segments(out / "inputs", seed)
    settings = Config(name=DEMO_NAME, out=str(out))
    settings.prune.ontology, settings.prune.policy = demo.ONTOLOGY, demo.POLICY
    settings.prune.segments = [str(p) for p in segments]
    settings.prune.max_malformed_fraction = 0.05  # the demo carries one malformed row per split on purpose
    settings.verify.model = str(out / "model")
    settings.verify.threshold = 0.0  # the model is random: its answers mean nothing, so every clip passes
    settings.verify.min_pixels, settings.verify.max_pixels = 28 * 28 * 16, 112 * 112  # small frames: seconds
    settings.build.ambient_classes = ["/demo/train", "/demo/vacuum", "/demo/blender"]
    settings.build.options = {"swap": {"donors": {"eval": 1, "*": 2}}}
    settings.build.shard_samples = 8
    settings.publish.dest = str(out / "published")
    settings.stages = [s for s in demo.STAGES if s != "verify" or can_verify()]
    return settings


def write_model(settings: Config) -> None:
    """The tiny thinker and its processor as a model folder, the way real weights come."""
    from earwitness.transforms.verifier.tiny import save_tiny_model

    if "verify" in settings.stages and not Path(settings.verify.model, "config.json").exists():
        save_tiny_model(settings.verify.model)


def prepare(out: Path, seed: int) -> Config:
    """The inputs, a clip source, the model and <out>/config.yaml, without running a stage (for the DAG)."""
    settings = demo_config(out, seed)
    source = demo.write_demo_segment_source(settings.prune.segments, out / "source", CLIPS_PER_SPLIT)
    settings.acquire.source = str(source)
    write_model(settings)
    return settings


def clear_outputs(out: Path) -> list[str]:
    """Remove what a previous demo built and published (a release folder and a published version are never
    written twice); prune, acquire and verify reuse their earlier work. Returns what was removed. A folder
    that holds anything but the demo's own release is refused, never deleted."""
    removed = []
    for name in ("release", "published"):
        if not (out / name).exists():
            continue
        if not _demo_made(out / name):
            raise EarwitnessError(f"{out / name}: not the demo's; give the demo a folder of its own (--out)")
        shutil.rmtree(out / name)
        removed.append(name)
    return removed


def _demo_made(folder: Path) -> bool:
    """True when every release in `folder` (built, or published under its versions) is named demo: its
    dataset card's title is `# demo <version>`."""
    cards = [*folder.glob("README.md"), *folder.glob("*/README.md")]
    return bool(cards) and all(
        any(line.startswith(f"# {DEMO_NAME} ") for line in c.read_text().splitlines()) for c in cards
    )
