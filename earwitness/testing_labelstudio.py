"""A real Label Studio server on 127.0.0.1 for tests and benchmarks.

The server lives in its own virtual environment (`make labelstudio` makes .venv-labelstudio with
label-studio 1.23.2; it pins packages the project does not). A fresh data folder takes close to a
minute to build its database, so one is prepared once, with an admin and two annotator accounts
whose legacy tokens are known, into .venv-labelstudio/prepared/<spec>; each server starts from a
copy of it (a few seconds) on a free port, and is stopped (or killed, to test a crash) by its owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("EARWITNESS_LABEL_STUDIO_VENV", ROOT / ".venv-labelstudio"))
START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str  # a legacy API token (Authorization: Token ...)


ADMIN = Account("admin@earwitness.test", "admin-password-1", "ew-admin-7f3c9a1e5b2d4c68a0e1f9b3d7c5a2e4")
ANNOTATORS = (
    Account("ann1@earwitness.test", "annotator-password-1", "ew-ann1-1b5d9c2e7a3f4e8b"),
    Account("ann2@earwitness.test", "annotator-password-2", "ew-ann2-6e2a8d4c1f7b3a9e"),
)
QUIET = {
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "LATEST_VERSION_CHECK": "false",
    "COLLECT_ANALYTICS": "false",
    "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # decided when the organisation is made: at init
}


def available() -> str | None:
    """None when the server can be run here, else why not."""
    if not (VENV / "bin" / "label-studio").exists():
        return f"no Label Studio server at {VENV} (run `make labelstudio`, which `make test` does)"
    return None


def prepared() -> Path:
    """The prepared data folder, made once (under a lock, so concurrent runs wait for one another)."""
    spec = hashlib.sha256(json.dumps([ADMIN, *ANNOTATORS], default=vars).encode()).hexdigest()[:12]
    folder = VENV / "prepared" / spec
    if (folder / "label_studio.sqlite3").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "label_studio.sqlite3").exists():
            return folder
        scratch = Path(tempfile.mkdtemp(prefix=".preparing-", dir=folder.parent))
        try:
            for account in (ADMIN, *ANNOTATORS):  # the first makes the database and the organisation
                _label_studio(
                    ["init", "--no-browser", "--username", account.email, "--password", account.password,
                     "--user-token", account.token],
                    scratch / "data",
                )  # fmt: skip
            os.replace(scratch / "data", folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LabelStudioServer:
    """`label-studio start` on a copy of the prepared data folder; `document_root` is the folder
    below which it serves local files (the clip store must lie there)."""

    def __init__(self, data: Path, document_root: Path):
        self.data, self.document_root = data, document_root
        self.process: subprocess.Popen | None = None
        self.port = 0
        if not data.exists():
            shutil.copytree(prepared(), data, symlinks=True)
        self.log = data.parent / f"{data.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int | None = None) -> float:
        """Start (on a new free port, or on `port` to come back where clients know it) and wait for /health;
        returns the seconds it took."""
        began = time.monotonic()
        self.port = port or free_port()
        env = _env(self.data) | {
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(self.document_root),
        }
        command = [str(VENV / "bin" / "label-studio"), "start", "--no-browser", "--internal-host", "127.0.0.1"]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [*command, "-p", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        while time.monotonic() - began < START_TIMEOUT_S:
            if self.process.poll() is not None:
                raise RuntimeError(f"Label Studio exited with {self.process.returncode}:\n{self._tail()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return time.monotonic() - began
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Label Studio did not answer /health in {START_TIMEOUT_S:.0f} s:\n{self._tail()}")

    def kill(self) -> None:
        """A crash: SIGKILL to the server's whole process group, nothing flushed."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, which: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, which)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:]) if self.log.exists() else ""

    def __enter__(self) -> LabelStudioServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    return env | QUIET | {"LABEL_STUDIO_BASE_DATA_DIR": str(data)}


def _label_studio(args: list[str], data: Path) -> None:
    done = subprocess.run(
        [str(VENV / "bin" / "label-studio"), *args], env=_env(data), capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        output = done.stdout[-2000:] + done.stderr[-2000:]
        raise RuntimeError(f"label-studio {args[0]} failed ({done.returncode}):\n{output}")
