"""verify: prefill tokens per clip with each saving against four naive passes; clips per second on
the CPU with the tiny model against decoding the same clips (the floor); and a paper estimate for
Qwen2.5-Omni-7B on one H100 from the measured token counts.

Token counts depend only on the processor (frame size, frames per second, audio length), which is
the real Qwen2.5-Omni processor logic here, so they are the 7B model's counts at the same settings.
What early stop saves depends on the verdicts: the tiny model's answers are random, so its share is
shown for pass rates assumed per question, and measured at thresholds that make half the clips fail
the first question.

    python benchmarks/verify_bench.py [--clips 12] [--shared ../shared]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import clip_folder, parser

from earwitness.pipelines.config import VerifyConfig
from earwitness.transforms.verifier.clip_arrays import decode_clip
from earwitness.transforms.verifier.prompts import PROMPTS, QUESTIONS
from earwitness.transforms.verifier.scorer import OmniScorer
from earwitness.transforms.verifier.tiny import tiny_processor, tiny_thinker

ORDER = VerifyConfig().order  # the default: the cheapest question first
# Qwen2.5-Omni-7B: parameters of the language model, the vision and the audio encoder
LLM, VISION, AUDIO = 7.6e9, 0.67e9, 0.64e9
H100_BF16, MFU = 989e12, 0.4  # dense peak; a fair prefill utilisation


def token_parts(scorer: OmniScorer, clips: list) -> list[dict]:
    parts = []
    for clip in clips:
        enc = scorer.encode(clip)
        suffix = {q: len(scorer._suffix_ids(enc, q)) for q in QUESTIONS}
        parts.append(
            {
                "frames": len(enc.ids_frames), "full": len(enc.ids_full), "suffix": suffix,
                "video": len(enc.video), "audio": len(enc.audio), "naive": scorer.naive_tokens(enc),
            }
        )  # fmt: skip
    return parts


def expected_tokens(part: dict, order: list[str], pass_rate: float, share_prefix: bool, stop: bool) -> float:
    """Expected prefill of one clip when each question says yes with probability pass_rate."""
    total, reach, prefilled = 0.0, 1.0, False
    for name in order:
        media = QUESTIONS[name][1]
        prefix = part["frames"] if media == "frames" else part["full"]
        if media == "full" and share_prefix:
            total += reach * (part["suffix"][name] + (0 if prefilled else prefix))
            prefilled = True  # a clip that reaches the second full question has the prefix already
        else:
            total += reach * (prefix + part["suffix"][name])
        if stop:
            reach *= pass_rate
    return total


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--clips", type=int, default=12)
    args = args.parse_args()
    processor = tiny_processor()
    model = tiny_thinker(processor)
    with tempfile.TemporaryDirectory() as tmp:
        rows = clip_folder(Path(tmp), args.shared, args.clips)
        paths = [(Path(tmp) / f"{ytid}_{start:06d}.mp4", name) for ytid, start, name in rows]
        started = time.perf_counter()
        clips = [decode_clip(str(p), p.stem, "-", name, 2.0, 360 * 640) for p, name in paths]
        decode_s = time.perf_counter() - started

    scorer = OmniScorer(model, processor, PROMPTS["v1"], 0.0, ORDER, early_stop=False)
    parts = token_parts(scorer, clips)
    naive = statistics.mean(p["naive"] for p in parts)
    table = {
        "four naive passes": naive,
        "encoders once": naive,  # the same language-model tokens; the encoders run once instead of four times
        "+ shared (c)/(d) prefix": statistics.mean(expected_tokens(p, ORDER, 1.0, True, False) for p in parts),
    }
    for rate in (0.8, 0.5, 0.3):
        table[f"+ early stop, each question passes {rate:.0%}"] = statistics.mean(
            expected_tokens(p, ORDER, rate, True, True) for p in parts
        )

    started = time.perf_counter()
    measured = [v for i in range(0, len(clips), 4) for v in scorer.score(clips[i : i + 4])]
    score_s = time.perf_counter() - started
    first = statistics.median(v["scores"][ORDER[0]] for v in measured)
    stopping = OmniScorer(model, processor, PROMPTS["v1"], first, ORDER, early_stop=True)
    stopped = [v for i in range(0, len(clips), 4) for v in stopping.score(clips[i : i + 4])]
    table["measured: early stop, half fail the first question"] = statistics.mean(v["prefill_tokens"] for v in stopped)
    shared_measured = statistics.mean(v["prefill_tokens"] for v in measured)

    print(f"{len(clips)} clips; per clip: {statistics.mean(p['video'] for p in parts):.0f} video tokens, "
          f"{statistics.mean(p['audio'] for p in parts):.0f} audio tokens")  # fmt: skip
    print(f"{'prefill tokens per clip':<55}{'tokens':>10}{'of naive':>10}")
    for name, tokens in table.items():
        print(f"{name:<55}{tokens:>10,.0f}{tokens / naive:>10.0%}")
    print(f"(measured without early stop: {shared_measured:,.0f} tokens, {shared_measured / naive:.0%})")
    print(f"CPU, tiny model: {len(clips) / score_s:.2f} clips/s asked; decoding alone {len(clips) / decode_s:.2f} "
          f"clips/s; asking / decoding = {score_s / decode_s:.1f}x")  # fmt: skip

    video, audio = statistics.mean(p["video"] for p in parts), statistics.mean(p["audio"] for p in parts)
    encoders = 2 * VISION * video * 4 + 2 * AUDIO * audio * 2  # patches before the 2x2 merge; audio frames
    estimate = {}
    for name, tokens, encodes in (
        ("naive", naive, 4),
        ("all savings, no early stop", table["+ shared (c)/(d) prefix"], 1),
        ("all savings, 50% pass per question", table["+ early stop, each question passes 50%"], 1),
    ):
        flops = 2 * LLM * tokens + encoders * encodes
        seconds = flops / (H100_BF16 * MFU)
        estimate[name] = {"tflop_per_clip": round(flops / 1e12, 1), "clips_per_hour": round(3600 / seconds)}
        print(f"H100 estimate, {name}: {flops / 1e12:.1f} TFLOP per clip, {3600 / seconds:,.0f} clips/hour; "
              f"2 M clips in {2e6 * seconds / 3600:,.0f} GPU-hours")  # fmt: skip
    json.dump({"tokens": table, "h100": estimate}, sys.stderr)


if __name__ == "__main__":
    main()
