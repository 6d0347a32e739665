"""The `earwitness` command: one sub-command per stage, and `demo`, which runs them all offline."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from earwitness import demo
from earwitness.errors import EarwitnessError
from earwitness.pipelines.acquire import AcquireResult, run_acquire
from earwitness.pipelines.annotate import app as annotate_app
from earwitness.pipelines.build import BuildResult, run_build
from earwitness.pipelines.config import Config, dump_config, load_config
from earwitness.pipelines.prune import FUNNEL_STEPS, PruneResult, run_prune

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="a build configuration (YAML)")]
WorkersOption = Annotated[int | None, typer.Option(help="worker processes (0: in-process)")]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="override one setting: section.key=value (repeatable)")
]


@app.callback()
def main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only warnings and errors")] = False,
) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("apache_beam").setLevel(logging.ERROR)  # its workers' chatter; failures reach the table


@app.command()
def prune(
    config: ConfigOption = None,
    ontology: Annotated[str | None, typer.Option(help="ontology.json: a path or URL")] = None,
    segments: Annotated[list[str] | None, typer.Option(help="a segment CSV, path or URL (repeatable)")] = None,
    policy: Annotated[str | None, typer.Option(help="the class policy YAML")] = None,
    out: Annotated[Path | None, typer.Option(help="where to write (default: <config out>/prune)")] = None,
    set_: SetOption = None,
) -> None:
    """The ontology and segment lists -> the class set, each split's candidates and the funnel."""
    settings = _settings(config, set_)
    for key, value in {"ontology": ontology, "segments": segments, "policy": policy}.items():
        if value:
            setattr(settings.prune, key, value)
    _report(run_prune(settings.prune, out or Path(settings.out) / "prune"))


@app.command()
def acquire(
    candidates: Annotated[list[str], typer.Argument(help="prune's candidates/<split>.parquet files")],
    source: Annotated[str | None, typer.Option(help="youtube, a URL template, or a folder")] = None,
    out: Annotated[Path | None, typer.Option(help="where to write (default: <config out>/acquire)")] = None,
    config: ConfigOption = None,
    workers: WorkersOption = None,
    limit: Annotated[int | None, typer.Option(help="take only the first N candidates of each file")] = None,
    set_: SetOption = None,
) -> None:
    """Candidates -> downloaded, normalised clips in the clip store, and clips.parquet."""
    settings = _settings(config, set_, workers)
    if source is not None:
        settings.acquire.source = source
    _report_acquire(run_acquire(settings, candidates, out or Path(settings.out) / "acquire", limit))


@app.command()
def verify(
    clips: Annotated[Path, typer.Argument(help="acquire's output folder (holding clips.parquet)")],
    model: Annotated[str | None, typer.Option(help="the omni model: a local folder or a hub id")] = None,
    out: Annotated[Path | None, typer.Option(help="where to write (default: <config out>/verify)")] = None,
    config: ConfigOption = None,
    workers: WorkersOption = None,
    set_: SetOption = None,
) -> None:
    """Acquired clips -> four yes/no questions to an omni model -> verdicts.parquet."""
    from earwitness.pipelines.verify import run_verify

    settings = _settings(config, set_, workers)
    _report_verify(run_verify(settings, clips, out or Path(settings.out) / "verify", model))


@app.command()
def build(
    clips: Annotated[Path, typer.Argument(help="acquire's output folder (holding clips.parquet)")],
    out: Annotated[Path | None, typer.Option(help="the release folder (default: <config out>/release)")] = None,
    config: ConfigOption = None,
    workers: WorkersOption = None,
    set_: SetOption = None,
) -> None:
    """Accepted clips -> variants, questions and preference pairs -> a versioned release."""
    settings = _settings(config, set_, workers)
    _report_build(run_build(settings, clips, out or Path(settings.out) / "release"))


app.add_typer(annotate_app, name="annotate")


@app.command(name="score")
def score_predictions(
    predictions: Annotated[Path, typer.Argument(help="JSONL: one {qid, answer} per line")],
    release: Annotated[Path, typer.Option(help="the release folder")],
    split: Annotated[str | None, typer.Option(help="score one split only")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the results as JSON")] = None,
) -> None:
    """A model's answers -> accuracy per variant and modality, yes-rate, abstention, sync accuracy."""
    from earwitness.pipelines.score import format_table, score

    result = score(release, str(predictions), split=split)
    typer.echo(format_table(result))
    if json_out:
        json_out.write_text(json.dumps(result, indent=2) + "\n")


@app.command(name="publish")
def publish_release(
    release: Annotated[Path, typer.Argument(help="the release folder build wrote")],
    dest: Annotated[str | None, typer.Argument(help="a folder, gs://, s3://, hf://... (default: publish.dest)")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """A finished release -> DEST/<version>/, verified, visible only once complete; never overwritten."""
    from earwitness.pipelines.publish import publish

    settings = _settings(config, set_)
    target = dest or settings.publish.dest
    if not target:
        raise EarwitnessError("name a destination: DEST, or publish.dest in the configuration")
    result = publish(release, target, settings.publish)
    typer.echo(f"published {result.version}: {result.files} files, {result.bytes:,} bytes ({result.copied} copied now)")
    typer.echo(f"at {result.url} in {result.seconds:.1f} s")


@app.command(name="fetch")
def fetch_release(
    source: Annotated[str, typer.Argument(help="DEST (the latest version) or DEST/<version>: a path or URL")],
    to: Annotated[Path, typer.Option("--to", help="the folder to download into")],
    version: Annotated[str | None, typer.Option(help="a version under DEST (default: the latest)")] = None,
    split: Annotated[list[str] | None, typer.Option(help="only this split's shards (repeatable)")] = None,
    variant: Annotated[list[str] | None, typer.Option(help="only this variant's shards (repeatable)")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """A published release, or some splits and variants of it -> DIR, every file checked, resumable."""
    from earwitness.pipelines.fetch import fetch

    result = fetch(source, to, version, split, variant, _settings(config, set_).publish)
    typer.echo(
        f"fetched {result.version} from {result.source}: {result.files} files, {result.bytes:,} bytes, all verified"
        f" ({result.downloaded:,} bytes transferred, {result.resumed} resumed, {result.kept} already here)"
    )
    typer.echo(f"wrote {result.out} in {result.seconds:.1f} s")


@app.command(name="demo")
def run_demo(
    out: Annotated[Path, typer.Option(help="the demo's run folder")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="seed of the generated inputs")] = 0,
    prepare_only: Annotated[
        bool, typer.Option(help="only write the inputs, a clip source, a model and <out>/config.yaml (for Airflow)")
    ] = False,
) -> None:
    """Every stage that runs offline, on the embedded demo ontology and generated inputs."""
    from earwitness.pipelines import demo_run

    out = out.resolve()
    if prepare_only:
        settings = demo_run.prepare(out, seed)
        (out / "config.yaml").write_text(dump_config(settings))
        typer.echo(f"wrote {out / 'config.yaml'} (stages: {', '.join(settings.stages)})")
        return
    settings = demo_run.demo_config(out, seed)
    for name in demo_run.clear_outputs(out):
        typer.echo(f"removed the previous demo's {out / name}")
    pruned = run_prune(settings.prune, out / "prune")
    _report(pruned)
    candidates = sorted((out / "prune" / "candidates").glob("*.parquet"))
    demo.write_demo_source(candidates, out / "source", demo_run.CLIPS_PER_SPLIT)
    settings.acquire.source = str(out / "source")
    _report_acquire(run_acquire(settings, [str(p) for p in candidates], out / "acquire", demo_run.CLIPS_PER_SPLIT))
    if "verify" in settings.stages:
        from earwitness.pipelines.verify import run_verify

        demo_run.write_model(settings)
        typer.echo(
            "verify: a tiny random Qwen2.5-Omni thinker at threshold 0, so every clip passes (its answers mean nothing)"
        )
        _report_verify(run_verify(settings, out / "acquire", out / "verify"))
    else:
        typer.echo("verify: skipped, it needs the verify extra (pip install 'earwitness[verify]')")
    typer.echo("annotate: skipped, it needs a Label Studio server and annotators (see the README)")
    _report_build(run_build(settings, out / "acquire", out / "release"))
    from earwitness.pipelines.publish import publish

    published = publish(out / "release", settings.publish.dest, settings.publish)
    typer.echo(f"published {published.version} to {published.url}")
    typer.echo(f"\ndemo done: {out}")


@app.command(name="config")
def show_config(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Print the effective configuration, every default filled in."""
    typer.echo(dump_config(_settings(config, set_)), nl=False)


def _settings(config: Path | None, overrides: list[str] | None, workers: int | None = None) -> Config:
    settings = load_config(config, overrides)
    if workers is not None:  # a command's own flag beats the file and --set
        settings.beam.workers = workers
    return settings


def _report(result: PruneResult) -> None:
    typer.echo(f"{len(result.classes.classes)} classes; class policy: {json.dumps(result.classes.steps)}")
    splits = list(result.funnel)
    width = max(len(s) for s in FUNNEL_STEPS)
    typer.echo(f"{'segments':<{width}}" + "".join(f"{s:>18}" for s in splits))
    for step in FUNNEL_STEPS:
        typer.echo(f"{step:<{width}}" + "".join(f"{result.funnel[s][step]:>18,}" for s in splits))
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"wrote {result.out}")


def _report_acquire(result: AcquireResult) -> None:
    typer.echo(f"clips: {result.count('ok'):,} ok, {result.count('failed'):,} failed")
    for name, value in result.counters.items():
        typer.echo(f"  {name:<28}{value:>10,}")
    typer.echo(f"wrote {result.out / 'clips.parquet'}")


def _report_verify(result) -> None:
    summary = json.loads((result.out / "verify.json").read_text())
    typer.echo(
        f"clips: {summary['clips']:,}, passed {summary['passed']:,}; asked {result.asked:,} now, "
        f"{result.reused:,} verdicts reused"
    )
    for reason, n in summary["failed_to_ask"].items():
        typer.echo(f"  not asked, {reason:<20}{n:>8,}")
    for question, n in summary["first_failed"].items():
        typer.echo(f"  first no: {question:<20}{n:>8,}")
    if summary["naive_tokens"]:
        typer.echo(
            f"  prefill tokens {summary['prefill_tokens']:,} ({summary['prefill_fraction_of_naive']:.0%} of naive)"
        )
    typer.echo(f"wrote {result.out / 'verdicts.parquet'}")


def _report_build(result: BuildResult) -> None:
    for step, n in result.funnel.items():
        typer.echo(f"  {step:<28}{n:>10,}")
    typer.echo(f"{len(result.qa):,} questions, {len(result.preferences):,} preference pairs")
    for failure in result.failed:
        typer.echo(f"warning: {failure['key']}: {failure['reason']}", err=True)
    typer.echo(f"wrote {result.out} (open {result.out / 'report.html'})")


def run() -> None:
    """The console entry point: a clear message and exit code 2 for bad input, never a traceback."""
    try:
        app(standalone_mode=False)
    except EarwitnessError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
