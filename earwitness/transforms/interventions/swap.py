"""swap: the audio replaced by another clip's, of a different class from the same split."""

import random
from pathlib import Path

from earwitness.transforms.interventions.base import Clip, Intervention, Pools, Variant
from earwitness.transforms.media import Media


class Swap(Intervention):
    name = "swap"

    def __init__(self, donors: dict[str, int] | int | None = None):
        # donors per clip, by split ("*" for the rest): one for evaluation, ten for training
        self.donors = donors if donors is not None else {"eval": 1, "*": 10}

    def count(self, split: str) -> int:
        if isinstance(self.donors, int):
            return self.donors
        return self.donors.get(split, self.donors.get("*", 1))

    def plan(self, clip: Clip, rng: random.Random, pools: Pools) -> list[Variant]:
        candidates = pools.donors_for(clip)
        chosen = rng.sample(candidates, min(self.count(clip.split), len(candidates)))
        return [
            self.variant(
                clip,
                {"donor": donor.key, "donor_class_id": donor.class_id, "donor_class": donor.class_name},
                audio=donor.class_name,
                visual=clip.class_name,
                suffix=str(i),
                borrowed=donor,
            )
            for i, donor in enumerate(chosen)
        ]

    def render(self, variant: Variant, out: Path, media: Media) -> None:
        media.copy_video_with_audio_of(variant.clip.path, variant.borrowed.path, out, variant.clip.seconds)
