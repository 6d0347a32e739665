"""earwitness_rebuild: the scheduled rebuild of a release.

config -> prune -> acquire -> verify -> annotate_push -> wait_for_consensus -> annotate_pull -> build -> publish

Each stage runs the project's own `earwitness` command (the project's environment, not Airflow's)
with the run's configuration, resolved once by the `config` task. A stage the configuration's
`stages` leaves out ends skipped, with the reason in its log, and the stages after it still run.
`wait_for_consensus` waits for the annotators in reschedule mode: between checks it holds no worker
slot, and it fails after `consensus_timeout` seconds. Parsing this file imports neither earwitness
nor Beam.

Environment read when the file is parsed (a deployment's defaults; params override them per run):
EARWITNESS_CONFIG (the config param), EARWITNESS_BIN (the earwitness param), EARWITNESS_VERSION (the
version param; a schedule needs `{date}` in it, as a version is released once), EARWITNESS_SCHEDULE
(a cron expression or preset; default @weekly; "none" for manual runs only).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, BaseSensorOperator, Context, Param, TriggerRule, chain, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException
from earwitness_stages import Rebuild, StageError, overrides, redacted, remaining_annotations, resolve_config

log = logging.getLogger("earwitness_rebuild")  # the module name Airflow gives the file is mangled
DAY = 24 * 3600


def _schedule() -> str | None:
    schedule = os.environ.get("EARWITNESS_SCHEDULE", "@weekly")
    return None if schedule.lower() in ("", "none") else schedule


def _rebuild(context: Context) -> Rebuild:
    resolved = context["ti"].xcom_pull(task_ids="config")
    return Rebuild.frozen(context["params"]["earwitness"], resolved)


def _skip_unless_enabled(rebuild: Rebuild, task_id: str) -> None:
    reason = rebuild.why_skipped(task_id)
    if reason is not None:
        log.info("%s", reason)
        raise AirflowSkipException(reason)


def _run_stage(task_id: str) -> None:
    rebuild = _rebuild(get_current_context())
    _skip_unless_enabled(rebuild, task_id)
    rebuild.run(task_id, log)


class ConsensusSensor(BaseSensorOperator):
    """Waits until `earwitness annotate status --json` reports no annotation remaining.

    Its poke interval and timeout come from the run's params, so they are set when it runs. A status
    that cannot be read fails the first check (a wrong project or server shows at once); later, it
    only waits for the next check, so a Label Studio restart during a two-week wait costs nothing."""

    def execute(self, context: Context) -> Any:
        self.poke_interval = float(context["params"]["poke_interval"])
        self.timeout = float(context["params"]["consensus_timeout"])
        self._first_check = context["ti"].get_first_reschedule_date(context) is None
        return super().execute(context)

    def poke(self, context: Context) -> bool:
        rebuild = _rebuild(context)
        _skip_unless_enabled(rebuild, self.task_id)
        try:
            remaining = remaining_annotations(rebuild.run(self.task_id, self.log))
        except StageError as exc:
            if self._first_check:
                raise
            self.log.warning("annotate status failed; checking again in %d s: %s", self.poke_interval, exc)
            return False
        self.log.info("%d annotations remaining", remaining)
        return remaining == 0


with DAG(
    dag_id="earwitness_rebuild",
    description="prune -> acquire -> verify -> annotate -> build -> publish, each stage the earwitness command",
    schedule=_schedule(),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # runs share the run folder
    doc_md=__doc__,
    tags=["earwitness"],
    params={
        "config": Param(
            os.environ.get("EARWITNESS_CONFIG", ""),
            type="string",
            description="the build configuration (YAML) on the workers; relative paths in it are from its folder",
        ),
        "version": Param(
            os.environ.get("EARWITNESS_VERSION"),
            type=["null", "string"],
            description="the release version (build.version); {date} is the run's date: 1.2.0+{date}",
        ),
        "runner": Param(None, type=["null", "string"], description="the Beam runner (beam.runner)"),
        "workers": Param(None, type=["null", "integer"], minimum=0, description="Beam worker processes"),
        "set": Param([], type="array", items={"type": "string"}, description="more overrides: section.key=value"),
        "earwitness": Param(
            os.environ.get("EARWITNESS_BIN", "earwitness"),
            type="string",
            description="the earwitness executable of the project's environment",
        ),
        "poke_interval": Param(1800, type="integer", minimum=1, description="seconds between consensus checks"),
        "consensus_timeout": Param(
            14 * DAY, type="integer", minimum=1, description="seconds to wait for the annotators before failing"
        ),
    },
) as dag:

    @task(task_id="config")
    def config(params: dict[str, Any], dag_run: Any) -> dict[str, str]:
        """Check the configuration with the run's overrides and freeze it for every stage of the run."""
        settings = overrides(params, dag_run.run_after.strftime("%Y%m%d"))
        resolved = resolve_config(params["earwitness"], params["config"], settings)
        shown = redacted(resolved["yaml"])
        log.info("configuration %s with %s:\n%s", params["config"], redacted(str(settings or "no overrides")), shown)
        return resolved

    def stage(task_id: str) -> Any:
        """A stage task; it runs when nothing before it failed, so a skipped stage does not stop the rest."""

        def run_stage() -> None:
            _run_stage(task_id)

        return task(task_id=task_id, trigger_rule=TriggerRule.NONE_FAILED)(run_stage)()

    wait_for_consensus = ConsensusSensor(
        task_id="wait_for_consensus",
        mode="reschedule",
        poke_interval=1800,  # replaced by the params' values when the sensor runs
        timeout=14 * DAY,
        trigger_rule=TriggerRule.NONE_FAILED,
    )

    chain(
        config(),
        stage("prune"),
        stage("acquire"),
        stage("verify"),
        stage("annotate_push"),
        wait_for_consensus,
        stage("annotate_pull"),
        stage("build"),
        stage("publish"),
    )
