"""Beam pipeline options from the `beam` section, the same for every stage."""

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
