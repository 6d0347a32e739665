"""The rebuild DAG: it loads in Airflow's own environment, and `airflow dags test` rebuilds the demo end to
end offline on a fresh SQLite metadata database, every stage real: the tiny verifier model, a real Label
Studio server whose two annotator accounts annotate while the sensor waits in reschedule mode (the server
killed and restarted mid-wait), build and publish. The Airflow tests skip where .venv-airflow or
.venv-labelstudio is absent (`make test` creates both)."""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
AIRFLOW = ROOT / ".venv-airflow" / "bin" / "airflow"
EARWITNESS = Path(sys.executable).parent / "earwitness"
DAG_ID = "earwitness_rebuild"
STAGE_TASKS = [
    "prune",
    "acquire",
    "verify",
    "annotate_push",
    "wait_for_consensus",
    "annotate_pull",
    "build",
    "publish",
]

TOKEN_ENV = "LABEL_STUDIO_API_KEY"

needs_airflow = pytest.mark.skipif(
    not AIRFLOW.exists(), reason=f"no Airflow venv at {AIRFLOW.parent.parent}: make airflow"
)

spec = importlib.util.spec_from_file_location("earwitness_stages", DAGS / "earwitness_stages.py")
stages = sys.modules["earwitness_stages"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stages)

DAGBAG = """
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag  # a DagBag with the folder on sys.path, as Airflow runs it

folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=folder, bundle_path=folder)
dag = bag.dags.get(sys.argv[2])
tasks = {
    t.task_id: {"upstream": sorted(t.upstream_task_ids), "trigger_rule": str(t.trigger_rule.value),
                "mode": getattr(t, "mode", None), "timeout": getattr(t, "timeout", None)}
    for t in (dag.tasks if dag else [])
}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("earwitness", "apache_beam", "torch"))
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "tasks": tasks, "heavy": heavy,
                  "params": sorted(dag.params) if dag else []}))
"""


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """One fresh AIRFLOW_HOME with a migrated SQLite database for the module's runs."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = os.environ | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "EARWITNESS_SCHEDULE": "none",
    }
    done = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, cwd=home)
    assert done.returncode == 0, done.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo's inputs, clip source and config.yaml, written without running any stage."""
    out = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [str(EARWITNESS), "demo", "--prepare-only", "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert not (out / "prune").exists() and not (out / "release").exists()
    return out


def dags_test(env: dict[str, str], conf: dict) -> tuple[subprocess.CompletedProcess, dict[str, str], int]:
    """Run the DAG once; returns the command, every task's final state and the sensor's reschedules."""
    conf = {"earwitness": str(EARWITNESS)} | conf
    done = subprocess.run(
        [str(AIRFLOW), "dags", "test", DAG_ID, "-c", json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
        cwd=env["AIRFLOW_HOME"],
    )
    with contextlib.closing(sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")) as db:
        (run_id,) = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC", (DAG_ID,)).fetchone()
        rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id))
        states = dict(rows.fetchall())
        (reschedules,) = db.execute(
            "SELECT count(*) FROM task_reschedule r JOIN task_instance t ON r.ti_id = t.id "
            "WHERE t.dag_id = ? AND t.run_id = ? AND t.task_id = 'wait_for_consensus'",
            (DAG_ID, run_id),
        ).fetchone()
    return done, states, reschedules


@needs_airflow
def test_the_dag_folder_loads_without_errors_and_chains_the_stages_in_order():
    done = subprocess.run(
        [str(AIRFLOW.parent / "python"), "-c", DAGBAG, str(DAGS), DAG_ID],
        capture_output=True,
        text=True,
        env=os.environ | {"AIRFLOW__CORE__LOAD_EXAMPLES": "False", "EARWITNESS_SCHEDULE": "none"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    bag = json.loads(done.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    assert bag["heavy"] == []  # parsing imports neither earwitness nor Beam
    tasks = bag["tasks"]
    assert set(tasks) == {"config", *STAGE_TASKS}
    chain = ["config", *STAGE_TASKS]
    for before, task_id in itertools.pairwise(chain):
        assert tasks[task_id]["upstream"] == [before]
        assert tasks[task_id]["trigger_rule"] == "none_failed"  # a skipped stage does not stop the next
    sensor = tasks["wait_for_consensus"]
    assert sensor["mode"] == "reschedule" and sensor["timeout"] > 0
    assert {"config", "version", "runner", "workers", "earwitness", "poke_interval", "consensus_timeout"} <= set(
        bag["params"]
    )


class Annotators(threading.Thread):
    """Two real annotator accounts at work while the DAG waits: once the sensor has rescheduled, Label
    Studio is killed until the sensor has checked again (and must sit that out), then brought back on
    the same port, and both annotators annotate every task: the first passes all, the second rejects
    `action` on every other clip."""

    def __init__(self, server, airflow_home: Path, project: str):
        super().__init__(daemon=True)
        self.server, self.database, self.project = server, Path(airflow_home) / "airflow.db", project
        self.accepted: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _work(self) -> None:
        from label_studio_sdk import LabelStudio

        from earwitness import testing_labelstudio as lstest

        if not self._reschedules_reach(1):  # the sensor's first check saw annotations needed
            return
        self.server.kill()
        self._reschedules_reach(2)  # and it checked again while Label Studio was down
        self.server.start(port=self.server.port)
        admin = LabelStudio(base_url=self.server.url, api_key=lstest.ADMIN.token)
        (project,) = [p for p in admin.projects.list() if p.title == self.project]
        tasks = sorted(admin.tasks.list(project=project.id, page_size=1000), key=lambda t: t.data["key"])
        for n, task in enumerate(tasks):
            for i, account in enumerate(lstest.ANNOTATORS):
                action = "reject" if i == 1 and n % 2 else "pass"
                result = [
                    {"from_name": q, "to_name": "video", "type": "choices", "value": {"choices": [answer]}}
                    for q, answer in (("visible", "pass"), ("dominant", "pass"), ("action", action))
                ]
                client = LabelStudio(base_url=self.server.url, api_key=account.token)
                client.annotations.create(id=task.id, result=result)
            if n % 2 == 0:
                self.accepted.add(task.data["key"])

    def _reschedules_reach(self, count: int, timeout_s: float = 600) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(self.database)) as db:
                if db.execute("SELECT count(*) FROM task_reschedule").fetchone()[0] >= count:
                    return True
            time.sleep(0.3)
        return False


def label_studio(server, document_root: Path, project: str) -> list[str]:
    """The overrides that point a run at the test's Label Studio server."""
    return [f"annotate.url={server.url}", f"annotate.project={project}", f"annotate.document_root={document_root}"]


@needs_airflow
def test_dags_test_rebuilds_the_demo_end_to_end_every_stage_real(airflow_env, demo, server, document_root):
    from earwitness import testing_labelstudio as lstest

    conf = {
        "config": str(demo / "config.yaml"),
        "version": "0.2.0",
        "runner": "FnApiRunner",
        "workers": 0,
        "set": ["stages=[prune,acquire,verify,annotate,build,publish]", *label_studio(server, document_root, "e2e")],
        "poke_interval": 2,
    }
    annotators = Annotators(server, airflow_env["AIRFLOW_HOME"], "e2e")
    annotators.start()
    done, states, reschedules = dags_test(airflow_env | {TOKEN_ENV: lstest.ADMIN.token}, conf)
    annotators.join(timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and annotators.error is None, (annotators.error, output[-6000:])
    assert states == {"config": "success"} | dict.fromkeys(STAGE_TASKS, "success")
    assert reschedules >= 3  # it gave its worker slot back between checks
    assert "annotate status failed; checking again in 2 s" in output  # Label Studio was down for a while

    # every candidate prune wrote ends in acquire's clips table, ok or with its reason
    candidates = sum(pq.read_metadata(p).num_rows for p in (demo / "prune" / "candidates").glob("*.parquet"))
    clips = pq.read_table(demo / "acquire" / "clips.parquet").to_pylist()
    assert candidates > 0 and len(clips) == candidates
    assert sum(c["status"] == "ok" for c in clips) > 0 and all(c["status"] == "ok" or c["reason"] for c in clips)
    verdicts = pq.read_table(demo / "verify" / "verdicts.parquet").to_pylist()
    assert {v["key"] for v in verdicts} == {c["key"] for c in clips if c["status"] == "ok"}
    consensus = {r["key"]: r for r in pq.read_table(demo / "annotate" / "consensus.parquet").to_pylist()}
    assert len(consensus) == sum(v["passed"] for v in verdicts) > 1
    assert all(r["annotations"] == 2 for r in consensus.values())
    assert {k for k, r in consensus.items() if r["accepted"]} == annotators.accepted

    release = demo / "release" / "0.2.0"  # one folder per version
    built = {r["clip_key"] for r in pq.read_table(release / "manifests" / "samples.parquet").to_pylist()}
    assert built == annotators.accepted  # only what the verifier passed and both annotators accepted
    shards = sorted(release.glob("*/*/*.tar"))
    assert shards and all(s.stat().st_size > 0 for s in shards)
    summed = (release / "SHA256SUMS").read_text()
    assert all(str(s.relative_to(release)) in summed for s in shards)
    assert "# demo 0.2.0" in (release / "README.md").read_text()  # the version param reached the build
    published = demo / "published" / "0.2.0"
    assert json.loads((published / "RELEASE.json").read_text())["version"] == "0.2.0"
    assert (published / "SHA256SUMS").read_bytes() == (release / "SHA256SUMS").read_bytes()
    assert lstest.ADMIN.token not in output  # the token never reaches a task log


@needs_airflow
def test_stages_turned_off_are_skipped_visibly_and_the_sensor_times_out(
    airflow_env, demo, server, document_root, tmp_path
):
    from earwitness import testing_labelstudio as lstest

    on = ["prune", "acquire", "annotate", "build"]
    conf = {
        "config": str(demo / "config.yaml"),
        "set": [f"out={tmp_path / 'run'}", f"stages=[{','.join(on)}]", *label_studio(server, document_root, "idle")],
        "poke_interval": 1,
        "consensus_timeout": 3,
    }
    done, states, reschedules = dags_test(airflow_env | {TOKEN_ENV: lstest.ADMIN.token}, conf)
    output = done.stdout + done.stderr
    assert {states[t] for t in ("prune", "acquire", "annotate_push")} == {"success"}, output[-5000:]
    assert states["verify"] == "skipped"  # and annotate_push after it ran
    assert f"is turned off by the config (stages: {', '.join(on)}): verify skipped" in output
    assert states["wait_for_consensus"] == "failed" and "Sensor has timed out" in output
    assert reschedules >= 1
    assert {states[t] for t in ("annotate_pull", "build", "publish")} == {"upstream_failed"}
    assert not (tmp_path / "run" / "annotate" / "consensus.parquet").exists()
    assert (tmp_path / "run" / "annotate" / "push.json").exists()  # pushed the clips themselves: verify is off


@needs_airflow
def test_a_run_with_every_stage_turned_off_skips_each_task_saying_why(airflow_env, demo, tmp_path):
    conf = {
        "config": str(demo / "config.yaml"),
        "set": [f"out={tmp_path / 'run'}", "stages=[publish]", "publish.dest=null"],
    }
    done, states, reschedules = dags_test(airflow_env, conf)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert states == {"config": "success"} | dict.fromkeys(STAGE_TASKS, "skipped")
    assert reschedules == 0  # the sensor skipped at its first check, holding nothing
    for task_id in (t for t in STAGE_TASKS if t != "publish"):
        assert f"is turned off by the config (stages: publish): {task_id} skipped" in output
    assert "publish.dest is not set in the config: nothing to publish, publish skipped" in output
    assert not (tmp_path / "run").exists()  # no stage ran


def test_demo_prepare_only_writes_the_inputs_a_clip_source_and_a_config_with_absolute_paths(demo):
    config = stages.resolve_config(str(EARWITNESS), str(demo / "config.yaml"), [])
    settings = stages.Rebuild.frozen(str(EARWITNESS), config).settings
    assert settings["stages"] == ["prune", "acquire", "verify", "build", "publish"]  # annotate needs a server
    assert (Path(settings["verify"]["model"]) / "config.json").is_file()  # the tiny model, saved as weights come
    assert Path(settings["out"]) == demo and Path(settings["acquire"]["source"]).is_absolute()
    assert all(Path(p).is_file() for p in settings["prune"]["segments"])
    clips = list(Path(settings["acquire"]["source"]).glob("*.mp4"))
    assert len(clips) == 24 and all(c.stat().st_size > 0 for c in clips)  # the first 12 segments of each split


def test_the_status_parser_reads_what_remains_and_rejects_what_it_cannot_read():
    assert stages.remaining_annotations('{"project": "p", "tasks": 40, "annotations_needed": 7}') == 7
    assert stages.remaining_annotations('{"tasks": 40, "annotations_needed": 0, "complete": true}') == 0
    for bad in ('{"tasks": 40}', "not json", '{"tasks": 1, "annotations_needed": -1}', '{"annotations_needed": "x"}'):
        with pytest.raises(stages.StageError, match=r"annotations_needed|remaining"):
            stages.remaining_annotations(bad)
    with pytest.raises(stages.StageError, match="cannot reach Label Studio"):
        stages.remaining_annotations('{"project": "p", "error": "cannot reach Label Studio at http://x"}')
    with pytest.raises(stages.StageError, match="has no tasks"):
        stages.remaining_annotations('{"project": "p", "tasks": 0, "annotations_needed": 0}')


def test_credentials_in_urls_never_reach_a_task_log():
    config = (
        "annotate:\n  url: https://ann:s3cret@labelstudio.lab.org/\nacquire:\n  proxy: socks5://me:pw@10.0.0.1:1080\n"
    )
    shown = stages.redacted(config)
    assert "s3cret" not in shown and "me:pw" not in shown
    assert "https://***@labelstudio.lab.org/" in shown and "socks5://***@10.0.0.1:1080" in shown
    assert stages.redacted("https://hf_abc@hub/x https://u:p/w@host/y") == "https://***@hub/x https://***@host/y"
    assert stages.redacted("dest: https://bucket.s3.amazonaws.com/r?X-Amz-Signature=abc#f") == (
        "dest: https://bucket.s3.amazonaws.com/r?***#f"
    )
    assert stages.redacted("gs://bucket/clips and http://host:8080/x") == "gs://bucket/clips and http://host:8080/x"


def test_each_stage_gets_the_run_folder_paths_and_skips_say_why(tmp_path):
    config = f"out: {tmp_path / 'run'}\nstages: [verify, annotate, publish]\nannotate: {{project: p}}\n"
    params = {"version": "1.0+{date}", "runner": "PortableRunner", "workers": 2, "set": ["annotate.project=q"]}
    settings = stages.overrides(params, run_date="20261122")
    resolved = stages.resolve_config(str(EARWITNESS), str(_write(tmp_path / "c.yaml", config)), settings)
    rebuild = stages.Rebuild.frozen(str(EARWITNESS), resolved)
    effective = rebuild.settings
    assert effective["build"]["version"] == "1.0+20261122" and effective["annotate"]["project"] == "q"
    assert effective["beam"] == {"runner": "PortableRunner", "workers": 2, "options": []}
    assert rebuild.argv("build", "C")[3] == str(tmp_path / "run/release/1.0+20261122")
    (version,) = stages.overrides({"version": "2.0"}, run_date="20261122")
    assert yaml.safe_load(version.partition("=")[2]) == "2.0"  # a version, not the number 2.0
    assert rebuild.argv("annotate_push", "C")[:3] == ["annotate", "push", str(tmp_path / "run/verify/verdicts.parquet")]
    assert rebuild.argv("verify", "C")[:4] == [
        "verify",
        str(tmp_path / "run/acquire"),
        "--out",
        str(tmp_path / "run/verify"),
    ]
    assert "prune" in rebuild.why_skipped("prune") and rebuild.why_skipped("verify") is None
    assert (
        rebuild.why_skipped("publish") == "publish.dest is not set in the config: nothing to publish, publish skipped"
    )
    with pytest.raises(stages.StageError, match="run prune first"):
        rebuild.argv("acquire", "C")


def test_a_bad_configuration_fails_the_run_at_once_with_the_projects_message(tmp_path):
    bad = _write(tmp_path / "c.yaml", "stages: [prune, paint]\n")
    with pytest.raises(stages.StageError, match=r"unknown stages \['paint'\]"):
        stages.resolve_config(str(EARWITNESS), str(bad), [])
    with pytest.raises(stages.StageError, match="trigger the DAG with the `config` param set"):
        stages.resolve_config(str(EARWITNESS), "", [])  # a scheduled run of a DAG nobody configured
    with pytest.raises(stages.StageError, match="no such configuration file"):
        stages.resolve_config(str(EARWITNESS), str(tmp_path / "missing.yaml"), [])
    with pytest.raises(stages.StageError, match="executable 'no-such-earwitness' not found"):
        stages.resolve_config("no-such-earwitness", str(bad), [])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_stopped_task_stops_the_command_and_every_process_it_started(tmp_path):
    pids = tmp_path / "pids"
    command = (
        "import os, subprocess, time\n"
        # a process that outlives the command unless its whole group is stopped (holding no pipe of ours)
        "child = subprocess.Popen(['sleep', '300'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )

    class Stopped(Exception):
        pass

    class StopAtFirstLine:  # the task being stopped while the command runs
        def info(self, *args):
            raise Stopped

    with pytest.raises(Stopped):
        stages.stream([sys.executable, "-c", command], tmp_path, StopAtFirstLine())
    started = [int(pid) for pid in pids.read_text().split()]
    try:
        assert [_alive(pid) for pid in started] == [False, False]
    finally:
        for pid in filter(_alive, started):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has stopped; only its exit status is left
