"""annotate: clips go to two annotators in Label Studio; push, wait (days, maybe), pull.

    earwitness annotate push VERDICTS_OR_CLIPS   verified (or acquired) clips -> one task each, never twice
    earwitness annotate status [--json]          how many tasks need how many more annotations
    earwitness annotate pull [--out DIR]         DIR/consensus.parquet and DIR/agreement.json

The token comes from $LABEL_STUDIO_API_KEY (annotate.token_env) or annotate.token_file, never from
the configuration, and is written nowhere.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import typer

from earwitness.annotation.consensus import (
    AGREEMENT,
    QUESTIONS,
    REQUIRED,
    STATUSES,
    agreement,
    consensus_row,
    votes_of,
)
from earwitness.annotation.labelstudio import Studio, read_token
from earwitness.annotation.media import Media
from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import AnnotateConfig, Config, load_config
from earwitness.schemas import CLIPS, CONSENSUS, VERDICTS, read_table, write_table
from earwitness.schemas.registry import NAME_KEY
from earwitness.storage import redact, write_json

log = logging.getLogger(__name__)
PUSH_RECORD = "push.json"


@dataclass
class PushResult:
    project: int
    counts: dict[str, int]  # input rows -> skipped by reason, already in the project, imported
    skipped: list[dict] = field(default_factory=list)  # {key, reason}: every input row not pushed
    out: Path | None = None


def run_push(
    config: Config,
    source: str | Path,
    out: str | Path,
    clips: str | Path | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> PushResult:
    """Push the clips that are not yet tasks of the project, in batches of annotate.batch; `on_batch`
    hears the running count after each. A re-run after a crash pushes only what is missing."""
    settings = config.annotate
    rows, skipped, total = clips_to_push(Path(source), Path(clips) if clips else None)
    media = Media(settings.media, settings.document_root, settings.media_url)
    tasks, folders = [], set()
    for row in rows:
        if media.kind(row["path"]) == "local":
            local = media.local_path(row["path"])
            if not local.is_file():
                skipped.append({"key": row["key"], "reason": "missing_file"})
                continue
            folders.add(local.parent.as_posix())
        tasks.append(
            {"video": media.url(row["path"], row["key"])}
            | {k: row[k] for k in ("key", "class_name", "class_id", "split", "sha256")}
        )
    studio = connect(settings)
    project = studio.find_project(settings.project)
    if project is None:
        project = studio.create_project(settings.project)
        log.info(f"created Label Studio project {settings.project!r} (id {project})")
    for folder in sorted(folders):
        studio.grant_folder(project, folder)
    present = {t.get("data", {}).get("key"): t.get("data", {}).get("sha256") for t in studio.export(project)}
    for task in [t for t in tasks if t["key"] in present and present[t["key"]] != t["sha256"]]:
        skipped.append({"key": task["key"], "reason": "changed_clip"})  # its task shows an older version
        tasks.remove(task)
    new = [t for t in tasks if t["key"] not in present]
    imported = 0
    for start in range(0, len(new), settings.batch):
        imported += studio.import_tasks(project, new[start : start + settings.batch])
        log.info(f"pushed {imported:,} of {len(new):,} new tasks")
        if on_batch:
            on_batch(imported)
    counts = {"input": total, "skipped": len(skipped), "already_pushed": len(tasks) - len(new), "imported": imported}
    counts |= {f"skipped_{reason}": n for reason, n in sorted(Counter(s["reason"] for s in skipped).items())}
    result = PushResult(project, counts, sorted(skipped, key=lambda s: s["key"]), Path(out))
    record = {"project": settings.project, "project_id": project, "url": redact(settings.url)}
    write_json(Path(out) / PUSH_RECORD, record | {"counts": counts, "skipped": result.skipped})
    return result


def clips_to_push(source: Path, clips: Path | None) -> tuple[list[dict], list[dict], int]:
    """The clip rows to push, the input rows left out ({key, reason}) and the number of input rows.

    A verdicts table (verify) pushes the clips it passed; their files are found in the clips table
    of the same run (<run>/acquire/clips.parquet beside <run>/verify/) or the one --clips names.
    A clips table (acquire) pushes every clip acquired."""
    table, kind = _input_table(source)
    skipped = []
    if kind == "clips":
        rows = read_table(table, CLIPS).to_pylist()
        total = len(rows)
        skipped = [{"key": r["key"], "reason": "acquire_failed"} for r in rows if r["status"] != "ok"]
        rows = [r for r in rows if r["status"] == "ok"]
    else:
        clips_table = _input_table(clips)[0] if clips else table.parent.parent / "acquire" / "clips.parquet"
        if not clips_table.exists():
            raise EarwitnessError(f"{clips_table}: no clips table for the verdicts in {table}; name it with --clips")
        stored = {r["key"]: r for r in read_table(clips_table, CLIPS).to_pylist() if r["status"] == "ok"}
        verdicts = read_table(table, VERDICTS).to_pylist()
        total, rows = len(verdicts), []
        for v in verdicts:
            clip = stored.get(v["key"])
            reason = (
                "verify_failed" if v["status"] != "ok"
                else "verify_rejected" if not v["passed"]
                else "no_clip" if clip is None
                else "stale_verdict" if clip["sha256"] != v["sha256"]
                else None
            )  # fmt: skip
            if reason:
                skipped.append({"key": v["key"], "reason": reason})
            else:
                rows.append(clip)
    unique: dict[str, dict] = {}
    for row in rows:
        if row["key"] in unique:
            skipped.append({"key": row["key"], "reason": "duplicate_row"})
        unique.setdefault(row["key"], row)
    return sorted(unique.values(), key=lambda r: r["key"]), skipped, total


def _input_table(source: Path) -> tuple[Path, str]:
    """A verdicts or clips table, given as the file or the folder holding it."""
    if source.is_dir():
        found = [source / f"{kind}.parquet" for kind in ("verdicts", "clips") if (source / f"{kind}.parquet").exists()]
        if not found:
            raise EarwitnessError(f"{source}: holds neither verdicts.parquet (verify) nor clips.parquet (acquire)")
        source = found[0]
    if not source.exists():
        raise EarwitnessError(f"{source}: no such file")
    try:
        name = (pq.read_schema(source).metadata or {}).get(NAME_KEY, b"").decode()
    except pa.ArrowInvalid as exc:
        raise EarwitnessError(f"{source}: not a readable Parquet file ({exc})") from None
    if name not in ("verdicts", "clips"):
        raise EarwitnessError(f"{source}: a '{name or 'unknown'}' table; push takes verdicts or clips")
    return source, name


def connect(settings: AnnotateConfig) -> Studio:
    return Studio(settings.url, read_token(settings.token_env, settings.token_file), settings.timeout_s)


def project_status(config: Config) -> dict:
    """How many tasks need how many more annotations. Never raises: a failure is the 'error' field."""
    settings = config.annotate
    status: dict = {"project": settings.project, "url": redact(settings.url)}
    try:
        studio = connect(settings)
        project = studio.find_project(settings.project)
        tasks = studio.export(project) if project is not None else []
    except EarwitnessError as exc:
        return status | {"error": str(exc)}
    done = Counter()
    repeated = 0
    for task in tasks:
        votes = len(votes_of(task))
        done[min(votes, REQUIRED)] += 1
        submitted = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        repeated += len(submitted) > votes
    needed = sum(n * (REQUIRED - votes) for votes, n in done.items())
    return status | {
        "project_id": project,
        "tasks": len(tasks),
        "tasks_done": done[REQUIRED],
        "annotations_needed": needed,
        "tasks_by_annotations": {str(k): done[k] for k in range(REQUIRED + 1)},
        "tasks_with_a_repeated_annotator": repeated,
        "complete": bool(tasks) and needed == 0,
    }


@dataclass
class PullResult:
    out: Path
    consensus: pa.Table
    agreement: dict


def run_pull(config: Config, out: str | Path) -> PullResult:
    settings, out = config.annotate, Path(out)
    studio = connect(settings)
    project = studio.find_project(settings.project)
    if project is None:
        where = redact(settings.url)
        raise EarwitnessError(f"no Label Studio project titled {settings.project!r} at {where}; push first")
    by_key: dict[str, list[dict]] = {}
    foreign = 0
    for task in studio.export(project):
        key = (task.get("data") or {}).get("key")
        if not key:
            foreign += 1  # a task someone added by hand: not a clip
            continue
        by_key.setdefault(key, []).append(task)
    rows, voted = [], []
    for key, tasks in sorted(by_key.items()):  # a key in two tasks (imported by hand): one clip, votes pooled
        votes = votes_of({"annotations": [a for t in tasks for a in t.get("annotations") or []]})
        first = min(tasks, key=lambda t: t["id"])
        rows.append(consensus_row(key, first["id"], votes, first["data"].get("sha256")))
        voted.append(votes)
    table = pa.Table.from_pylist(rows, schema=CONSENSUS.schema) if rows else CONSENSUS.schema.empty_table()
    write_table(table, out / "consensus.parquet", CONSENSUS)
    summary = {
        "project": settings.project,
        "project_id": project,
        "clips": len(rows),
        "tasks_without_a_clip_key": foreign,
        "consensus": {s: sum(r["status"] == s for r in rows) for s in STATUSES},
        "annotators": len({a for r in rows for a in r["annotators"]}),
        "kappa": "Cohen's kappa per question over clips with two annotators (rater A: the lower user id)",
        "questions": agreement(voted),
    }
    write_json(out / AGREEMENT, summary)
    return PullResult(out, table, summary)


# The command line: `earwitness annotate ...` (registered in cli.py).

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="a build configuration (YAML)")]
SetOption = Annotated[list[str] | None, typer.Option("--set", help="override one setting: section.key=value")]
ProjectOption = Annotated[str | None, typer.Option(help="the Label Studio project's title (annotate.project)")]
UrlOption = Annotated[str | None, typer.Option(help="the Label Studio server (annotate.url)")]


def _settings(config: Path | None, overrides: list[str] | None, project: str | None, url: str | None) -> Config:
    settings = load_config(config, overrides)
    if project:
        settings.annotate.project = project
    if url:
        settings.annotate.url = url
    return settings


@app.command()
def push(
    source: Annotated[Path, typer.Argument(help="verify's verdicts.parquet or acquire's folder / clips.parquet")],
    project: ProjectOption = None,
    url: UrlOption = None,
    clips: Annotated[Path | None, typer.Option(help="the clips table for verdicts (default: <run>/acquire)")] = None,
    out: Annotated[Path | None, typer.Option(help="where push.json goes (default: <config out>/annotate)")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Clips -> Label Studio tasks, two annotators each; a clip already pushed is never pushed again."""
    settings = _settings(config, set_, project, url)
    result = run_push(settings, source, out or Path(settings.out) / "annotate", clips)
    for name, n in result.counts.items():
        typer.echo(f"  {name:<28}{n:>10,}")
    typer.echo(f"project {settings.annotate.project!r} (id {result.project}); wrote {result.out / PUSH_RECORD}")


@app.command()
def status(
    project: ProjectOption = None,
    url: UrlOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the numbers as JSON")] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """How many tasks need how many more annotations. Exits 0; a failure is reported in the output."""
    try:
        found = project_status(_settings(config, set_, project, url))
    except EarwitnessError as exc:  # a bad configuration: still an answer a sensor can read
        found = {"error": str(exc)}
    if json_out:
        typer.echo(json.dumps(found, indent=2))
        return
    if "error" in found:
        typer.echo(f"error: {found['error']}", err=True)
        return
    typer.echo(f"project {found['project']!r}: {found['tasks']:,} tasks, {found['tasks_done']:,} done")
    for votes, n in found["tasks_by_annotations"].items():
        typer.echo(f"  tasks with {votes} of {REQUIRED} annotations {n:>10,}")
    typer.echo(f"  annotations still needed  {found['annotations_needed']:>10,}")
    if found["tasks_with_a_repeated_annotator"]:
        typer.echo(f"warning: {found['tasks_with_a_repeated_annotator']:,} tasks were annotated twice by one user")


@app.command()
def pull(
    project: ProjectOption = None,
    url: UrlOption = None,
    out: Annotated[Path | None, typer.Option(help="where to write (default: <config out>/annotate)")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Annotations -> consensus.parquet (two distinct annotators pass all three) and agreement.json."""
    settings = _settings(config, set_, project, url)
    result = run_pull(settings, out or Path(settings.out) / "annotate")
    for name, n in result.agreement["consensus"].items():
        typer.echo(f"  {name:<28}{n:>10,}")
    for question in QUESTIONS:
        found = result.agreement["questions"][question]
        kappa = "n/a" if found["kappa"] is None else f"{found['kappa']:.3f}"
        typer.echo(f"  kappa {question:<22}{kappa:>10} ({found['pairs']:,} pairs)")
    typer.echo(f"wrote {result.out / 'consensus.parquet'} and {result.out / AGREEMENT}")
