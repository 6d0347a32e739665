"""The intervention base: every variant of a clip is planned, then rendered.

`plan` is pure: from the clip, the build's seeded random generator and the pools of other
clips, it returns the variants to make and their parameters (what the manifests record).
`render` makes one planned variant's media with as few processes as possible. A subclass is
one small module; the registry finds it through the `earwitness.interventions` entry point.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class Clip:
    """A stored, normalised clip (a row of acquire's clips table)."""

    key: str
    split: str
    class_id: str
    class_name: str
    path: str
    seconds: float = 10.0
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int = 44100
    channels: int = 2
    ytid: str = ""
    start_ms: int = 0
    end_ms: int = 0


@dataclass(frozen=True)
class Pools:
    """The other clips an intervention may borrow from: same split only, so no clip leaks across."""

    by_class: dict[str, list[Clip]] = field(default_factory=dict)  # class_id -> clips, in key order
    ambient: list[Clip] = field(default_factory=list)

    def donors_for(self, clip: Clip) -> list[Clip]:
        return [c for cls, clips in sorted(self.by_class.items()) if cls != clip.class_id for c in clips]


@dataclass(frozen=True)
class Variant:
    """One planned variant: `name` is unique per clip (swap with three donors gives three)."""

    key: str  # the sample key: {clip key}_{name}, no dots
    clip: Clip
    intervention: str
    params: dict[str, Any]
    audio_class: str | None  # the class the audio really is, or None when there is no sound
    visual_class: str | None  # the class the picture really shows, or None when it shows nothing
    borrowed: Clip | None = None  # the other clip whose sound this variant uses (swap, ambient)


class Intervention(ABC):
    name: ClassVar[str]

    @abstractmethod
    def plan(self, clip: Clip, rng: random.Random, pools: Pools) -> list[Variant]: ...

    @abstractmethod
    def render(self, variant: Variant, out: Path, media: Any) -> None: ...

    def variant(
        self,
        clip: Clip,
        params: dict[str, Any],
        audio: str | None,
        visual: str | None,
        suffix: str = "",
        borrowed: Clip | None = None,
    ) -> Variant:
        return Variant(f"{clip.key}_{self.name}{suffix}", clip, self.name, params, audio, visual, borrowed)


def seeded(seed: int, key: str, name: str) -> random.Random:
    """The same seed, clip and intervention give the same draws on every machine and run."""
    return random.Random(f"{seed}:{key}:{name}")
