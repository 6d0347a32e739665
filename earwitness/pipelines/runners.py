"""Beam pipeline options from the `beam` section, the same for every stage, and its work lists."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions

from earwitness.pipelines.config import BeamConfig


def pipeline_options(beam: BeamConfig) -> PipelineOptions:
    flags = [f"--runner={beam.runner}"]
    if beam.workers:
        flags += ["--direct_running_mode=multi_processing", f"--direct_num_workers={beam.workers}"]
        flags += ["--default_sdk_harness_log_level=WARNING"]
    return PipelineOptions(flags + beam.options)


def describe(beam: BeamConfig) -> str:
    return f"{beam.runner}, {beam.workers} worker processes" if beam.workers else f"{beam.runner}, in-process"


def staged_rows(rows: list[dict], path: Path, schema: pa.Schema, group_rows: int = 10_000) -> str:
    """Write a stage's work list to a Parquet file for `beam.io.ReadFromParquet(path)`, rather than
    `beam.Create(rows)`, which embeds every row in the pipeline itself: a runner then ships them in the
    job's graph (Dataflow refuses a job request over 20 MB; AudioSet's 250,000 candidates are about
    40 MB). Row groups let several workers read it. `path` must be where the workers can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=group_rows)
    return str(path)
