"""Normalisation: any downloaded section -> a clip of exactly the configured length and format.

One ffmpeg process cuts, re-encodes (H.264 + AAC in mp4 by default), optionally centre-crops to
a square, and fixes the audio rate and channels; the audio is padded or trimmed to the video's
length so the two streams end together (within one AAC frame).

Where the picture needs no change (the source is already H.264 in 4:2:0, the segment starts at
its first frame, and no crop or frame rate is asked for), the video stream is copied instead of
re-encoded, 30 to 160 times cheaper; if the copied video and the audio then end more than one
AAC frame apart, the clip is made again the full way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from earwitness.transforms.ffmpeg import run_ffmpeg
from earwitness.transforms.probe import MediaInfo, probe


@dataclass(frozen=True)
class ClipSpec:
    seconds: float = 10.0
    fps: float | None = None  # None keeps the source's
    square: int | None = None  # centre crop to N x N, then scale
    sample_rate: int = 44100
    channels: int = 2
    video_codec: str = "libx264"
    crf: int = 23
    preset: str = "veryfast"
    audio_codec: str = "aac"
    audio_bitrate: str = "128k"
    container: str = "mp4"
    copy_video: bool = True  # copy the picture when nothing about it has to change
    ffmpeg: str = "bundled"


def normalise(
    source: Path, target: Path, spec: ClipSpec, offset_s: float = 0.0, info: MediaInfo | None = None
) -> MediaInfo:
    """Cut [offset, offset + spec.seconds) of source into target; returns the target's probe.
    `info`, the source's probe, lets the video be copied when it can be."""
    if spec.copy_video and info is not None and _copyable(info, spec, offset_s):
        made = _with_video_copied(source, target, spec)
        if (
            made.video_s is not None
            and made.audio_s is not None
            and abs(made.video_s - made.audio_s) <= 1024 / spec.sample_rate
        ):
            return made
    filters = []
    if spec.square:
        filters.append(f"crop='min(iw,ih)':'min(iw,ih)',scale={spec.square}:{spec.square}")
    if spec.fps:
        filters.append(f"fps={spec.fps}")
    filters.append("tpad=stop_mode=clone:stop_duration=0.1,format=yuv420p")  # a few ms short still fills the length
    args = ["-ss", f"{offset_s:.3f}", "-i", str(source), "-t", f"{spec.seconds:.3f}", "-map", "0:v:0", "-map", "0:a:0"]
    args += ["-vf", ",".join(filters), "-c:v", spec.video_codec, "-preset", spec.preset, "-crf", str(spec.crf)]
    args += ["-af", f"apad,atrim=0:{spec.seconds:.3f}", "-c:a", spec.audio_codec, "-b:a", spec.audio_bitrate]
    args += ["-ar", str(spec.sample_rate), "-ac", str(spec.channels), "-movflags", "+faststart"]
    args += ["-map_metadata", "-1", "-fflags", "+bitexact", "-y", str(target)]
    run_ffmpeg(args, spec.ffmpeg)
    return probe(target)


def _copyable(info: MediaInfo, spec: ClipSpec, offset_s: float) -> bool:
    return (
        offset_s == 0.0
        and info.video_codec == "h264"
        and info.pixel_format == "yuv420p"
        and spec.video_codec == "libx264"
        and not spec.square
        and not spec.fps
        and (info.video_start_s or 0.0) == 0.0
    )


def _with_video_copied(source: Path, target: Path, spec: ClipSpec) -> MediaInfo:
    args = ["-i", str(source), "-t", f"{spec.seconds:.3f}", "-map", "0:v:0", "-map", "0:a:0", "-c:v", "copy"]
    args += ["-af", f"apad,atrim=0:{spec.seconds:.3f}", "-c:a", spec.audio_codec, "-b:a", spec.audio_bitrate]
    args += ["-ar", str(spec.sample_rate), "-ac", str(spec.channels), "-movflags", "+faststart"]
    args += ["-map_metadata", "-1", "-fflags", "+bitexact", "-y", str(target)]
    run_ffmpeg(args, spec.ffmpeg)
    return probe(target)
