"""The four questions scored from the next-token logits of "Yes" and "No", as cheaply as the answer allows.

A naive verifier makes four full passes per clip. Here each clip is decoded once; its frames and
audio go through the model's encoders once ((a), (c) and (d) share the frames' encoding, (b) and
(c)/(d) the audio's, and black frames are encoded once per frame size for all clips); (c) and (d)
differ only in the question, so the prompt before it is prefilled once and its keys and values
reused; and with early stop a clip is asked nothing more after its first "no". Only the language
model's prefill is counted as tokens: that is where the cost of a 7B omni model lies.

Questions go to the model as batches of clips, left-padded; the shared prefix is kept per batch.
`naive_scores` asks through the thinker's own forward, four full passes: tests hold the savings
to it, and the benchmark measures against it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch

from earwitness.transforms.verifier.clip_arrays import MODEL_RATE, ClipArrays
from earwitness.transforms.verifier.prompts import QUESTIONS, PromptSet


def decide(scores: dict, threshold: float, order: list[str], early_stop: bool) -> dict | None:
    """The verdict from P(yes) per question: passed, the first that said no, and those early stop skipped.

    None when a question the verdict needs has no score (so the clip must be asked again).
    """
    first_failed, skipped = None, []
    for name in order:
        score = scores.get(name)
        if score is None:
            if early_stop and first_failed is not None:
                skipped.append(name)
                continue
            return None
        if score < threshold and first_failed is None:
            first_failed = name
    return {"passed": first_failed is None, "first_failed": first_failed, "skipped": skipped}


@dataclass
class Encoded:
    """One clip's inputs, through the processor and the encoders once."""

    clip: ClipArrays
    ids_full: list[int]  # the prompt up to the question, frames and audio interleaved
    ids_frames: list[int]  # the same with the frames only
    grid: torch.Tensor  # the video's (t, h, w) patch grid
    second_per_grid: float
    audio_frames: int  # Whisper feature frames (for the audio's rope positions)
    video: torch.Tensor  # encoded frames, one row per video token
    black: torch.Tensor  # encoded black frames of the same size
    audio: torch.Tensor  # encoded audio, one row per audio token


class OmniScorer:
    def __init__(
        self,
        model,
        processor,
        prompts: PromptSet,
        threshold: float = 0.5,
        order: list[str] | None = None,
        early_stop: bool = True,
        fps: float = 2.0,
        min_pixels: int = 128 * 28 * 28,
        max_pixels: int = 360 * 640,
    ):
        self.model, self.processor, self.prompts = model, processor, prompts
        self.threshold, self.early_stop = threshold, early_stop
        self.order = order or list(QUESTIONS)
        tokenizer = processor.tokenizer
        self.yes = tokenizer.encode(prompts.yes, add_special_tokens=False)[0]
        self.no = tokenizer.encode(prompts.no, add_special_tokens=False)[0]
        self.pad = tokenizer.pad_token_id
        self.video_id, self.audio_id = model.config.video_token_id, model.config.audio_token_id
        self.video_kwargs = {
            "fps": fps, "do_sample_frames": False, "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels},
            "cap_pixels_per_frame": True,  # as qwen-vl-utils, the reference preprocessing, does
        }  # fmt: skip
        self.merge = processor.video_processor.merge_size
        self.media = f"{tokenizer.vision_bos_token}{tokenizer.video_token}{tokenizer.vision_eos_token}"
        self._black: dict[tuple, torch.Tensor] = {}
        self.device = next(model.parameters()).device
        self.cache_name = _cache_keyword(model.model.language_model)

    # -- the verdicts ------------------------------------------------------------------------------------

    @torch.no_grad()
    def score(self, clips: list[ClipArrays]) -> list[dict]:
        """For each clip: P(yes) per question asked, the verdict, prefill tokens spent and a naive pass's."""
        encoded = [self.encode(c) for c in clips]
        scores: list[dict] = [{} for _ in encoded]
        tokens = [0] * len(encoded)
        failed: list[str | None] = [None] * len(encoded)
        shared = None  # the (c)/(d) prefix of this batch, once computed
        for name in self.order:
            rows = [i for i in range(len(encoded)) if not (self.early_stop and failed[i])]
            if not rows:
                break
            batch = [encoded[i] for i in rows]
            if QUESTIONS[name][1] == "full":
                shared = shared or self._prefill([encoded[i] for i in rows], rows, tokens)
                probs = self._ask_after(shared, rows, name, tokens)
            else:
                probs = self._ask(batch, rows, name, tokens)
            for i, p in zip(rows, probs, strict=True):
                scores[i][name] = p
                if p < self.threshold and failed[i] is None:
                    failed[i] = name
        results = []
        for enc, score, spent in zip(encoded, scores, tokens, strict=True):
            verdict = decide(score, self.threshold, self.order, self.early_stop)
            results.append(
                {"scores": score, **verdict, "prefill_tokens": spent, "naive_tokens": self.naive_tokens(enc)}
            )
        return results

    def naive_tokens(self, enc: Encoded) -> int:
        suffix = {name: len(self._suffix_ids(enc, name)) for name in QUESTIONS}
        full = len(enc.ids_full)
        return (
            len(enc.ids_frames)
            + suffix["visual_muted"]
            + sum(full + suffix[n] for n in QUESTIONS if n != "visual_muted")
        )

    # -- encoding once -----------------------------------------------------------------------------------

    def encode(self, clip: ClipArrays) -> Encoded:
        processor, model = self.processor, self.model.model
        inputs = processor(
            text=[self.prompts.prefix(self.media)],
            videos=[clip.frames],
            audio=[clip.audio],
            audio_from_video_indices=[0],
            load_audio_from_video=True,
            sampling_rate=MODEL_RATE,
            videos_kwargs=self.video_kwargs,
            return_tensors="pt",
        ).to(self.device)
        grid = inputs["video_grid_thw"]
        pixels = inputs["pixel_values_videos"].to(self.model.dtype)
        video = model.get_video_features(pixels, grid, return_dict=True).pooler_output[0]
        mask = inputs["feature_attention_mask"]
        features = inputs["input_features"].to(self.model.dtype)
        audio = model.get_audio_features(features, mask, return_dict=True).last_hidden_state
        ids_full = inputs["input_ids"][0].tolist()
        if ids_full.count(self.audio_id) != len(audio):
            raise RuntimeError(f"{clip.key}: {ids_full.count(self.audio_id)} audio tokens for {len(audio)} features")
        n_video = int(grid[0].prod()) // self.merge**2
        video_token = processor.tokenizer.video_token
        frames_only = self.prompts.prefix(self.media.replace(video_token, video_token * n_video))
        return Encoded(
            clip=clip,
            ids_full=ids_full,
            ids_frames=processor.tokenizer.encode(frames_only, add_special_tokens=False),
            grid=grid[0],
            second_per_grid=float(inputs["video_second_per_grid"][0]),
            audio_frames=int(mask[0].sum()),
            video=video,
            black=self._black_frames(clip.frames.shape, pixels.shape),
            audio=audio,
        )

    def _black_frames(self, shape: tuple, pixels_shape: tuple) -> torch.Tensor:
        if shape not in self._black:
            black = np.zeros(shape, dtype=np.uint8)
            inputs = self.processor.video_processor(videos=[black], return_tensors="pt", **self.video_kwargs)
            pixels = inputs["pixel_values_videos"].to(self.device, self.model.dtype)
            assert pixels.shape == pixels_shape, "black frames must patch like the clip's"
            grid = inputs["video_grid_thw"].to(self.device)
            self._black[shape] = self.model.model.get_video_features(pixels, grid, return_dict=True).pooler_output[0]
        return self._black[shape]

    # -- asking ------------------------------------------------------------------------------------------

    def _suffix_ids(self, enc: Encoded, name: str) -> list[int]:
        text = self.prompts.suffix(name, enc.clip.class_name)
        return self.processor.tokenizer.encode(text, add_special_tokens=False)

    def _embed(self, enc: Encoded, ids: list[int], black: bool) -> torch.Tensor:
        tensor = torch.tensor(ids, device=self.device)
        embeds = self.model.get_input_embeddings()(tensor)
        embeds[tensor == self.video_id] = (enc.black if black else enc.video).to(embeds.dtype)
        if self.audio_id in ids:
            embeds[tensor == self.audio_id] = enc.audio.to(embeds.dtype)
        return embeds

    def _ask(self, batch: list[Encoded], rows: list[int], name: str, tokens: list[int]) -> list[float]:
        """One full pass over the batch: prompt, media, question."""
        media = QUESTIONS[name][1]
        sequences = []
        for enc in batch:
            prefix = enc.ids_frames if media == "frames" else enc.ids_full
            ids = prefix + self._suffix_ids(enc, name)
            sequences.append((ids, self._embed(enc, ids, black=media == "black")))
        ids, embeds, mask = self._left_pad(sequences)
        positions = self._positions(batch, ids, mask, with_audio=media != "frames")
        hidden = self.model.model.language_model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions)
        _add_tokens(tokens, rows, [len(s[0]) for s in sequences])
        return self._p_yes(hidden.last_hidden_state[:, -1])

    def _prefill(self, batch: list[Encoded], rows: list[int], tokens: list[int]) -> dict:
        sequences = [(enc.ids_full, self._embed(enc, enc.ids_full, black=False)) for enc in batch]
        ids, embeds, mask = self._left_pad(sequences)
        positions = self._positions(batch, ids, mask, with_audio=True)
        out = self.model.model.language_model(
            inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True
        )
        _add_tokens(tokens, rows, [len(s[0]) for s in sequences])
        # text after the media continues from the largest position the prompt used
        following = positions.masked_fill(mask[None] == 0, -1).amax(dim=(0, 2)) + 1
        return {"rows": rows, "batch": batch, "cache": getattr(out, self.cache_name), "mask": mask, "next": following}

    def _ask_after(self, shared: dict, rows: list[int], name: str, tokens: list[int]) -> list[float]:
        """The question alone, after the shared prefix's cached keys and values."""
        keep = [shared["rows"].index(i) for i in rows]
        cache = shared["cache"]
        if len(keep) < len(shared["rows"]):  # early stop dropped some clips since the prefix was filled
            cache.batch_select_indices(torch.tensor(keep, device=self.device))
            shared.update(
                rows=rows,
                batch=[shared["batch"][k] for k in keep],
                mask=shared["mask"][keep],
                next=shared["next"][keep],
            )
        suffixes = [self._suffix_ids(enc, name) for enc in shared["batch"]]
        sequences = [
            (ids, self.model.get_input_embeddings()(torch.tensor(ids, device=self.device))) for ids in suffixes
        ]
        ids, embeds, mask = self._left_pad(sequences)
        steps = (mask.cumsum(dim=1) - 1).clamp(min=0)
        positions = (shared["next"][:, None] + steps)[None].expand(3, -1, -1)
        hidden = self.model.model.language_model(
            inputs_embeds=embeds,
            attention_mask=torch.cat([shared["mask"], mask], dim=1),
            position_ids=positions,
            use_cache=True,
            **{self.cache_name: cache},
        )
        cache.crop(-ids.shape[1])  # back to the prefix alone, for the other question
        _add_tokens(tokens, rows, [len(s) for s in suffixes])
        return self._p_yes(hidden.last_hidden_state[:, -1])

    def _left_pad(self, sequences: list[tuple[list[int], torch.Tensor]]):
        width = max(len(ids) for ids, _ in sequences)
        hidden = sequences[0][1].shape[1]
        ids = torch.full((len(sequences), width), self.pad, device=self.device)
        embeds = torch.zeros((len(sequences), width, hidden), dtype=sequences[0][1].dtype, device=self.device)
        mask = torch.zeros((len(sequences), width), dtype=torch.long, device=self.device)
        for row, (seq, emb) in enumerate(sequences):
            ids[row, width - len(seq) :] = torch.tensor(seq, device=self.device)
            embeds[row, width - len(seq) :] = emb
            mask[row, width - len(seq) :] = 1
        return ids, embeds, mask

    def _positions(self, batch: list[Encoded], ids: torch.Tensor, mask: torch.Tensor, with_audio: bool):
        positions, _ = self.model.model.get_rope_index(
            ids,
            None,
            torch.stack([enc.grid for enc in batch]),
            mask,
            use_audio_in_video=with_audio,
            audio_seqlens=torch.tensor([enc.audio_frames for enc in batch], device=self.device),
            second_per_grids=torch.tensor([enc.second_per_grid for enc in batch], device=self.device),
        )
        return positions

    def _p_yes(self, last_hidden: torch.Tensor) -> list[float]:
        logits = self.model.lm_head(last_hidden).float()
        return torch.sigmoid(logits[:, self.yes] - logits[:, self.no]).tolist()

    # -- the reference: full passes through the thinker's own forward, the processor building every input --

    @torch.no_grad()
    def naive_scores(self, clip: ClipArrays) -> dict[str, float]:
        """Four separate full passes: what every saving above is held to."""
        return {name: self._plain_pass([clip], name)[0][0] for name in QUESTIONS}

    def _plain_pass(self, clips: list[ClipArrays], name: str) -> tuple[list[float], list[int]]:
        media = QUESTIONS[name][1]
        with_audio = media != "frames"
        extra = {"audio": [c.audio for c in clips], "audio_from_video_indices": list(range(len(clips)))}
        inputs = self.processor(
            text=[self.prompts.prefix(self.media) + self.prompts.suffix(name, c.class_name) for c in clips],
            videos=[np.zeros_like(c.frames) if media == "black" else c.frames for c in clips],
            load_audio_from_video=with_audio, sampling_rate=MODEL_RATE, videos_kwargs=self.video_kwargs,
            padding=True, return_tensors="pt", **(extra if with_audio else {}),
        ).to(self.device)  # fmt: skip
        if with_audio and not (inputs["input_ids"] == self.audio_id).any(dim=1).all():
            raise RuntimeError("the processor dropped the audio of a clip")
        hidden = self.model.model(**inputs, use_audio_in_video=with_audio).last_hidden_state
        return self._p_yes(hidden[:, -1]), inputs["attention_mask"].sum(dim=1).tolist()


class PlainScorer(OmniScorer):
    """Every question a full pass through the thinker's own forward: for models whose encoders feed the
    language model in ways the shared path does not reproduce (Qwen3-Omni's deepstack visual features).
    Still one decode per clip, batches and early stop; no shared encoding or prefix."""

    @torch.no_grad()
    def score(self, clips: list[ClipArrays]) -> list[dict]:
        scores: list[dict] = [{} for _ in clips]
        lengths: list[dict] = [{} for _ in clips]
        failed: list[str | None] = [None] * len(clips)
        for name in self.order:
            rows = [i for i in range(len(clips)) if not (self.early_stop and failed[i])]
            if not rows:
                break
            probs, counts = self._plain_pass([clips[i] for i in rows], name)
            for i, p, n in zip(rows, probs, counts, strict=True):
                scores[i][name], lengths[i][name] = p, n
                if p < self.threshold and failed[i] is None:
                    failed[i] = name
        results = []
        for clip, score, spent in zip(clips, scores, lengths, strict=True):
            naive = sum(spent.get(n) or self._length(clip, n) for n in QUESTIONS)
            verdict = decide(score, self.threshold, self.order, self.early_stop)
            results.append({"scores": score, **verdict, "prefill_tokens": sum(spent.values()), "naive_tokens": naive})
        return results

    def _length(self, clip: ClipArrays, name: str) -> int:
        """A skipped question's length, for the naive count: the processor alone, no model."""
        media = QUESTIONS[name][1]
        extra = {"audio": [clip.audio], "audio_from_video_indices": [0]} if media != "frames" else {}
        inputs = self.processor(
            text=[self.prompts.prefix(self.media) + self.prompts.suffix(name, clip.class_name)], videos=[clip.frames],
            load_audio_from_video=media != "frames", sampling_rate=MODEL_RATE, videos_kwargs=self.video_kwargs, **extra,
        )  # fmt: skip
        return len(inputs["input_ids"][0])


def _add_tokens(tokens: list[int], rows: list[int], counts: list[int]) -> None:
    for i, n in zip(rows, counts, strict=True):
        tokens[i] += n


def _cache_keyword(language_model) -> str:
    """What the language model calls its key-value cache: transformers 5.24 renamed `past_key_values`
    (warning from then on) to `cache`, in its forward's keywords and in its outputs."""
    return "cache" if "cache" in inspect.signature(language_model.forward).parameters else "past_key_values"
