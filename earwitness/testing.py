"""A loopback HTTP media server for tests and benchmarks: byte ranges, like a real web server,
and faults on request (404, 429 once, 5xx, a transfer cut short, slowness), with a request log."""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FAULTS = ("404", "429-once", "500", "cut-transfer", "cut-once", "slow")  # cut-once: only the first transfer


@dataclass
class MediaServer:
    folder: Path
    faults: dict[str, str] = field(default_factory=dict)  # file name -> one of FAULTS
    delay_s: float = 0.5  # for "slow"
    requests: Counter = field(default_factory=Counter)  # file name -> GET requests answered with data
    hits: Counter = field(default_factory=Counter)  # file name -> every request
    served: Counter = field(default_factory=Counter)  # file name -> bytes sent
    subfolders: bool = False  # serve files below the folder too (never outside it)

    def __post_init__(self) -> None:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                server._answer(self, body=False)

            def do_GET(self) -> None:
                server._answer(self, body=True)

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> MediaServer:
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _answer(self, handler: http.server.BaseHTTPRequestHandler, body: bool) -> None:
        name = handler.path.lstrip("/").split("?")[0]
        with self._lock:
            self.hits[name] += 1
            first = self.hits[name] == 1
        fault = self.faults.get(name)
        path = self.folder / name
        nested = "/" in name and not (self.subfolders and self._inside(path))
        if fault == "404" or not path.is_file() or nested:
            return handler.send_error(404, "Not Found")
        if fault == "500":
            return handler.send_error(500, "Internal Server Error")
        if fault == "429-once" and first:
            return handler.send_error(429, "Too Many Requests")
        if fault == "slow":
            time.sleep(self.delay_s)
        data = path.read_bytes()
        start, end = 0, len(data) - 1
        ranged = re.match(r"bytes=(\d*)-(\d*)", handler.headers.get("Range", ""))
        if ranged and (ranged.group(1) or ranged.group(2)):
            if ranged.group(1):
                start = int(ranged.group(1))
                end = int(ranged.group(2)) if ranged.group(2) else end
            else:
                start = len(data) - int(ranged.group(2))
            if start >= len(data):
                return handler.send_error(416, "Range Not Satisfiable")
        handler.send_response(206 if ranged else 200)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(end - start + 1))
        if ranged:
            handler.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        handler.end_headers()
        if not body:
            return
        with self._lock:
            self.requests[name] += 1
            cut = fault == "cut-transfer" or (fault == "cut-once" and self.requests[name] == 1)
        chunk = data[start : end + 1]
        if cut:
            chunk = chunk[: len(chunk) // 3]  # promise all, send a third, hang up
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up first
            handler.wfile.write(chunk)
        with self._lock:
            self.served[name] += len(chunk)
        if cut:
            handler.close_connection = True

    def _inside(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.folder.resolve())
