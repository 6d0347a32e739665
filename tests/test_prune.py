"""prune end to end on a tiny ontology: every label rule counted, candidates and tables on disk."""

import json

import pyarrow.parquet as pq
import pytest
from conftest import write_segments

from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import PruneConfig
from earwitness.pipelines.prune import FUNNEL_STEPS, run_prune
from earwitness.schemas import CANDIDATES, NODES, REJECTS, read_table

ROWS = {
    "dog, ancestors dropped": 'dogdogdog01, 0.000, 10.000, "/r/animal,/a/pets,/a/dog"',
    "absorbed leaf": 'barkbark002, 30.000, 40.000, "/a/dog,/a/bark,/a/yip"',
    "hammer via nail": 'nailnail003, 0.000, 10.000, "/t/nail"',
    "two roots": 'tworoots004, 0.000, 10.000, "/a/dog,/t/saw"',
    "removed label": 'removed0005, 0.000, 10.000, "/t/saw,/t/hum"',
    "removed leaf": 'buzzbuzz006, 0.000, 10.000, "/t/buzz"',
    "two classes": 'twoclass007, 0.000, 10.000, "/a/dog,/a/cat"',
    "unknown label": 'unknownl008, 0.000, 10.000, "/a/dog,/m/nope"',
    "duplicate": 'dogdogdog01, 0.000, 10.000, "/a/dog"',
    "malformed": "malformed, 1, 2",
}


@pytest.fixture
def pruned(tmp_path, tiny):
    ontology, policy = tiny
    segments = write_segments(tmp_path, list(ROWS.values()))
    config = PruneConfig(
        ontology=str(ontology), policy=str(policy), segments=[str(segments)], max_malformed_fraction=0.2
    )
    return run_prune(config, tmp_path / "out"), tmp_path / "out"


def test_the_funnel_counts_each_step_in_order(pruned):
    _, out = pruned
    funnel = json.loads((out / "funnel.json").read_text())
    assert list(funnel["eval"]) == list(FUNNEL_STEPS)
    assert funnel["eval"] == {
        "read": 10,
        "well_formed": 9,
        "known_labels": 8,
        "most_specific": 8,
        "single_root": 7,
        "no_removed_label": 5,
        "single_class": 4,
        "unique": 3,
    }


def test_candidates_carry_their_consolidated_class(pruned):
    _, out = pruned
    rows = read_table(out / "candidates" / "eval.parquet", CANDIDATES).to_pylist()
    assert [(r["ytid"], r["class_name"]) for r in rows] == [
        ("dogdogdog01", "Dog"),
        ("barkbark002", "Dog"),
        ("nailnail003", "Hammer"),
    ]
    assert rows[1]["labels"] == ["/a/dog", "/a/bark", "/a/yip"] and rows[1]["start_ms"] == 30000


def test_rejected_rows_keep_their_line_and_reason(pruned):
    _, out = pruned
    rejects = read_table(out / "rejects" / "eval.parquet", REJECTS).to_pylist()
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (11, "unknown label /m/nope"),
        (13, "expected 4 fields: YTID, start, end, labels"),
    ]


def test_nodes_classes_and_picture_are_written(pruned):
    _, out = pruned
    nodes = read_table(out / "nodes.parquet", NODES)
    assert nodes.num_rows == 19 and set(nodes["fate"].to_pylist()) == {"kept", "absorbed", "removed"}
    classes = json.loads((out / "classes.json").read_text())
    assert [c["name"] for c in classes] == ["Dog", "Cat", "Bird", "Hammer", "Saw"]
    assert set(classes[0]) >= {"id", "name", "slug", "absorbed"}
    svg = (out / "classes.svg").read_text()
    assert svg.startswith("<svg") and "Hammer (+1 absorbed)" in svg and ">2<" in svg  # Dog's two candidates
    summary = json.loads((out / "prune.json").read_text())
    assert summary["classes"] == 5 and len(summary["inputs"][0]["sha256"]) == 64
    assert any("/m/nope" in w for w in summary["warnings"])


def test_too_many_malformed_rows_is_an_error_with_line_numbers(tmp_path, tiny):
    ontology, policy = tiny
    segments = write_segments(tmp_path, list(ROWS.values()))
    config = PruneConfig(
        ontology=str(ontology), policy=str(policy), segments=[str(segments)], max_malformed_fraction=0.05
    )
    with pytest.raises(EarwitnessError, match=r"1 of 10 rows are malformed.*line 13: expected 4 fields"):
        run_prune(config, tmp_path / "out")
    assert not (tmp_path / "out" / "funnel.json").exists()


def test_a_file_shorter_than_its_header_declares_is_truncated(tmp_path, tiny):
    ontology, policy = tiny
    path = write_segments(tmp_path, list(ROWS.values())[:3])
    path.write_text(path.read_text().replace("num_segs=3", "num_segs=300"))
    config = PruneConfig(ontology=str(ontology), policy=str(policy), segments=[str(path)])
    with pytest.raises(EarwitnessError, match="declares 300 segments but the file holds 3: truncated"):
        run_prune(config, tmp_path / "out")


def test_two_files_naming_one_split_are_refused(tmp_path, tiny):
    ontology, policy = tiny
    a = write_segments(tmp_path, [ROWS["hammer via nail"]])
    (tmp_path / "b").mkdir()
    b = write_segments(tmp_path / "b", [ROWS["hammer via nail"]])
    with pytest.raises(EarwitnessError, match="name the same split"):
        run_prune(PruneConfig(ontology=str(ontology), policy=str(policy), segments=[str(a), str(b)]), tmp_path / "out")


def test_segments_served_over_http_gzip_prune_the_same(tmp_path, tiny, http_folder):
    import gzip

    folder, base = http_folder
    ontology, policy = tiny
    local = write_segments(tmp_path, list(ROWS.values())[:3])
    (folder / "eval_segments.csv.gz").write_bytes(gzip.compress(local.read_bytes()))
    result = run_prune(
        PruneConfig(ontology=str(ontology), policy=str(policy), segments=[f"{base}/eval_segments.csv.gz"]),
        tmp_path / "out",
    )
    assert result.funnel["eval"]["unique"] == 3
    assert pq.read_table(tmp_path / "out" / "candidates" / "eval.parquet").num_rows == 3
