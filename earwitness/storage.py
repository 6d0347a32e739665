"""Reading inputs from a local path, an http(s) URL or any fsspec filesystem, gzip or not.

Every stage reads its inputs through here so that a missing file, an unreachable URL, an
empty file and a truncated gzip all end as one clear EarwitnessError naming the input.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from earwitness.errors import EarwitnessError

PACKAGE_PREFIX = "earwitness:"
HTTP_TIMEOUT_S = 60
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Input:
    """The bytes of one input as stored (gzip or not) and where they came from."""

    source: str
    raw: bytes
    sha256: str

    @property
    def gzipped(self) -> bool:
        return self.raw[:2] == GZIP_MAGIC

    @property
    def data(self) -> bytes:
        """The whole content, decompressed."""
        return b"".join(self.blocks(1 << 30))

    def blocks(self, size: int) -> Iterator[bytes]:
        """The content in decompressed pieces of about `size` bytes (gzip members concatenated)."""
        if not self.gzipped:
            yield from (self.raw[i : i + size] for i in range(0, len(self.raw), size))
            return
        pending, produced = self.raw, 0
        while pending:
            stream = zlib.decompressobj(wbits=31)
            try:
                while pending and not stream.eof:
                    piece = stream.decompress(pending[: 1 << 20], size)
                    pending = stream.unconsumed_tail + pending[1 << 20 :]
                    produced += len(piece)
                    if piece:
                        yield piece
            except zlib.error as exc:
                raise EarwitnessError(f"{self.source}: the gzip stream is corrupt ({exc})") from None
            if not stream.eof:
                raise EarwitnessError(f"{self.source}: the gzip stream is truncated")
            pending = stream.unused_data
        if not produced:
            raise EarwitnessError(f"{self.source}: the file is empty once decompressed")


def write_json(path: Path, value: object, sort_keys: bool = False) -> None:
    """A local JSON file written under a temporary name and renamed: never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}{ClipStore.TEMP_MARK}{uuid.uuid4().hex}")
    temp.write_text(json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n")
    temp.replace(path)


def redact(source: str) -> str:
    """A URL fit for logs and reports: no user, password or query string (signed URLs carry keys)."""
    parts = urllib.parse.urlsplit(source)
    if not parts.scheme or parts.scheme == "file":
        return source
    host = parts.hostname or ""
    netloc = ("***@" if parts.username or parts.password else "") + host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def resolve(source: str) -> str:
    """`earwitness:demo/x.json` names a file shipped inside the package; anything else is as given."""
    if source.startswith(PACKAGE_PREFIX):
        return str(resources.files("earwitness").joinpath(source[len(PACKAGE_PREFIX) :]))
    return source


def is_url(source: str) -> bool:
    return "://" in source and not source.startswith("file://")


def read_input(source: str) -> Input:
    """Read a whole input into memory; gzip is recognised by its magic bytes, not its name."""
    raw = _read_raw(source)
    if not raw:
        raise EarwitnessError(f"{source}: the file is empty")
    return Input(source, raw, hashlib.sha256(raw).hexdigest())


def _read_raw(source: str) -> bytes:
    target = resolve(source)
    if target.startswith(("http://", "https://")):
        return _read_http(target)
    if is_url(target):
        return _read_fsspec(target)
    path = Path(target.removeprefix("file://"))
    if not path.exists():
        raise EarwitnessError(f"{source}: no such file")
    if path.is_dir():
        raise EarwitnessError(f"{source}: is a directory, expected a file")
    return path.read_bytes()


def _read_http(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "earwitness"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            body = response.read()
            expected = response.headers.get("Content-Length")
    except urllib.error.HTTPError as exc:
        raise EarwitnessError(f"{redact(url)}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EarwitnessError(f"{redact(url)}: cannot reach it ({reason})") from None
    if expected is not None and int(expected) != len(body):
        raise EarwitnessError(f"{redact(url)}: transfer truncated ({len(body)} of {expected} bytes)")
    return body


def _read_fsspec(url: str) -> bytes:
    try:
        import fsspec

        with fsspec.open(url, "rb") as handle:
            return handle.read()
    except ImportError as exc:
        raise EarwitnessError(f"{redact(url)}: no filesystem for this scheme is installed ({exc})") from None
    except FileNotFoundError:
        raise EarwitnessError(f"{redact(url)}: no such file") from None
    except ValueError as exc:
        raise EarwitnessError(f"{redact(url)}: {exc}") from None


def local_copy(path: str, folder: Path) -> str:
    """A local file holding the bytes at `path`, for what reads only local files (PyAV, ffmpeg): the path
    itself when it is local, else a copy in `folder` read through Beam's FileSystems (gs://, s3://, ...).
    A read that fails raises what the filesystem's client raises (Beam's IOError, google.api_core's NotFound,
    S3ClientError): the caller decides what it costs."""
    if "://" not in path:
        return path
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    local = Path(folder) / f"{hashlib.sha1(path.encode()).hexdigest()[:12]}-{path.rsplit('/', 1)[-1]}"
    if not local.exists():
        partial = local.with_name(local.name + ".part")
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(partial, local)
    return str(local)


class ClipStore:
    """Clips keyed `{ytid}_{start_ms}` on any Beam filesystem (a folder, gs://, s3://).

    Each clip is `{key}.mp4` plus a `{key}.json` record written after it; a clip counts as
    stored only when its record exists and names the stored file's size. Writes go to a
    temporary name and are renamed into place, so a reader never sees half a clip.
    Failures are recorded under `_failed/{key}.json` until the clip is stored.
    """

    TEMP_MARK = ".tmp-"

    def __init__(self, root: str):
        self.root = root.rstrip("/")

    def path(self, key: str, suffix: str = ".mp4") -> str:
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.join(self.root, key + suffix)

    def record(self, key: str) -> dict | None:
        """The stored clip's record, or None when it is missing or does not match the file."""
        from apache_beam.io.filesystems import FileSystems

        record = self._read_json(self.path(key, ".json"))
        if record is None:
            return None
        (found,) = FileSystems.match([self.path(key)])
        sizes = [m.size_in_bytes for m in found.metadata_list]
        return record if sizes == [record.get("bytes")] else None  # a missing or different file: stale

    def put(self, key: str, local: Path, record: dict) -> str:
        target = self.path(key)
        self._write_atomically(target, local.read_bytes())
        self._write_atomically(self.path(key, ".json"), json.dumps(record, sort_keys=True).encode())
        return target

    def failure(self, key: str) -> dict | None:
        return self._read_json(self._failure_path(key))

    def put_failure(self, key: str, record: dict) -> None:
        self._write_atomically(self._failure_path(key), json.dumps(record, sort_keys=True).encode())

    def clear_failure(self, key: str) -> None:
        from apache_beam.io.filesystems import FileSystems

        path = self._failure_path(key)
        if FileSystems.exists(path):
            FileSystems.delete([path])

    def sweep_temporaries(self) -> int:
        """Delete what an interrupted run left half-written; run it before and after a run."""
        from apache_beam.io.filesystems import FileSystems

        found = []
        for pattern in (f"{self.root}/*{self.TEMP_MARK}*", f"{self.root}/_failed/*{self.TEMP_MARK}*"):
            found += [m.path for result in FileSystems.match([pattern]) for m in result.metadata_list]
        if found:
            FileSystems.delete(found)
        return len(found)

    def _failure_path(self, key: str) -> str:
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.join(self.root, "_failed", key + ".json")

    def _read_json(self, path: str) -> dict | None:
        from apache_beam.io.filesystems import FileSystems

        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path) as handle:
            try:
                value = json.loads(handle.read())
            except json.JSONDecodeError:
                return None
        return value if isinstance(value, dict) else None

    def _write_atomically(self, path: str, data: bytes) -> None:
        from apache_beam.io.filesystems import FileSystems

        temp = f"{path}{self.TEMP_MARK}{uuid.uuid4().hex}"
        if "://" not in path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileSystems.create(temp) as handle:
                handle.write(data)
            FileSystems.rename([temp], [path])  # replaces: os.rename locally, copy+delete on object stores
        finally:
            if FileSystems.exists(temp):
                FileSystems.delete([temp])
