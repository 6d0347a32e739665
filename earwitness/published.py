"""Where a published release is and how its files are read: the layout `earwitness publish` writes,
and reading any file of it from a local path, http(s) (byte ranges), or any fsspec URL.

    DEST/releases.json             the complete versions, and the latest
    DEST/<version>/...             the release's files
    DEST/<version>/RELEASE.json    written last: version, name, every file's sha256 and size

A version without its RELEASE.json is not (yet) published, and is refused. This module imports
neither Beam nor torch: fetch, publish and the stream API share it.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from earwitness.errors import EarwitnessError
from earwitness.storage import HTTP_TIMEOUT_S, redact

MARKER = "RELEASE.json"  # written last into DEST/<version>/: the version is complete
PENDING = "PUBLISHING.json"  # written first into DEST/<version>/ by publish, removed once it is complete
INDEX = "releases.json"  # DEST/releases.json: the complete versions, and the latest
CHECKSUMS = "SHA256SUMS"
SAMPLES_PATH = "manifests/samples.parquet"
MARKER_FORMAT = 1
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]*$")  # a version is one folder name
NOT_FOUND = (404, 410)
RETRYABLE = (408, 425, 429, 500, 502, 503, 504)


class TransferError(EarwitnessError):
    """A file could not be read; `retryable` when trying again may help (5xx, 429, a dropped connection)."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class Missing(TransferError):
    """The file is not there (HTTP 404, no such object or path)."""


def join(base: str, *names: str) -> str:
    if "://" in base:
        return "/".join([base.rstrip("/"), *names])
    return str(Path(base, *names))


def open_url(url: str, offset: int = 0, timeout: float = HTTP_TIMEOUT_S) -> tuple[BinaryIO, int]:
    """A readable stream of `url` from byte `offset`, and the byte it really starts at (0 when a
    server ignores the Range header). Local paths, http(s) with urllib, anything else with fsspec."""
    if url.startswith(("http://", "https://")):
        return _open_http(url, offset, timeout)
    if "://" not in url:
        try:
            handle = open(url, "rb")  # noqa: SIM115 -- the caller closes it
        except (FileNotFoundError, NotADirectoryError):
            raise Missing(f"{url}: no such file") from None
        except OSError as exc:
            raise TransferError(f"{url}: cannot read it ({exc.strerror})") from None
        handle.seek(offset)
        return handle, offset
    try:
        import fsspec

        handle = fsspec.open(url, "rb").open()
    except ImportError as exc:
        raise TransferError(
            f"{redact(url)}: no filesystem for this scheme is installed ({exc}); pip install 'earwitness[cloud]'"
        ) from None
    except FileNotFoundError:
        raise Missing(f"{redact(url)}: no such file") from None
    except (OSError, ValueError) as exc:
        raise TransferError(f"{redact(url)}: cannot open it ({exc})", retryable=True) from None
    handle.seek(offset)
    return handle, offset


def _open_http(url: str, offset: int, timeout: float) -> tuple[BinaryIO, int]:
    headers = {"User-Agent": "earwitness"} | ({"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        kind = Missing if exc.code in NOT_FOUND else TransferError
        raise kind(f"{redact(url)}: the server answered HTTP {exc.code} {exc.reason}", exc.code in RETRYABLE) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransferError(f"{redact(url)}: cannot reach it ({reason})", retryable=True) from None
    return response, offset if response.status == 206 else 0


def read_small(url: str) -> bytes | None:
    """A whole small file (a marker, an index), or None when it is not there."""
    try:
        stream, _ = open_url(url)
    except Missing:
        return None
    with stream:
        try:
            return stream.read()
        except (OSError, http.client.HTTPException) as exc:
            raise TransferError(f"{redact(url)}: transfer failed ({exc})", retryable=True) from None


def safe_relative(name: str) -> bool:
    """A file name a release may list: relative, no `..`, so nothing lands outside the target folder."""
    path = PurePosixPath(name)
    return bool(name) and "\\" not in name and not path.is_absolute() and ".." not in path.parts


def version_key(version: str) -> tuple:
    """Orders 0.10.0 after 0.9.1: numbers compare as numbers."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.+-]", version))


@dataclass(frozen=True)
class Published:
    """A complete published version: where it is and its marker."""

    base: str
    marker: dict

    @property
    def version(self) -> str:
        return self.marker["version"]

    @property
    def files(self) -> dict[str, dict]:
        return self.marker["files"]


def parse_marker(data: bytes, where: str) -> dict:
    try:
        marker = json.loads(data)
        files = marker["files"]
        assert marker.get("format") == MARKER_FORMAT and isinstance(marker["version"], str)
        assert all(safe_relative(k) and len(v["sha256"]) == 64 and v["size"] >= 0 for k, v in files.items())
    except (ValueError, KeyError, TypeError, AssertionError, AttributeError):
        raise EarwitnessError(f"{redact(where)}: not a valid {MARKER} (format {MARKER_FORMAT})") from None
    return marker


def locate(source: str, version: str | None = None) -> Published:
    """A published version from its folder's URL, or from the publish destination (the latest
    version listed in releases.json, or `version`)."""
    source = source.rstrip("/") if "://" in source else source
    data = read_small(join(source, MARKER))
    if data is not None:
        marker = parse_marker(data, join(source, MARKER))
        if version and marker["version"] != version:
            raise EarwitnessError(f"{redact(source)}: holds version {marker['version']}, not {version}")
        return Published(source, marker)
    index = read_small(join(source, INDEX))
    try:
        listed = [str(r["version"]) for r in json.loads(index)["releases"]] if index is not None else []
    except (ValueError, KeyError, TypeError):
        raise EarwitnessError(f"{redact(join(source, INDEX))}: not a valid release index") from None
    if index is not None and not version:
        if not listed:
            raise EarwitnessError(f"{redact(source)}: {INDEX} lists no published version")
        version = max(listed, key=version_key)
    if version:
        if not VERSION.match(version):
            raise EarwitnessError(f"{version!r}: not a version (letters, digits and . _ + - only)")
        data = read_small(join(source, version, MARKER))
        if data is not None:
            return Published(join(source, version), parse_marker(data, join(source, version, MARKER)))
        if version in listed or _partly_there(join(source, version)):
            raise EarwitnessError(_not_published(join(source, version)))
        known = f"; published: {', '.join(sorted(listed, key=version_key))}" if listed else ""
        raise EarwitnessError(f"{redact(source)}: no version {version} here{known}")
    if _partly_there(source):
        raise EarwitnessError(_not_published(source))
    raise EarwitnessError(f"{redact(source)}: no published release here (neither {MARKER} nor {INDEX})")


def _partly_there(folder: str) -> bool:
    """A publish's note, or files of a release, without its marker: a publish not finished."""
    return any(read_small(join(folder, name)) is not None for name in (PENDING, CHECKSUMS, "stats.json"))


def _not_published(where: str) -> str:
    return (
        f"{redact(where)}: not (yet) published: it has no {MARKER}, so its publish is in progress or was "
        "interrupted (re-run earwitness publish to complete it)"
    )
