"""A Beam filesystem for tests that behaves like a bucket: `testbucket://NAME/...` paths with no
directories, whose objects live in a local folder (`EARWITNESS_TEST_BUCKET`, a folder per bucket name).

A real bucket (gs://, s3://) cannot be reached from the development machines; this stands in for one
so that the stages' path handling is exercised end to end: neither PyAV nor ffmpeg can open such a
path, exactly as with gs://. Beam finds the class by its scheme once this module is imported, so it
serves in-process runners only.
"""

from __future__ import annotations

import os
from pathlib import Path

from apache_beam.io.filesystem import BeamIOError, FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

SCHEME = "testbucket"
ROOT_ENV = "EARWITNESS_TEST_BUCKET"
PREFIX = f"{SCHEME}://"


class FolderBucket(LocalFileSystem):
    @classmethod
    def scheme(cls) -> str:
        return SCHEME

    @staticmethod
    def local(path: str) -> str:
        if not path.startswith(PREFIX):
            raise ValueError(f"not a {SCHEME} path: {path}")
        return os.path.join(os.environ[ROOT_ENV], path[len(PREFIX) :])

    def join(self, basepath: str, *paths: str) -> str:
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:  # an object store has no folders
        pass

    def has_dirs(self) -> bool:
        return False

    def _list(self, dir_or_prefix: str):
        folder = Path(self.local(dir_or_prefix))
        folder = folder if folder.is_dir() else folder.parent
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            path = PREFIX + str(file.relative_to(os.environ[ROOT_ENV]))
            if path.startswith(dir_or_prefix):
                yield FileMetadata(path, file.stat().st_size, file.stat().st_mtime)

    def create(self, path: str, *args, **kwargs):
        Path(self.local(path)).parent.mkdir(parents=True, exist_ok=True)
        return super().create(self.local(path), *args, **kwargs)

    def open(self, path: str, *args, **kwargs):
        return super().open(self.local(path), *args, **kwargs)

    def copy(self, sources: list[str], destinations: list[str]) -> None:
        for destination in destinations:
            Path(self.local(destination)).parent.mkdir(parents=True, exist_ok=True)
        super().copy([self.local(s) for s in sources], [self.local(d) for d in destinations])

    def rename(self, sources: list[str], destinations: list[str]) -> None:
        for destination in destinations:
            Path(self.local(destination)).parent.mkdir(parents=True, exist_ok=True)
        super().rename([self.local(s) for s in sources], [self.local(d) for d in destinations])

    def exists(self, path: str) -> bool:
        return super().exists(self.local(path))

    def size(self, path: str) -> int:
        return super().size(self.local(path))

    # LocalFileSystem's own versions of these look the local path up again through self: done here directly
    def last_updated(self, path: str) -> float:
        return self._stat(path).st_mtime

    def checksum(self, path: str) -> str:
        return str(self._stat(path).st_size)

    def metadata(self, path: str) -> FileMetadata:
        found = self._stat(path)
        return FileMetadata(path, found.st_size, found.st_mtime)

    def delete(self, paths: list[str]) -> None:
        missing = {}
        for path in paths:
            try:
                os.remove(self.local(path))
            except FileNotFoundError as exc:
                missing[path] = exc
        if missing:
            raise BeamIOError("Delete operation failed", missing)

    def _stat(self, path: str) -> os.stat_result:
        try:
            return os.stat(self.local(path))
        except OSError as exc:
            raise BeamIOError(f"{path}: cannot stat", {path: exc}) from exc
