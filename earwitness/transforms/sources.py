"""Where clips come from: YouTube, a URL template, or a local folder; every failure classified.

A source fetches one candidate's media into a private work folder and says where, in that file,
the segment starts. Downloads go through yt-dlp's Python API (never a shell, and a YouTube id is
only ever part of a URL, so an id beginning with '-' is never read as an option).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from earwitness.ids import YTID
from earwitness.transforms.ffmpeg import ffmpeg_binary

TEMPLATE_FIELDS = ("ytid", "start_s", "end_s", "start_ms", "end_ms")


class AcquireFailure(Exception):
    """A clip that could not be acquired: `code` names the reason, `transient` says retry later."""

    def __init__(self, code: str, detail: str, transient: bool = False):
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.transient = code, detail, transient


@dataclass(frozen=True)
class Segment:
    ytid: str
    start_ms: int
    end_ms: int

    @property
    def fields(self) -> dict[str, int | str]:
        return {
            "ytid": self.ytid,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "start_s": self.start_ms // 1000,
            "end_s": self.end_ms // 1000,
        }


@dataclass(frozen=True)
class Fetched:
    path: Path
    offset_s: float  # where the segment starts in the fetched file


class ClipSource(Protocol):
    def fetch(self, segment: Segment, workdir: Path) -> Fetched: ...


@dataclass(frozen=True)
class DownloadOptions:
    """What yt-dlp is told: politeness, credentials by path, and the format to take."""

    format: str = "bv*[height<=720]+ba/b[height<=720]/b"
    timeout_s: float = 60.0
    rate_limit: str | None = None  # bytes per second, as yt-dlp reads it: 2M, 500K
    cookies: str | None = None  # a cookies.txt path; never its content
    proxy: str | None = None
    ffmpeg: str = "bundled"


def check_ytid(segment: Segment) -> None:
    if not YTID.match(segment.ytid):
        raise AcquireFailure("invalid_id", f"{segment.ytid!r} is not an 11-character YouTube id")


def make_source(spec: str, options: DownloadOptions, holds: str | None = None) -> ClipSource:
    """`youtube`, a URL template with {ytid}/{start_s}/... fields, or a local folder (or path template)."""
    if spec == "youtube":
        return YtDlpSource("https://www.youtube.com/watch?v={ytid}", options, holds or "video")
    if "://" in spec and not spec.startswith("file://"):
        return YtDlpSource(spec, options, holds or "segment")
    template = spec.removeprefix("file://")
    if "{" not in template:
        template = os.path.join(template, "{ytid}_{start_s:06d}.mp4")  # VGGSound's layout
    return FolderSource(template, holds or "segment")


@dataclass(frozen=True)
class FolderSource:
    template: str
    holds: str  # "segment": the file is the segment; "video": the whole video

    def fetch(self, segment: Segment, workdir: Path) -> Fetched:
        check_ytid(segment)
        path = Path(self.template.format(**segment.fields))
        if not path.is_file():
            raise AcquireFailure("unavailable", f"no file {path.name} in the source folder")
        return Fetched(path, segment.start_ms / 1000 if self.holds == "video" else 0.0)


@dataclass(frozen=True)
class YtDlpSource:
    template: str
    options: DownloadOptions
    holds: str

    def fetch(self, segment: Segment, workdir: Path) -> Fetched:
        import yt_dlp
        from yt_dlp.utils import DownloadError, download_range_func

        check_ytid(segment)
        url = self.template.format(**segment.fields)
        params = {
            "outtmpl": str(workdir / "source.%(ext)s"),
            "format": self.options.format,
            "merge_output_format": "mp4",
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "noplaylist": True,
            "retries": 0,  # earwitness retries with backoff itself, and counts the attempts
            "fragment_retries": 0,
            "socket_timeout": self.options.timeout_s,
            "ffmpeg_location": _ffmpeg_folder(self.options.ffmpeg, workdir.parent),
            "cachedir": False,
            "logger": _SilentLogger(),
        }
        params |= {
            k: v
            for k, v in (
                ("ratelimit", _bytes(self.options.rate_limit)),
                ("cookiefile", self.options.cookies),
                ("proxy", self.options.proxy),
            )
            if v
        }
        offset = 0.0
        if self.holds == "video":
            # yt-dlp cuts at keyframes with ffmpeg; the exact cut is normalisation's re-encode.
            params["download_ranges"] = download_range_func(None, [(segment.start_ms / 1000, segment.end_ms / 1000)])
        try:
            with yt_dlp.YoutubeDL(params) as ydl:
                info = ydl.extract_info(url, download=True)
        except DownloadError as exc:
            raise classify(str(exc)) from None
        files = [Path(d["filepath"]) for d in (info or {}).get("requested_downloads", []) if d.get("filepath")]
        if not files or not files[0].exists():
            raise AcquireFailure("broken_transfer", "yt-dlp reported no file", transient=True)
        return Fetched(files[0], offset)


# What YouTube and HTTP servers answer, and what it means for a retry.
_CLASSES = [
    (r"HTTP Error 429|Too Many Requests", "rate_limited", True),
    (r"Sign in to confirm you.re not a bot", "bot_check", True),
    (r"confirm your age|age-restricted", "age_restricted", False),  # needs cookies; then retry_permanent
    (r"HTTP Error 5\d\d", "server_error", True),
    (r"timed out|Read timed out|TimeoutError", "timeout", True),
    (r"ContentTooShort|bytes read, \d+ more expected|Did not get any data|IncompleteRead", "broken_transfer", True),
    (r"Connection (reset|refused|aborted)|urlopen error", "broken_transfer", True),
    (r"Private video", "private", False),
    (r"removed|terminated|copyright", "removed", False),
    (r"HTTP Error 40[34]|Video unavailable|not available|Unsupported URL|does not exist", "unavailable", False),
]


def classify(message: str) -> AcquireFailure:
    text = message.removeprefix("ERROR: ").strip()
    for pattern, code, transient in _CLASSES:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return AcquireFailure(code, text[:300], transient)
    return AcquireFailure("download_failed", text[:300], transient=True)


def _ffmpeg_folder(setting: str, cache: Path) -> str:
    """yt-dlp looks for a program called `ffmpeg`, on PATH for section downloads: give it one."""
    folder = cache / "ffmpeg-bin"
    link = folder / "ffmpeg"
    if not link.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another worker made it first
            os.symlink(ffmpeg_binary(setting), link)
    if str(folder) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    return str(folder)


def _bytes(rate: str | None) -> int | None:
    if not rate:
        return None
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    rate = rate.strip().upper()
    return int(float(rate[:-1]) * units[rate[-1]]) if rate[-1] in units else int(rate)


class _SilentLogger:
    """yt-dlp's messages stay out of the console; errors come back as exceptions."""

    def debug(self, msg: str) -> None:
        pass

    info = warning = debug

    def error(self, msg: str) -> None:
        pass


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
