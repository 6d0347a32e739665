"""ambient: the audio replaced by unrelated ambient sound (bird, rain, wind, thunderstorm, drill)."""

import random
from pathlib import Path

from earwitness.transforms.interventions.base import Clip, Intervention, Pools, Variant
from earwitness.transforms.media import Media


class Ambient(Intervention):
    name = "ambient"

    def plan(self, clip: Clip, rng: random.Random, pools: Pools) -> list[Variant]:
        choices = [c for c in pools.ambient if c.class_id != clip.class_id]
        if not choices:
            return []
        source = rng.choice(choices)
        params = {"ambient": source.key, "ambient_class_id": source.class_id, "ambient_class": source.class_name}
        return [self.variant(clip, params, audio=source.class_name, visual=clip.class_name, borrowed=source)]

    def render(self, variant: Variant, out: Path, media: Media) -> None:
        media.copy_video_with_audio_of(variant.clip.path, variant.borrowed.path, out, variant.clip.seconds)
