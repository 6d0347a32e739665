"""A clip decoded once, with PyAV, into what the verifier's four questions need: frames and audio.

The frames are sampled at the model's rate and scaled to fit its pixel budget here, so what
crosses to a shared model process is a few MB of uint8, not a file path it must decode again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import av
import numpy as np

SILENCE_PEAK = 1e-4  # -80 dBFS: nothing a model could hear
MODEL_RATE = 16_000  # Whisper features, as the Qwen omni audio encoders take them


@dataclass(frozen=True)
class ClipArrays:
    key: str
    sha256: str
    class_name: str
    frames: np.ndarray  # T x H x W x 3 uint8, T even (the encoders pair frames)
    audio: np.ndarray  # float32 mono at MODEL_RATE
    fps: float
    class_id: str = ""

    @property
    def seconds(self) -> float:
        return len(self.audio) / MODEL_RATE

    def size_hint(self) -> int:
        """For batching clips of similar cost together: pixels shown, plus audio samples."""
        return int(self.frames[0].size * len(self.frames) // 3 + len(self.audio))


class Unusable(Exception):
    """A clip the verifier cannot ask about; `code` goes into the verdict's reason."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code


def decode_clip(
    path: str, key: str, sha256: str, class_name: str, fps: float, max_pixels: int, class_id: str = ""
) -> ClipArrays:
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise Unusable("no_video", "the clip has no video track")
            if not container.streams.audio:
                raise Unusable("no_audio", "the clip has no audio track")
            video, audio_stream = container.streams.video[0], container.streams.audio[0]
            width, height = _fit(video.codec_context.width, video.codec_context.height, max_pixels)
            decoded = [(float(f.time or 0.0), f) for f in container.decode(video)]
            container.seek(0)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=MODEL_RATE)
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(audio_stream)
                for out in resampler.resample(frame)
            ]
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except av.error.FFmpegError as exc:
        raise Unusable("undecodable", f"PyAV cannot decode it ({exc.strerror})") from None
    if not decoded:
        raise Unusable("undecodable", "no video frame decodes")
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if audio.size == 0 or float(np.abs(audio).max()) < SILENCE_PEAK:
        raise Unusable("silent", "the audio track is silent (peak below -80 dBFS)")
    frames = _sample(decoded, fps, width, height)
    return ClipArrays(key, sha256, class_name, frames, audio, fps, class_id)


def _fit(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _sample(decoded: list, fps: float, width: int, height: int) -> np.ndarray:
    """The frame shown at the middle of each 1/fps interval, an even number of them."""
    times = np.array([t for t, _ in decoded])
    duration = times[-1] + (times[-1] - times[0]) / max(1, len(times) - 1)
    count = max(2, int(duration * fps) // 2 * 2)
    wanted = (np.arange(count) + 0.5) / fps
    picks = np.clip(np.searchsorted(times, wanted, side="right") - 1, 0, len(decoded) - 1)
    return np.stack([decoded[i][1].reformat(width, height, format="rgb24").to_ndarray() for i in picks])
