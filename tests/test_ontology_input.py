"""Bad ontologies and unreachable inputs end as one clear error naming what is wrong."""

import gzip
import json

import pytest
from conftest import TINY, write_ontology

from earwitness.errors import EarwitnessError
from earwitness.ontology import load_ontology


def test_a_cycle_is_named(tmp_path):
    path = write_ontology(tmp_path, [("/a", "A", ["/b"]), ("/b", "B", ["/c"]), ("/c", "C", ["/b"])])
    with pytest.raises(EarwitnessError, match=r"cycle: /b \(B\) -> /c \(C\) -> /b"):
        load_ontology(str(path))


def test_a_dangling_child_id_is_named(tmp_path):
    path = write_ontology(tmp_path, [("/a", "A", ["/ghost"])])
    with pytest.raises(EarwitnessError, match="lists child '/ghost', which is not in the ontology"):
        load_ontology(str(path))


def test_a_duplicate_id_is_named(tmp_path):
    path = write_ontology(tmp_path, [("/a", "A", []), ("/a", "A again", [])])
    with pytest.raises(EarwitnessError, match="'/a' appears twice"):
        load_ontology(str(path))


def test_a_node_without_child_ids_is_named(tmp_path):
    path = tmp_path / "ontology.json"
    path.write_text(json.dumps([{"id": "/a", "name": "A"}]))
    with pytest.raises(EarwitnessError, match=r"node #1 \(/a\) lacks child_ids"):
        load_ontology(str(path))


def test_an_unknown_restriction_is_named(tmp_path):
    path = write_ontology(tmp_path, [("/a", "A", [], ["secret"])])
    with pytest.raises(EarwitnessError, match="unknown restrictions"):
        load_ontology(str(path))


@pytest.mark.parametrize("content", [b"", b"   ", b"[]", b'[{"id": "/a", "name": "A", "child_ids": [', b"\x00\xff"])
def test_empty_truncated_or_garbage_json_is_a_clear_error(tmp_path, content):
    path = tmp_path / "ontology.json"
    path.write_bytes(content)
    expected = r"ontology.json: (the file is empty|not valid JSON|expected a non-empty)"
    with pytest.raises(EarwitnessError, match=expected):
        load_ontology(str(path))


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(EarwitnessError, match="no such file"):
        load_ontology(str(tmp_path / "missing.json"))


def test_a_gzipped_ontology_served_over_http_loads(tmp_path, http_folder):
    folder, base = http_folder
    write_ontology(tmp_path, TINY)
    (folder / "ontology.json.gz").write_bytes(gzip.compress((tmp_path / "ontology.json").read_bytes()))
    ontology = load_ontology(f"{base}/ontology.json.gz")
    assert len(ontology.ids) == len(TINY)


def test_a_404_and_an_unreachable_host_are_clear_errors(http_folder):
    _, base = http_folder
    with pytest.raises(EarwitnessError, match="HTTP 404"):
        load_ontology(f"{base}/missing.json")
    with pytest.raises(EarwitnessError, match="cannot reach it"):
        load_ontology("http://127.0.0.1:9/ontology.json")  # the discard port: nothing listens there
