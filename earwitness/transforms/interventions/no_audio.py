"""no_audio: the audio track removed; the picture copied."""

import random
from pathlib import Path

from earwitness.transforms.interventions.base import Clip, Intervention, Pools, Variant
from earwitness.transforms.media import BITEXACT, Media


class NoAudio(Intervention):
    name = "no_audio"

    def plan(self, clip: Clip, rng: random.Random, pools: Pools) -> list[Variant]:
        return [self.variant(clip, {}, audio=None, visual=clip.class_name)]

    def render(self, variant: Variant, out: Path, media: Media) -> None:
        media.run(["-i", variant.clip.path, "-map", "0:v:0", "-c", "copy", "-an", *BITEXACT, "-y", str(out)])
