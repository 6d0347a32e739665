"""Preference pairs for alignment training, from the variants of one clip.

- audio attribution (ACPO): swapped audio, the audio question; chosen: the audio's true class,
  rejected: the visible class;
- audio sensitivity (ACPO): the clip's own caption, chosen under the aligned audio, rejected
  under a mismatched one (two samples, one text);
- intervention-derived (Thud): for shift, mute and swap, chosen is what the intervention made
  true, rejected the answer the picture suggests.
"""

from __future__ import annotations

from earwitness.transforms.interventions import Variant
from earwitness.transforms.questions import AUDIBLE, CLASS_QUESTION, SYNC, SYNC_OPTIONS, QuestionSet

DESCRIBE = "Describe the sound in this video in one sentence."


def preference_pairs(variants: list[Variant], questions: QuestionSet) -> list[dict]:
    """All pairs for the variants of one clip."""
    aligned = next((v for v in variants if v.intervention == "aligned"), None)
    rows = []
    audio_question = CLASS_QUESTION.format(modality="audio", options=", ".join(questions.options))
    for v in variants:
        clip_class = v.clip.class_name
        if v.intervention == "swap":
            rows.append(_pair(v, "audio_attribution", audio_question, v, v.audio_class, v, v.visual_class))
            if aligned is not None:
                caption = f"The sound of {clip_class}."
                rows.append(_pair(v, "audio_sensitivity", DESCRIBE, aligned, caption, v, caption))
            rows.append(_pair(v, "swap", AUDIBLE.format(name=clip_class), v, "no", v, "yes"))
        elif v.intervention == "shift":
            chosen = f"audio {v.params['direction']}"
            rows.append(_pair(v, "shift", SYNC.format(options=", ".join(SYNC_OPTIONS)), v, chosen, v, "synchronised"))
        elif v.intervention == "mute":
            rows.append(_pair(v, "mute", AUDIBLE.format(name=clip_class), v, "no", v, "yes"))
    return rows


def _pair(
    v: Variant, kind: str, prompt: str, chosen_on: Variant, chosen: str, rejected_on: Variant, rejected: str
) -> dict:
    return {
        "pid": f"{v.key}-{kind}",
        "split": v.clip.split,
        "kind": kind,
        "prompt": prompt,
        "chosen_key": chosen_on.key,
        "chosen": chosen,
        "rejected_key": rejected_on.key,
        "rejected": rejected,
    }
