"""shift: the audio samples themselves moved in time, delayed and early, padded with silence."""

import random
from pathlib import Path

import numpy as np

from earwitness.transforms.interventions.base import Clip, Intervention, Pools, Variant
from earwitness.transforms.media import Media, decode_audio


class Shift(Intervention):
    name = "shift"

    def __init__(self, low_s: float = 1.8, high_s: float = 2.5):  # Thud's released training range
        self.low_s, self.high_s = low_s, high_s

    def plan(self, clip: Clip, rng: random.Random, pools: Pools) -> list[Variant]:
        variants = []
        for direction, sign in (("delayed", 1), ("early", -1)):
            samples = round(rng.uniform(self.low_s, self.high_s) * clip.sample_rate)
            params = {
                "direction": direction,
                "offset_samples": sign * samples,
                "offset_ms": round(sign * samples * 1000 / clip.sample_rate),
            }
            variants.append(
                self.variant(clip, params, audio=clip.class_name, visual=clip.class_name, suffix=f"_{direction}")
            )
        return variants

    def render(self, variant: Variant, out: Path, media: Media) -> None:
        samples, rate = decode_audio(variant.clip.path)
        media.with_samples(variant.clip.path, shifted(samples, variant.params["offset_samples"]), rate, out)


def shifted(samples: np.ndarray, offset: int) -> np.ndarray:
    """Positive offsets delay the sound, negative ones bring it early; the length never changes."""
    out = np.zeros_like(samples)
    if abs(offset) >= samples.shape[1]:
        return out  # moved past the end: nothing of the sound is left in the clip
    if offset >= 0:
        out[:, offset:] = samples[:, : samples.shape[1] - offset]
    else:
        out[:, :offset] = samples[:, -offset:]
    return out
