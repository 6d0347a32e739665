"""One YAML configuration per build, a section per stage, validated with pydantic.

Precedence: the defaults here < the YAML file < `--set section.key=value` < a stage's own flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


class Config(Section):
    version: int = Field(1, description="the configuration format's version")
    name: str = Field("earwitness", description="the build's name, used in reports")
    out: str = Field("runs/earwitness", description="the run folder every stage writes below")
    media: MediaConfig = Field(default_factory=MediaConfig)
    prune: PruneConfig = Field(default_factory=PruneConfig)


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
