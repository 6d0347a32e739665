"""Media helpers the interventions share: one ffmpeg process per variant, the video stream copied
wherever the picture does not change, audio samples handled in numpy, and a cache of
pre-encoded black clips (one per frame size and rate), so black frames cost a remux."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from earwitness.errors import EarwitnessError
from earwitness.transforms.ffmpeg import run_ffmpeg

BITEXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]


@dataclass(frozen=True)
class Media:
    cache: str  # a local folder for pre-encoded black clips
    ffmpeg: str = "bundled"
    audio_codec: str = "aac"
    audio_bitrate: str = "128k"

    def run(self, args: list[str]) -> None:
        run_ffmpeg(args, self.ffmpeg)

    def copy_video_with_audio_of(self, video: str, audio: str, out: Path, seconds: float) -> None:
        """The picture of one file and the sound of another, both streams copied (same codecs)."""
        self.run(
            [
                "-i",
                video,
                "-i",
                audio,
                "-map",
                "0:v:0",
                "-map",
                "1:a:0",
                "-c",
                "copy",
                "-t",
                f"{seconds:.3f}",
                *BITEXACT,
                "-y",
                str(out),
            ]
        )

    def with_samples(self, video: str, samples: np.ndarray, rate: int, out: Path) -> None:
        """The picture of `video` (copied) and these float32 samples (channels x n), encoded once."""
        interleaved = np.ascontiguousarray(samples.T, dtype="<f4").tobytes()
        run_ffmpeg([
            "-i", video, "-f", "f32le", "-ar", str(rate), "-ac", str(samples.shape[0]), "-i", "pipe:0",
            "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", self.audio_codec, "-b:a", self.audio_bitrate,
            *BITEXACT, "-y", str(out),
        ], self.ffmpeg, stdin=interleaved)  # fmt: skip

    def black_clip(self, width: int, height: int, fps: float, seconds: float) -> str:
        """A cached H.264 clip of black frames, made once per size, rate and length."""
        if not (width and height and fps):
            raise EarwitnessError(f"a black clip needs the frame size and rate, got {width}x{height} at {fps} fps")
        path = Path(self.cache) / f"black_{width}x{height}_{fps:g}fps_{seconds:g}s.mp4"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(suffix=".mp4", dir=path.parent)
            os.close(handle)
            try:
                self.run([
                    "-f", "lavfi", "-i", f"color=c=black:s={width}x{height}:r={fps:g}:d={seconds:g}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", *BITEXACT, "-y", temp,
                ])  # fmt: skip
                os.replace(temp, path)  # workers may race to make it: every copy is the same
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
        return str(path)


def decode_audio(path: str) -> tuple[np.ndarray, int]:
    """All audio samples as float32, channels x n, and the sample rate."""
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise EarwitnessError(f"{Path(path).name}: no audio track")
            stream = container.streams.audio[0]
            frames = [frame.to_ndarray() for frame in container.decode(stream)]
            rate = stream.codec_context.sample_rate
    except av.error.FFmpegError as exc:
        raise EarwitnessError(f"{Path(path).name}: cannot decode its audio ({exc.strerror})") from None
    samples = np.concatenate(frames, axis=1) if frames else np.zeros((1, 0), dtype=np.float32)
    return samples.astype(np.float32), rate
