"""Versioned prompt sets. A verdict names the version it was asked with; change a prompt, add a version."""

from __future__ import annotations

from dataclasses import dataclass

# (question, what the model sees): (a) to (d) of the MMA-Bench verifier
QUESTIONS = {
    "visual_muted": ("visual", "frames"),  # (a) the frames with the audio removed
    "audio_black": ("audio", "black"),  # (b) black frames with the audio
    "visual_full": ("visual", "full"),  # (c) the full clip
    "audio_full": ("audio", "full"),  # (d) the full clip
}


@dataclass(frozen=True)
class PromptSet:
    version: str
    system: str
    visual: str  # formatted with the class name
    audio: str
    yes: str  # the answer words whose next-token logits are compared
    no: str

    def question(self, name: str, class_name: str) -> str:
        modality, _ = QUESTIONS[name]
        return (self.visual if modality == "visual" else self.audio).format(name=class_name.lower())

    def prefix(self, media: str) -> str:
        """Everything before the question: the same for (c) and (d), so its keys and values are shared."""
        return f"<|im_start|>system\n{self.system}<|im_end|>\n<|im_start|>user\n{media}"

    def suffix(self, name: str, class_name: str) -> str:
        return f"{self.question(name, class_name)}<|im_end|>\n<|im_start|>assistant\n"


PROMPTS = {
    "v1": PromptSet(
        version="v1",
        # Qwen2.5-Omni's own system prompt: the model card says other prompts degrade its audio understanding
        system="You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving "
        "auditory and visual inputs, as well as generating text and speech.",
        visual="Is the {name} clearly visible in this video? Answer with Yes or No only.",
        audio="Is the sound of {name} clearly audible in this video? Answer with Yes or No only.",
        yes="Yes",
        no="No",
    ),
}
