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
from earwitness.pipelines.config import Config, dump_config, load_config
from earwitness.pipelines.prune import FUNNEL_STEPS, PruneResult, run_prune

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="a build configuration (YAML)")]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="override one setting: section.key=value (repeatable)")
]


@app.callback()
def main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only warnings and errors")] = False,
) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr)


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


@app.command(name="demo")
def run_demo(
    out: Annotated[Path, typer.Option(help="the demo's run folder")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="seed of the generated inputs")] = 0,
) -> None:
    """Every stage built so far, offline, on the embedded demo ontology and generated inputs."""
    settings = _demo_config(out, seed)
    _report(run_prune(settings.prune, out / "prune"))
    typer.echo(f"\ndemo done: {out.resolve()}")


@app.command(name="config")
def show_config(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Print the effective configuration, every default filled in."""
    typer.echo(dump_config(_settings(config, set_)), nl=False)


def _settings(config: Path | None, overrides: list[str] | None) -> Config:
    return load_config(config, overrides)


def _demo_config(out: Path, seed: int) -> Config:
    segments = demo.write_demo_segments(out / "inputs", seed)
    settings = Config(name="demo", out=str(out))
    settings.prune.ontology, settings.prune.policy = demo.ONTOLOGY, demo.POLICY
    settings.prune.segments = [str(p) for p in segments]
    settings.prune.max_malformed_fraction = 0.05  # the demo carries one malformed row per split on purpose
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
