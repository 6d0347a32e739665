"""aligned: the clip as it is, sound and picture of one class."""

import random
import shutil
from pathlib import Path

from earwitness.transforms.interventions.base import Clip, Intervention, Pools, Variant
from earwitness.transforms.media import Media


class Aligned(Intervention):
    name = "aligned"

    def plan(self, clip: Clip, rng: random.Random, pools: Pools) -> list[Variant]:
        return [self.variant(clip, {}, audio=clip.class_name, visual=clip.class_name)]

    def render(self, variant: Variant, out: Path, media: Media) -> None:
        shutil.copyfile(variant.clip.path, out)
