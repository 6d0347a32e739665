"""mute: the audio replaced by digital silence of the same length; the track stays."""

import random
from pathlib import Path

import numpy as np

from earwitness.transforms.interventions.base import Clip, Intervention, Pools, Variant
from earwitness.transforms.media import Media


class Mute(Intervention):
    name = "mute"

    def plan(self, clip: Clip, rng: random.Random, pools: Pools) -> list[Variant]:
        return [self.variant(clip, {}, audio=None, visual=clip.class_name)]

    def render(self, variant: Variant, out: Path, media: Media) -> None:
        clip = variant.clip
        silence = np.zeros((clip.channels, round(clip.seconds * clip.sample_rate)), dtype=np.float32)
        media.with_samples(clip.path, silence, clip.sample_rate, out)
