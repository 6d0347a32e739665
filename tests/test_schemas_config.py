"""Versioned tables refuse other versions; configurations are validated with clear messages."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import dump_config, load_config
from earwitness.schemas import CANDIDATES, REJECTS, TableSchema, read_table, write_table

ROW = {
    "ytid": ["-0pJqpNjft4"],
    "start_ms": [0],
    "end_ms": [10000],
    "class_id": ["/m/a"],
    "class_name": ["A"],
    "labels": [["/m/a"]],
    "line": [4],
}


def test_a_table_round_trips_with_its_name_and_version(tmp_path):
    path = write_table(pa.table(ROW), tmp_path / "c.parquet", CANDIDATES)
    assert read_table(path, CANDIDATES).to_pylist()[0]["ytid"] == "-0pJqpNjft4"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_another_version_or_another_table_is_refused(tmp_path):
    newer = TableSchema("candidates", CANDIDATES.version + 1, CANDIDATES.schema)
    path = write_table(pa.table(ROW), tmp_path / "c.parquet", newer)
    with pytest.raises(EarwitnessError, match=r"version 2; expected 'candidates' version 1"):
        read_table(path, CANDIDATES)
    with pytest.raises(EarwitnessError, match="a 'candidates' table of version 2; expected 'rejects'"):
        read_table(path, REJECTS)
    pq.write_table(pa.table(ROW), tmp_path / "plain.parquet")
    with pytest.raises(EarwitnessError, match="a '\\(none\\)' table"):
        read_table(tmp_path / "plain.parquet", CANDIDATES)


def test_a_table_missing_a_column_is_not_written(tmp_path):
    with pytest.raises(EarwitnessError, match=r"missing columns \['line'\]"):
        write_table(pa.table({k: v for k, v in ROW.items() if k != "line"}), tmp_path / "c.parquet", CANDIDATES)


def test_config_defaults_point_at_the_real_audioset_release():
    config = load_config()
    assert config.prune.ontology.endswith("ontology.json") and len(config.prune.segments) == 3
    assert config.media.ffmpeg == "bundled"


def test_a_yaml_config_and_overrides_apply_in_order(tmp_path):
    path = tmp_path / "build.yaml"
    path.write_text("name: mine\nprune:\n  class_level: 2\n  segments: [a_segments.csv]\n")
    config = load_config(path, ["prune.class_level=4", "out=/tmp/x"])
    assert (config.name, config.prune.class_level, config.out) == ("mine", 4, "/tmp/x")
    assert config.prune.segments == ["a_segments.csv"]
    assert load_config(path, []).model_dump() == load_config(path).model_dump()
    assert "class_level: 2" in dump_config(load_config(path))


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("prune:\n  class_levle: 3\n", r"prune.class_levle: Extra inputs are not permitted"),
        ("prune:\n  class_level: deep\n", r"prune.class_level: Input should be a valid integer"),
        ("prune:\n  segments: []\n", r"prune.segments: Value error, name at least one segment file"),
        ("- a list\n", "a configuration is a mapping"),
        ("prune: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_config_names_the_setting(tmp_path, yaml_text, message):
    path = tmp_path / "build.yaml"
    path.write_text(yaml_text)
    with pytest.raises(EarwitnessError, match=message):
        load_config(path)


def test_a_bad_override_is_explained():
    with pytest.raises(EarwitnessError, match=r"expected section\.key=value"):
        load_config(None, ["prune.class_level"])


def test_every_preset_in_configs_is_valid():
    from pathlib import Path

    presets = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert presets
    for preset in presets:
        assert load_config(preset).version == 1
