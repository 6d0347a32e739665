"""Questions whose right answers follow from how each variant was made.

For a variant whose picture shows class V (or nothing) and whose sound is class A (or nothing):
class questions (visual- and audio-focused, plain, after a misleading caption, after a long
irrelevant context), yes/no probes for the sound and the sight of the classes involved, the sync
question for aligned and shifted clips, and the matching question for aligned and mismatched
ones. "None of the above" is always an option, and the answer wherever there is nothing to see or
hear.
"""

from __future__ import annotations

from dataclasses import dataclass

from earwitness.transforms.interventions import Variant, seeded

NONE = "None of the above"
SYNC_OPTIONS = ("synchronised", "audio delayed", "audio early")
CLASS_QUESTION = (
    "Which class best describes the {modality} content of this video? Options: {options}. "
    "Answer using a single class name."
)
AUDIBLE = "Is the sound of {name} audible in this video? Answer yes or no."
VISIBLE = "Is {name} visible in this video? Answer yes or no."
SYNC = "Is the audio synchronised with the video, delayed, or early? Options: {options}. Answer with one option."
MATCH = "Do the audio and the video match? Answer yes or no."
FILLER = [
    "the",
    "committee",
    "met",
    "on",
    "a",
    "tuesday",
    "to",
    "review",
    "the",
    "budget",
    "for",
    "the",
    "coming",
    "year",
    "and",
    "agreed",
    "that",
    "the",
    "library",
    "would",
    "keep",
    "its",
    "opening",
    "hours",
    "while",
    "the",
    "garden",
    "project",
    "waits",
    "for",
    "spring",
    "weather",
    "reports",
    "arrived",
    "late",
    "and",
    "the",
    "minutes",
    "were",
    "filed",
    "with",
    "the",
    "archive",
    "after",
    "a",
    "short",
    "discussion",
    "of",
    "parking",
]


@dataclass(frozen=True)
class QuestionSet:
    classes: tuple[str, ...]  # every class name of the release, sorted
    seed: int = 0
    long_context_words: int = 300

    @property
    def options(self) -> list[str]:
        return [*self.classes, NONE]

    def for_variant(self, variant: Variant) -> list[dict]:
        rows = []
        for modality, answer in (("visual", variant.visual_class), ("audio", variant.audio_class)):
            question = CLASS_QUESTION.format(modality=modality, options=", ".join(self.options))
            rng = seeded(self.seed, variant.key, f"question-{modality}")
            wrong = [c for c in self.classes if c not in (variant.visual_class, variant.audio_class)]
            caption = rng.choice(wrong) if wrong else None  # two classes in all leave no wrong one
            filler = " ".join(rng.choice(FILLER) for _ in range(self.long_context_words))
            asked = [("class", question), ("class_long", f"{filler.capitalize()}.\n{question}")]
            if caption:
                asked.insert(1, ("class_caption", f"Video_caption: {caption}. {question}"))
            for kind, text in asked:
                rows.append(self._row(variant, kind, modality, text, self.options, answer or NONE))
        for name in dict.fromkeys(c for c in (variant.clip.class_name, variant.audio_class) if c):
            yes_no = ["yes", "no"]
            heard = "yes" if name == variant.audio_class else "no"
            seen = "yes" if name == variant.visual_class else "no"
            rows.append(self._row(variant, "probe", "audio", AUDIBLE.format(name=name), yes_no, heard, name))
            rows.append(self._row(variant, "probe", "visual", VISIBLE.format(name=name), yes_no, seen, name))
        if variant.intervention in ("aligned", "shift"):
            direction = variant.params.get("direction")
            answer = {"delayed": "audio delayed", "early": "audio early"}.get(direction, "synchronised")
            text = SYNC.format(options=", ".join(SYNC_OPTIONS))
            rows.append(self._row(variant, "sync", "both", text, list(SYNC_OPTIONS), answer))
        if variant.intervention in ("aligned", "swap", "ambient"):
            answer = "yes" if variant.audio_class == variant.visual_class else "no"
            rows.append(self._row(variant, "match", "both", MATCH, ["yes", "no"], answer))
        return rows

    def _row(
        self, variant: Variant, kind: str, modality: str, text: str, options: list[str], answer: str, about: str = ""
    ) -> dict:
        suffix = f"-{about.lower().replace(' ', '_')}" if about else ""
        return {
            "qid": f"{variant.key}-{kind}-{modality}{suffix}",
            "key": variant.key,
            "split": variant.clip.split,
            "variant": variant.intervention,
            "kind": kind,
            "modality": modality,
            "question": text,
            "options": options,
            "answer": answer,
        }
