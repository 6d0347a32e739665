"""The rebuild DAG: it loads in Airflow's own environment, `airflow dags test` rebuilds the demo end to
end offline on a fresh SQLite metadata database, and its sensor waits for the annotators in reschedule
mode. The Airflow tests skip where .venv-airflow is absent (`make airflow` creates it)."""

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

# The stages the end-to-end demo run turns on. When verify, annotate and publish land, add them here;
# STAGE_SETTINGS already gives publish its destination (verify needs a model, annotate a server).
STAGES_ON = ["prune", "acquire", "build"]

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


def standin(folder: Path, remaining: list[int]) -> Path:
    """An `earwitness` for the DAG whose annotate commands are stand-ins (see annotate_standin.py)."""
    folder.mkdir()
    script = folder / "earwitness"
    script.write_text(f"#!{sys.executable}\n" + (ROOT / "tests" / "annotate_standin.py").read_text())
    script.chmod(0o755)
    (folder / "standin.json").write_text(json.dumps({"earwitness": str(EARWITNESS), "remaining": remaining}))
    return script


def calls(folder: Path) -> list[list[str]]:
    return [json.loads(line) for line in (folder / "calls.jsonl").read_text().splitlines()]


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


@needs_airflow
def test_dags_test_rebuilds_the_demo_end_to_end_and_skips_the_stages_the_config_turns_off(airflow_env, demo):
    conf = {
        "config": str(demo / "config.yaml"),
        "version": "0.2.0",
        "runner": "FnApiRunner",
        "workers": 0,
        "set": [f"stages=[{','.join(STAGES_ON)}]", f"publish.dest={demo / 'published'}"],
    }
    done, states, _ = dags_test(airflow_env, conf)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert states.pop("config") == "success"
    assert states == {t: "success" if stages.TASK_STAGES[t] in STAGES_ON else "skipped" for t in STAGE_TASKS}
    for task_id in (t for t in STAGE_TASKS if stages.TASK_STAGES[t] not in STAGES_ON):
        assert f"is turned off by the config (stages: {', '.join(STAGES_ON)}): {task_id} skipped" in output

    # every candidate prune wrote ends in acquire's clips table, ok or with its reason
    candidates = sum(pq.read_metadata(p).num_rows for p in (demo / "prune" / "candidates").glob("*.parquet"))
    clips = pq.read_table(demo / "acquire" / "clips.parquet").to_pylist()
    assert candidates > 0 and len(clips) == candidates
    assert sum(c["status"] == "ok" for c in clips) > 0 and all(c["status"] == "ok" or c["reason"] for c in clips)

    release = demo / "release" / "0.2.0"  # one folder per version
    shards = sorted(release.glob("*/*/*.tar"))
    assert shards and all(s.stat().st_size > 0 for s in shards)
    for manifest in ("samples", "qa", "preferences"):
        assert pq.read_metadata(release / "manifests" / f"{manifest}.parquet").num_rows > 0
    summed = (release / "SHA256SUMS").read_text()
    assert all(str(s.relative_to(release)) in summed for s in shards)
    assert "# demo 0.2.0" in (release / "README.md").read_text()  # the version param reached the build


@needs_airflow
def test_the_sensor_reschedules_until_no_annotation_remains_then_pull_runs(airflow_env, demo, tmp_path):
    earwitness = standin(tmp_path / "bin", remaining=[2, "error", 0])  # Label Studio down once mid-wait
    conf = {
        "config": str(demo / "config.yaml"),
        "earwitness": str(earwitness),
        "set": ["stages=[annotate]", "annotate.project=rebuild-test"],
        "poke_interval": 1,
    }
    done, states, reschedules = dags_test(airflow_env, conf)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    annotate = {"annotate_push", "wait_for_consensus", "annotate_pull"}
    assert states == {"config": "success"} | {t: "success" if t in annotate else "skipped" for t in STAGE_TASKS}
    assert reschedules == 2  # it gave its worker slot back between checks
    made = calls(tmp_path / "bin")
    statuses = [["annotate", "status"]] * 3
    assert [c[:2] for c in made] == [["annotate", "push"], *statuses, ["annotate", "pull"]]
    assert made[0][2] == str(demo / "acquire")  # verify is off: the clips themselves are pushed
    assert all(c[c.index("--project") + 1] == "rebuild-test" for c in made)
    assert all("--json" in c for c in made[1:4])
    assert made[4][made[4].index("--out") + 1] == str(demo / "annotate")
    assert "annotate status failed; checking again in 1 s" in done.stdout + done.stderr


@needs_airflow
def test_the_sensor_fails_after_its_timeout_and_nothing_after_it_runs(airflow_env, demo, tmp_path):
    standin(tmp_path / "bin", remaining=[5])
    conf = {
        "config": str(demo / "config.yaml"),
        "earwitness": str(tmp_path / "bin" / "earwitness"),
        "set": ["stages=[annotate,build]"],
        "poke_interval": 1,
        "consensus_timeout": 1,
    }
    done, states, reschedules = dags_test(airflow_env, conf)
    assert states["wait_for_consensus"] == "failed", (done.stdout + done.stderr)[-5000:]
    assert "Sensor has timed out" in done.stdout + done.stderr
    assert reschedules >= 1
    assert {states[t] for t in ("annotate_pull", "build", "publish")} == {"upstream_failed"}
    assert [c[1] for c in calls(tmp_path / "bin")].count("pull") == 0


def test_demo_prepare_only_writes_the_inputs_a_clip_source_and_a_config_with_absolute_paths(demo):
    config = stages.resolve_config(str(EARWITNESS), str(demo / "config.yaml"), [])
    settings = stages.Rebuild.frozen(str(EARWITNESS), config).settings
    assert settings["stages"] == ["prune", "acquire", "build"]  # what the demo runs offline today
    assert Path(settings["out"]) == demo and Path(settings["acquire"]["source"]).is_absolute()
    assert all(Path(p).is_file() for p in settings["prune"]["segments"])
    clips = list(Path(settings["acquire"]["source"]).glob("*.mp4"))
    assert len(clips) == 24 and all(c.stat().st_size > 0 for c in clips)  # the first 12 segments of each split


def test_the_status_parser_reads_what_remains_and_rejects_what_it_cannot_read():
    assert stages.remaining_annotations('{"project": "p", "tasks": 40, "remaining": 7}') == 7
    assert stages.remaining_annotations('{"tasks": 40, "remaining": 0}') == 0
    for bad in ('{"tasks": 40}', "not json", '{"remaining": -1}', '{"remaining": "many"}'):
        with pytest.raises(stages.StageError, match="remaining"):
            stages.remaining_annotations(bad)


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
