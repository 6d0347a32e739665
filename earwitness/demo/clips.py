"""Generated media: clips for the demo and the tests, made with the bundled ffmpeg from lavfi
sources, so that nothing has to be downloaded. Each class gets its own tone and picture."""

from __future__ import annotations

import zlib
from pathlib import Path

from earwitness.transforms.ffmpeg import run_ffmpeg


def tone_for(name: str) -> int:
    """A stable frequency per class name, 200-1800 Hz, so a clip's class can be heard."""
    return 200 + zlib.crc32(name.encode()) % 1600


def make_clip(
    path: Path,
    seconds: float = 11.0,
    *,
    size: str = "160x120",
    rate: int = 10,
    frequency: int = 440,
    audio: bool = True,
    video: bool = True,
    beep_at_s: float | None = None,
    ffmpeg: str = "bundled",
) -> Path:
    """An H.264 + AAC mp4: a moving test picture and a swelling tone (or, with beep_at_s, silence but
    for a 100 ms beep there, which makes a cut's position measurable to the sample)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        if beep_at_s is None:  # a tone swelling over the clip, so a shift or a swap shows in a waveform
            source = f"aevalsrc='(0.1+0.4*t/{seconds})*sin(2*PI*{frequency}*t)':s=44100:d={seconds}"
        else:
            source = (
                f"aevalsrc='if(between(t,{beep_at_s},{beep_at_s + 0.1}),sin(2*PI*{frequency}*t),0)':s=44100:d={seconds}"
            )
        args += ["-f", "lavfi", "-i", source]
    if video:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(rate * 2), "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k"]
    run_ffmpeg([*args, "-y", str(path)], ffmpeg)
    return path
