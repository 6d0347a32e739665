"""What a media file holds, read in-process with PyAV (no ffprobe process)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import av

from earwitness.errors import EarwitnessError


class Undecodable(EarwitnessError):
    """The file is not media PyAV can open, or a stream in it cannot be decoded."""


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    pixel_format: str | None = None
    video_start_s: float | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    video_s: float | None = None  # each stream's own duration, where the container says it
    audio_s: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def probe(path: str | Path, decode_check: bool = False) -> MediaInfo:
    """Streams, sizes and durations; with decode_check, also decode one frame of each stream."""
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            duration = container.duration / av.time_base if container.duration else None
            info = MediaInfo(
                duration_s=duration if duration is not None else max(_seconds(video) or 0, _seconds(audio) or 0),
                has_video=video is not None,
                has_audio=audio is not None,
                width=video.codec_context.width if video else None,
                height=video.codec_context.height if video else None,
                fps=float(video.average_rate) if video and video.average_rate else None,
                video_codec=video.codec_context.name if video else None,
                pixel_format=video.codec_context.pix_fmt if video else None,
                video_start_s=float(video.start_time * video.time_base)
                if video and video.start_time is not None
                else None,
                audio_codec=audio.codec_context.name if audio else None,
                sample_rate=audio.codec_context.sample_rate if audio else None,
                channels=audio.codec_context.channels if audio else None,
                video_s=_seconds(video),
                audio_s=_seconds(audio),
            )
            if decode_check:
                for stream in (s for s in (video, audio) if s is not None):
                    container.seek(0)
                    next(container.decode(stream), None)
    except (av.error.FFmpegError, StopIteration, ValueError, OSError) as exc:
        detail = getattr(exc, "strerror", None) or type(exc).__name__  # not the message: it names local paths
        raise Undecodable(f"{Path(path).name}: cannot decode ({detail})") from None
    return info


def _seconds(stream: av.stream.Stream | None) -> float | None:
    if stream is None or stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)
