"""One YAML configuration per build, a section per stage, validated with pydantic.

Precedence: the defaults here < the YAML file < `--set section.key=value` < a stage's own flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from earwitness.errors import EarwitnessError

AUDIOSET_ONTOLOGY_URL = "https://raw.githubusercontent.com/audioset/ontology/master/ontology.json"
AUDIOSET_CSV_URL = "http://storage.googleapis.com/us_audioset/youtube_corpus/v1/csv/{}_segments.csv"
AUDIOSET_SPLITS = ("eval", "balanced_train", "unbalanced_train")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PruneConfig(Section):
    ontology: str = Field(AUDIOSET_ONTOLOGY_URL, description="ontology.json: a path or URL")
    segments: list[str] = Field(
        default_factory=lambda: [AUDIOSET_CSV_URL.format(split) for split in AUDIOSET_SPLITS],
        description="segment CSVs (gzip or not), paths or URLs; the split is named from the file",
    )
    policy: str = Field("earwitness:ontology/policy/audioset.yaml", description="the curated class policy")
    class_level: int = Field(3, ge=1, le=10, description="nodes deeper than this are absorbed")
    max_malformed_fraction: float = Field(0.01, ge=0.0, le=1.0, description="more bad rows is an error")

    @field_validator("segments")
    @classmethod
    def _at_least_one(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one segment file")
        return value


class MediaConfig(Section):
    ffmpeg: str = Field("bundled", description="'bundled' (imageio-ffmpeg's binary), 'system', or a path")


class AcquireConfig(Section):
    source: str = Field("youtube", description="youtube, a URL template ({ytid} {start_s} ...), or a folder")
    source_holds: Literal["video", "segment"] | None = Field(
        None,
        description="what the source serves: the whole video (cut [start, end]) or the segment itself; "
        "default: video for youtube, segment otherwise",
    )
    store: str | None = Field(None, description="where clips are stored (any Beam path); default <out>/clips")
    clip_seconds: float = Field(10.0, gt=0, description="every clip's exact length; shorter ones are rejected")
    fps: float | None = Field(None, gt=0, description="frame rate; None keeps the source's")
    square: int | None = Field(None, gt=0, description="centre crop to N x N (504 for training); None keeps the frame")
    sample_rate: int = Field(44100, gt=0)
    channels: int = Field(2, ge=1, le=8)
    crf: int = Field(23, ge=0, le=51)
    copy_video: bool = Field(True, description="copy an H.264 picture that needs no change instead of re-encoding")
    preset: str = Field("veryfast", description="libx264 preset")
    format: str = Field("bv*[height<=720]+ba/b[height<=720]/b", description="yt-dlp format selection")
    max_attempts: int = Field(4, ge=1, description="tries per clip in one run for transient failures")
    backoff_s: float = Field(2.0, ge=0, description="first wait before a retry; doubles each time")
    backoff_max_s: float = Field(120.0, ge=0)
    retry_permanent: bool = Field(False, description="retry clips that failed permanently in earlier runs")
    timeout_s: float = Field(60.0, gt=0, description="network timeout per request")
    rate_limit: str | None = Field(None, description="download bandwidth per worker, e.g. 2M")
    min_interval_s: float = Field(0.0, ge=0, description="least time between two downloads of one worker")
    cookies: str | None = Field(None, description="path to a cookies.txt for YouTube (never its content)")
    proxy: str | None = Field(None, description="proxy URL; give credentials with EARWITNESS_PROXY instead")


QUESTIONS = ("visual_muted", "audio_black", "visual_full", "audio_full")


class VerifyConfig(Section):
    model: str | None = Field(None, description="the omni model: a local folder or a hub id (Qwen/Qwen2.5-Omni-7B)")
    device: str = Field("auto", description="auto (cuda when present), cpu, cuda, cuda:1 ...")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="auto: bfloat16 on GPU")
    attention: str = Field("sdpa", description="attn_implementation: sdpa, flash_attention_2, eager")
    prompts: str = Field("v1", description="the versioned prompt set (earwitness.transforms.verifier.PROMPTS)")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="a question says yes when P(yes) >= this")
    order: list[str] = Field(
        default_factory=lambda: ["visual_muted", "audio_black", "audio_full", "visual_full"],
        description="the order questions are asked in: the cheapest and most selective first ((a) has no audio tokens)",
    )
    early_stop: bool = Field(True, description="stop at the first no (the rest are recorded as skipped)")
    fps: float = Field(2.0, gt=0, description="frames per second shown to the model")
    min_pixels: int = Field(128 * 28 * 28, gt=0, description="the model's frames have at least this many pixels")
    max_pixels: int = Field(360 * 640, gt=0, description="frames are scaled down to at most this many pixels")
    batch_min: int = Field(1, ge=1, description="RunInference's min_batch_size")
    batch_max: int = Field(4, ge=1, description="RunInference's max_batch_size")
    batch_wait_s: float = Field(10.0, gt=0, description="longest a partial batch waits")
    shared_model: bool = Field(True, description="one model per worker machine, shared by its processes")
    model_copies: int = Field(1, ge=1, description="models per machine when shared (one per GPU)")
    accelerator: str | None = Field(
        None, description="a Beam resource hint, e.g. 'type:nvidia-l4;count:1;install-nvidia-driver'"
    )

    @field_validator("order")
    @classmethod
    def _known_questions(cls, value: list[str]) -> list[str]:
        if sorted(value) != sorted(QUESTIONS):
            raise ValueError(f"name each of {', '.join(QUESTIONS)} exactly once")
        return value


class AnnotateConfig(Section):
    url: str = Field("http://localhost:8080", description="the Label Studio server")
    project: str = Field("earwitness", description="the project's title")
    # The API token is never a setting: it comes from this environment variable, or from a file.
    token_env: str = Field("LABEL_STUDIO_API_KEY", description="the environment variable holding the API token")
    token_file: str | None = Field(None, description="a file holding the API token (when the variable is unset)")
    media: Literal["auto", "local", "url"] = Field(
        "auto",
        description="how Label Studio reaches the clips: 'local' through its local files storage, 'url' by "
        "media_url; 'auto' is local for a clip store on disk, url for a bucket",
    )
    document_root: str = Field(
        "/", description="the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT; local clips must lie below it"
    )
    media_url: str = Field(
        "{path}",
        description="a clip's URL for media 'url': {path} (the stored path, e.g. gs://...), {name}, {key}",
    )
    batch: int = Field(500, ge=1, description="tasks imported per request")
    timeout_s: float = Field(120.0, gt=0, description="timeout of one request to Label Studio")


class PublishConfig(Section):
    dest: str | None = Field(None, description="where releases are published (any fsspec URL); None: not published")
    parallel: int = Field(4, ge=1, description="files transferred at once by publish and fetch")
    attempts: int = Field(4, ge=1, description="fetch: tries per file on a transient failure, each resuming")
    backoff_s: float = Field(1.0, ge=0, description="fetch: first wait before a retry; doubles each time")
    timeout_s: float = Field(60.0, gt=0, description="fetch: network timeout per request")


STAGES = ("prune", "acquire", "verify", "annotate", "build", "publish")


class BeamConfig(Section):
    runner: str = Field("FnApiRunner", description="a Beam runner; FnApiRunner never downloads anything")
    workers: int = Field(0, ge=0, description="0 runs in-process; N runs N local worker processes")
    options: list[str] = Field(default_factory=list, description="extra Beam pipeline flags for the runner")

    @property
    def local(self) -> bool:
        return self.runner in ("FnApiRunner", "DirectRunner")


class BuildConfig(Section):
    version: str = Field("0.1.0", description="the release's semantic version")
    seed: int = Field(0, description="every random choice derives from it and the sample key")
    interventions: list[str] = Field(
        default_factory=lambda: ["aligned", "swap", "shift", "mute", "no_audio", "black_frames", "ambient"],
        description="registered interventions to apply (entry point group earwitness.interventions)",
    )
    options: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"swap": {"donors": {"eval": 1, "*": 10}}, "shift": {"low_s": 1.8, "high_s": 2.5}},
        description="constructor options per intervention",
    )
    ambient_classes: list[str] = Field(
        default_factory=lambda: ["/m/015p6", "/m/06mb1", "/m/0ngt1", "/m/0_ksk"],
        description="class ids whose clips make the ambient pool (Bird, Rain, Thunder, Power tool)",
    )
    split_priority: list[str] = Field(
        default_factory=lambda: ["eval", "balanced_train", "unbalanced_train"],
        description="a video in several splits is kept in the first of these only",
    )
    shard_samples: int = Field(200, ge=1, description="samples per WebDataset shard")
    long_context_words: int = Field(300, ge=0, description="words of irrelevant context in class_long questions")
    report_samples: int = Field(2, ge=0, description="samples per variant shown in report.html")
    license: str = Field("cc-by-4.0", description="the dataset card's license (AudioSet's labels are CC BY 4.0)")
    verdicts: str = Field(
        "auto",
        description="take only clips the verifier passed: 'auto' uses verify/verdicts.parquet beside the "
        "clips folder when it exists, a path requires that table, 'off' ignores verdicts",
    )
    consensus: str = Field(
        "auto",
        description="take only clips two annotators accepted: 'auto' uses annotate/consensus.parquet beside "
        "the clips folder when it exists, a path requires that table, 'off' ignores consensus",
    )


class Config(Section):
    version: int = Field(1, description="the configuration format's version")
    name: str = Field("earwitness", description="the build's name, used in reports")
    out: str = Field("runs/earwitness", description="the run folder every stage writes below")
    stages: list[str] = Field(
        default_factory=lambda: list(STAGES), description="the stages a scheduled rebuild runs; the others are skipped"
    )
    media: MediaConfig = Field(default_factory=MediaConfig)
    beam: BeamConfig = Field(default_factory=BeamConfig)
    prune: PruneConfig = Field(default_factory=PruneConfig)
    acquire: AcquireConfig = Field(default_factory=AcquireConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    annotate: AnnotateConfig = Field(default_factory=AnnotateConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(STAGES))
        if unknown:
            raise ValueError(f"unknown stages {unknown}; the stages are {', '.join(STAGES)}")
        return value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    document: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        where = str(path)
        try:
            document = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise EarwitnessError(f"{path}: no such configuration file") from None
        except yaml.YAMLError as exc:
            raise EarwitnessError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(document, dict):
            raise EarwitnessError(f"{path}: a configuration is a mapping of sections")
    for override in overrides or []:
        _apply_override(document, override)
    try:
        return Config.model_validate(document)
    except ValidationError as exc:
        raise EarwitnessError(f"{where}: invalid configuration\n{explain(exc)}") from None


def explain(exc: ValidationError) -> str:
    return "\n".join(f"  {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())


def _apply_override(document: dict[str, Any], override: str) -> None:
    """`prune.class_level=3` sets one key; the value is parsed as YAML (numbers, lists, strings)."""
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise EarwitnessError(f"--set {override!r}: expected section.key=value")
    *sections, leaf = key.split(".")
    target = document
    for section in sections:
        target = target.setdefault(section, {})
        if not isinstance(target, dict):
            raise EarwitnessError(f"--set {override!r}: {section} is not a section")
    target[leaf] = yaml.safe_load(raw)


def dump_config(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
