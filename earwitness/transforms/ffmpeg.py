"""Which ffmpeg to run: the one bundled in the imageio-ffmpeg wheel (no system package needed),
the system's, or one at a given path. Commands are argument lists, never a shell line."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from earwitness.errors import EarwitnessError

BUNDLED, SYSTEM = "bundled", "system"


@cache
def ffmpeg_binary(setting: str = BUNDLED) -> str:
    """`bundled`, `system`, or a path to an ffmpeg executable."""
    if setting == BUNDLED:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    if setting == SYSTEM:
        found = shutil.which("ffmpeg")
        if not found:
            raise EarwitnessError("media.ffmpeg=system, but no ffmpeg is on PATH (install it, or use 'bundled')")
        return found
    path = Path(setting).expanduser()
    if not (path.is_file() and path.stat().st_mode & 0o111):
        raise EarwitnessError(f"media.ffmpeg={setting}: not an executable file")
    return str(path)


def run_ffmpeg(
    args: list[str], setting: str = BUNDLED, timeout: float = 300, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    """Run ffmpeg quietly, feeding it `stdin` if given; a failure raises with the last lines it printed."""
    command = [ffmpeg_binary(setting), "-hide_banner", *(["-nostdin"] if stdin is None else []), "-loglevel", "error"]
    try:
        result = subprocess.run([*command, *args], input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise EarwitnessError(f"ffmpeg took longer than {timeout:g} s and was stopped") from None
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise EarwitnessError(f"ffmpeg failed ({result.returncode}): {' | '.join(tail)}")
    return result
