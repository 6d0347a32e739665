"""How Label Studio reaches a stored clip: its local files storage, or a URL.

- local: the clip store is a folder on the server's machine, below the server's
  LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT; the task's video is `/data/local-files/?d=<path below
  the root>`, which Label Studio serves to its signed-in users once a local files storage covers
  the clip's folder (push adds one that imports nothing).
- url: the task's video is `media_url` with {path} (the stored path: gs://..., s3://..., https://...),
  {name} (the file's name) and {key}. `{path}` with a gs:// or s3:// store needs a cloud storage
  connected to the project with pre-signed URLs; a public or CDN bucket takes an https template.
"""

from __future__ import annotations

import posixpath
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from earwitness.errors import EarwitnessError

LOCAL_FILES = "/data/local-files/?d="


@dataclass(frozen=True)
class Media:
    mode: str  # auto | local | url
    document_root: str = "/"
    media_url: str = "{path}"

    def kind(self, path: str) -> str:
        if self.mode != "auto":
            return self.mode
        return "url" if "://" in path and not path.startswith("file://") else "local"

    def local_path(self, path: str) -> Path:
        """The clip's absolute path on this machine, checked to lie below the document root."""
        absolute = Path(path.removeprefix("file://")).absolute()
        root = Path(self.document_root).absolute()
        if not absolute.is_relative_to(root):
            raise EarwitnessError(
                f"{absolute}: not below annotate.document_root {root}; set it (and the server's "
                "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT) to a folder holding the clip store"
            )
        return absolute

    def url(self, path: str, key: str) -> str:
        if self.kind(path) == "local":
            relative = self.local_path(path).relative_to(Path(self.document_root).absolute()).as_posix()
            return LOCAL_FILES + urllib.parse.quote(relative, safe="/")
        try:
            return self.media_url.format(path=path, name=posixpath.basename(path), key=key)
        except (KeyError, IndexError, ValueError) as exc:
            fields = "{path}, {name}, {key}"
            raise EarwitnessError(f"annotate.media_url {self.media_url!r}: {exc} (use {fields})") from None
