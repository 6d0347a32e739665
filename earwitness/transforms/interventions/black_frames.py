"""black_frames: every frame black, the audio kept (a cached black clip, remuxed)."""

import random
from pathlib import Path

from earwitness.transforms.interventions.base import Clip, Intervention, Pools, Variant
from earwitness.transforms.media import Media


class BlackFrames(Intervention):
    name = "black_frames"

    def plan(self, clip: Clip, rng: random.Random, pools: Pools) -> list[Variant]:
        return [self.variant(clip, {}, audio=clip.class_name, visual=None)]

    def render(self, variant: Variant, out: Path, media: Media) -> None:
        clip = variant.clip
        black = media.black_clip(clip.width, clip.height, clip.fps, clip.seconds)
        media.copy_video_with_audio_of(black, clip.path, out, clip.seconds)
