"""What the rebuild DAG runs, kept free of Airflow and of earwitness so it is cheap to import and to test.

Every stage is the project's own `earwitness` command, run as a subprocess of the task with the
run's frozen configuration (`--config`): the configuration is resolved once, at the start of a run,
with the run's parameters applied, so a stage that starts days later (after the annotators) sees
exactly what the first one saw, even if the file changed meanwhile. Relative paths in the
configuration are taken from the configuration file's folder, whichever worker runs the task.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

# The DAG's stage tasks, in order, and the configuration stage each belongs to.
TASK_STAGES = {
    "prune": "prune",
    "acquire": "acquire",
    "verify": "verify",
    "annotate_push": "annotate",
    "wait_for_consensus": "annotate",
    "annotate_pull": "annotate",
    "build": "build",
    "publish": "publish",
}


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s@'\"]+@")
_QUERY = re.compile(r"(?P<url>[A-Za-z][A-Za-z0-9+.-]*://[^\s?#'\"]*)\?[^\s#'\"]+")


def redacted(text: str) -> str:
    """`text` for a task log, every URL in it as earwitness itself redacts them: what stands before an @
    (a user, a password, a token) and the query (signed URLs carry keys) masked. The frozen configuration
    itself keeps them: a stage needs them."""
    return _QUERY.sub(r"\g<url>?***", _USERINFO.sub(r"\g<scheme>***@", text))


class StageError(RuntimeError):
    """A stage that cannot run or did not succeed; the message says why in the user's terms."""


def find_executable(name: str) -> str:
    """The earwitness executable: an absolute path, or a name on PATH."""
    found = shutil.which(name)
    if found is None:
        raise StageError(
            f"earwitness executable {name!r} not found: set the DAG's `earwitness` param to the project "
            "environment's bin/earwitness (or put it on the workers' PATH)"
        )
    return found


def overrides(params: dict[str, Any], run_date: str) -> list[str]:
    """The run's params as `--set section.key=value` overrides, in the order they are applied.

    `{date}` in the version is the run's date (YYYYMMDD), so that a schedule can make a new release
    each time (`1.0.0+{date}`): a release folder is never written twice."""
    settings = []
    if params.get("version") is not None:
        settings.append(f"build.version={json.dumps(params['version'].replace('{date}', run_date))}")
    if params.get("runner") is not None:
        settings.append(f"beam.runner={json.dumps(params['runner'])}")
    if params.get("workers") is not None:
        settings.append(f"beam.workers={int(params['workers'])}")
    return settings + list(params.get("set") or [])


def resolve_config(earwitness: str, config: str, settings: list[str]) -> dict[str, str]:
    """The effective configuration as YAML, checked by the project itself (`earwitness config`), and the
    folder relative paths in it are taken from: what every stage task of the run gets (as an XCom)."""
    if not config:
        raise StageError("no configuration: trigger the DAG with the `config` param set to a YAML file")
    path = Path(config).expanduser().resolve()
    if not path.is_file():
        raise StageError(f"{config}: no such configuration file (give a path the workers can read)")
    argv = [find_executable(earwitness), "config", "--config", str(path)]
    for setting in settings:
        argv += ["--set", setting]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=path.parent)
    if done.returncode != 0:
        raise StageError(f"{config}: the configuration does not load: {done.stderr.strip() or done.stdout.strip()}")
    return {"yaml": done.stdout, "home": str(path.parent)}


@dataclass(frozen=True)
class Rebuild:
    """One run of the rebuild: the executable, the frozen configuration, and the folder it is relative to."""

    earwitness: str
    config_yaml: str
    home: Path  # the configuration file's folder: the stages' working directory

    @classmethod
    def frozen(cls, earwitness: str, resolved: dict[str, str]) -> Rebuild:
        return cls(earwitness, resolved["yaml"], Path(resolved["home"]))

    @functools.cached_property
    def settings(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_yaml)

    @property
    def out(self) -> Path:
        return self.home / self.settings["out"]  # an absolute `out` stays as it is

    @property
    def release(self) -> Path:
        """One folder per version: a build never writes into a finished release."""
        return self.out / "release" / self.settings["build"]["version"]

    def enabled(self, stage: str) -> bool:
        return stage in self.settings["stages"]

    def why_skipped(self, task_id: str) -> str | None:
        """None when the task runs; otherwise the reason it is skipped, for the task log."""
        stage = TASK_STAGES[task_id]
        if not self.enabled(stage):
            stages = ", ".join(self.settings["stages"]) or "none"
            return f"stage {stage!r} is turned off by the config (stages: {stages}): {task_id} skipped"
        if task_id == "publish" and not self.settings["publish"]["dest"]:
            return "publish.dest is not set in the config: nothing to publish, publish skipped"
        return None

    def argv(self, task_id: str, config_path: str) -> list[str]:
        """The command line of one stage task (after the executable)."""
        s, out = self.settings, self.out
        config = ["--config", config_path]
        project = ["--project", s["annotate"]["project"]]
        if task_id == "prune":
            return ["prune", *config, "--out", str(out / "prune")]
        if task_id == "acquire":
            return ["acquire", *self.candidates(), *config, "--out", str(out / "acquire")]
        if task_id == "verify":
            model = ["--model", s["verify"]["model"]] if s["verify"]["model"] else []
            return ["verify", str(out / "acquire"), "--out", str(out / "verify"), *model, *config]
        if task_id == "annotate_push":
            verdicts = out / "verify" / "verdicts.parquet"
            return ["annotate", "push", str(verdicts if self.enabled("verify") else out / "acquire"), *project, *config]
        if task_id == "wait_for_consensus":
            return ["annotate", "status", *project, "--json", *config]
        if task_id == "annotate_pull":
            return ["annotate", "pull", *project, "--out", str(out / "annotate"), *config]
        if task_id == "build":
            return ["build", str(out / "acquire"), "--out", str(self.release), *config]
        if task_id == "publish":
            return ["publish", str(self.release), s["publish"]["dest"], *config]
        raise StageError(f"unknown stage task {task_id!r}")

    def candidates(self) -> list[str]:
        files = sorted(str(p) for p in (self.out / "prune" / "candidates").glob("*.parquet"))
        if not files:
            raise StageError(f"no candidates in {self.out / 'prune' / 'candidates'}: run prune first")
        return files

    @contextlib.contextmanager
    def config_file(self) -> Iterator[str]:
        """The frozen configuration written to a private file for one command."""
        with tempfile.TemporaryDirectory(prefix="earwitness-") as folder:
            path = Path(folder) / "config.yaml"
            path.write_text(self.config_yaml)
            yield str(path)

    def run(self, task_id: str, log: logging.Logger) -> str:
        """Run one stage's command, its stdout and stderr going line by line to `log`; returns its stdout."""
        with self.config_file() as config:
            argv = [find_executable(self.earwitness), *self.argv(task_id, config)]
            log.info("running: %s (in %s)", redacted(shlex.join(argv)), self.home)
            return stream(argv, self.home, log)


def stream(argv: list[str], cwd: Path, log: logging.Logger) -> str:
    """Run a command, logging stdout and stderr as they come; a failure raises with its last lines.

    The command runs in its own process group: if the task is stopped (marked failed, timed out,
    its worker shut down), the command and every process it started (Beam's workers) are stopped too."""
    stdout: list[str] = []
    stderr: list[str] = []

    def follow(pipe: IO[str], into: list[str]) -> None:
        for line in pipe:
            into.append(line.rstrip("\n"))
            log.info("%s", into[-1])

    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    ) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            reader = threading.Thread(target=follow, args=(process.stderr, stderr), daemon=True)
            reader.start()
            follow(process.stdout, stdout)
            reader.join()
        except BaseException:
            stop(process)
            raise
    if process.returncode != 0:
        tail = "\n".join((stderr or stdout)[-5:])
        raise StageError(f"{shlex.join(argv[1:3])} exited with code {process.returncode}:\n{tail}")
    return "\n".join(stdout)


def stop(process: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGTERM to the command's process group, SIGKILL to what is left after `grace_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(grace_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # children that outlived the command
            return
        except subprocess.TimeoutExpired:
            continue


def remaining_annotations(status_json: str) -> int:
    """How many annotations the project still needs, from `earwitness annotate status --json`.

    The one place that knows the status document: `annotations_needed` (in total), `tasks` (the
    project's task count) and `error` (when Label Studio could not be read; the command still exits 0).
    A project without tasks is an error too: nothing was pushed, or the project's name is wrong."""
    try:
        status = json.loads(status_json)
        if "error" in status:
            raise StageError(f"annotate status: {status['error']}")
        remaining, tasks = int(status["annotations_needed"]), int(status["tasks"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StageError(
            f"annotate status did not report annotations_needed as JSON ({exc}): {status_json[-300:]!r}"
        ) from None
    if remaining < 0:
        raise StageError(f"annotate status reported {remaining} annotations remaining")
    if tasks == 0:
        raise StageError(f"project {status.get('project')!r} has no tasks: nothing was pushed, or its name is wrong")
    return remaining
