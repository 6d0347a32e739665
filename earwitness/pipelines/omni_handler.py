"""A Beam RunInference ModelHandler for the Qwen omni thinkers: decoded clips in, verdicts out.

One model per worker machine when shared (Beam proxies calls to it across the machine's
processes), batches of clips of similar frame size, and a GPU resource hint for runners that
honour them (Dataflow).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from earwitness.errors import EarwitnessError
from earwitness.transforms.verifier.clip_arrays import ClipArrays
from earwitness.transforms.verifier.prompts import PROMPTS

log = logging.getLogger(__name__)

# model_type in config.json -> the thinker and processor classes in transformers, and how to ask it
QWEN25 = ("Qwen2_5OmniThinkerForConditionalGeneration", "Qwen2_5OmniProcessor", "OmniScorer")
QWEN3 = ("Qwen3OmniMoeThinkerForConditionalGeneration", "Qwen3OmniMoeProcessor", "PlainScorer")
FAMILIES = {
    "qwen2_5_omni": QWEN25,
    "qwen2_5_omni_thinker": QWEN25,
    "qwen3_omni_moe": QWEN3,
    "qwen3_omni_moe_thinker": QWEN3,
}


@dataclass(frozen=True)
class ScorerSettings:
    """Everything a worker needs to load the model and ask: small and picklable."""

    model: str
    device: str = "auto"
    dtype: str = "auto"
    attention: str = "sdpa"
    prompts: str = "v1"
    threshold: float = 0.5
    order: tuple[str, ...] = ("visual_muted", "audio_black", "audio_full", "visual_full")
    early_stop: bool = True
    fps: float = 2.0
    min_pixels: int = 128 * 28 * 28
    max_pixels: int = 360 * 640


def load_scorer(settings: ScorerSettings):
    import torch
    import transformers

    from earwitness.transforms.verifier import scorer

    thinker_name, processor_name, scorer_name = FAMILIES[model_family(settings.model)]
    thinker_class, processor_class = getattr(transformers, thinker_name), getattr(transformers, processor_name)
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = settings.dtype
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    transformers.utils.logging.disable_progress_bar()  # a bar per worker's load is noise in a pipeline's log
    model = thinker_class.from_pretrained(
        settings.model, dtype=getattr(torch, dtype), attn_implementation=settings.attention
    )
    model = model.to(device).eval()
    processor = processor_class.from_pretrained(settings.model)
    return getattr(scorer, scorer_name)(
        model,
        processor,
        PROMPTS[settings.prompts],
        threshold=settings.threshold,
        order=list(settings.order),
        early_stop=settings.early_stop,
        fps=settings.fps,
        min_pixels=settings.min_pixels,
        max_pixels=settings.max_pixels,
    )


def model_family(model: str) -> str:
    """The model's family from its config.json, local or on the hub (offline, from the cache)."""
    from transformers import AutoConfig

    try:
        model_type = AutoConfig.from_pretrained(model).model_type
    except (OSError, ValueError) as exc:
        raise EarwitnessError(f"{model}: not a model folder or hub id transformers can load ({exc})") from None
    if model_type not in FAMILIES:
        raise EarwitnessError(f"{model}: a {model_type} model; the verifier knows {', '.join(sorted(FAMILIES))}")
    return model_type


def model_identity(model: str) -> str:
    """What a verdict is cached under: a hub id as given, a local folder by its name and content's fingerprint."""
    folder = Path(model)
    if not folder.is_dir():
        return model
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder)}:{path.stat().st_size}\n".encode())
        if path.suffix == ".json":
            digest.update(path.read_bytes())
    return f"{folder.name}@{digest.hexdigest()[:12]}"


def frame_pixels(clip: ClipArrays) -> int:
    return int(clip.frames.shape[1] * clip.frames.shape[2])


class OmniModelHandler(ModelHandler[ClipArrays, PredictionResult, Any]):
    def __init__(
        self,
        settings: ScorerSettings,
        *,
        min_batch_size: int = 1,
        max_batch_size: int = 4,
        max_batch_duration_secs: float = 10.0,
        shared: bool = True,
        copies: int = 1,
        accelerator: str | None = None,
    ):
        super().__init__()
        self.settings = settings
        self._batching = {
            "min_batch_size": min_batch_size,
            "max_batch_size": max_batch_size,
            "max_batch_duration_secs": max_batch_duration_secs,
            # clips of similar frame size together, so a batch pads little
            "length_fn": frame_pixels,
            "bucket_boundaries": [settings.max_pixels // 4, settings.max_pixels // 2],
        }
        self._shared, self._copies, self._accelerator = shared, copies, accelerator

    def load_model(self):
        return load_scorer(self.settings)

    def run_inference(
        self, batch: Sequence[ClipArrays], model, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        try:
            verdicts = model.score(list(batch))
        except Exception as exc:  # one bad clip must not cost its batch: ask each alone
            log.warning(f"verify: a batch of {len(batch)} failed ({exc!r}); asking clip by clip")
            verdicts = [self._alone(model, clip) for clip in batch]
        return [
            PredictionResult(clip, verdict, self.settings.model) for clip, verdict in zip(batch, verdicts, strict=True)
        ]

    @staticmethod
    def _alone(model, clip: ClipArrays) -> dict:
        try:
            return model.score([clip])[0]
        except Exception as exc:
            return {"error": f"internal_error: {type(exc).__name__}: {exc}"}

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return self._batching

    def share_model_across_processes(self) -> bool:
        return self._shared

    def model_copies(self) -> int:
        return self._copies

    def get_resource_hints(self) -> dict[str, Any]:
        return {"accelerator": self._accelerator} if self._accelerator else {}

    def get_metrics_namespace(self) -> str:
        return "verify"

    def __repr__(self) -> str:
        return f"OmniModelHandler({json.dumps(self.settings.model)})"
