"""prune on the real AudioSet release in ../shared: every node accounted, 55-65 classes, a funnel
that never grows, and the vectorised filter equal to a plain per-row reading of the rules."""

import csv
import json

import networkx as nx
import pytest

from earwitness.ontology import apply_policy, load_ontology, load_policy
from earwitness.ontology.segments import _parse_careful, _parse_fast
from earwitness.pipelines.config import PruneConfig
from earwitness.pipelines.prune import run_prune
from earwitness.schemas import CANDIDATES, NODES, read_table

FILES = {
    "eval": "eval_segments.csv",
    "balanced_train": "balanced_train_segments.csv",
    "unbalanced_train": "unbalanced_train_segments.csv.gz",
}
DECLARED = {"eval": 20371, "balanced_train": 22160, "unbalanced_train": 2041789}


@pytest.fixture(scope="session")
def pruned(audioset, tmp_path_factory):
    out = tmp_path_factory.mktemp("audioset")
    config = PruneConfig(ontology=str(audioset / "ontology.json"), segments=[str(audioset / f) for f in FILES.values()])
    return run_prune(config, out), out


def test_all_632_nodes_are_accounted_for(pruned):
    _, out = pruned
    nodes = read_table(out / "nodes.parquet", NODES).to_pylist()
    assert len(nodes) == 632 and len({n["id"] for n in nodes}) == 632
    kept = {n["id"] for n in nodes if n["fate"] == "kept"}
    for node in nodes:
        assert node["fate"] in {"kept", "absorbed", "removed"}
        if node["fate"] == "absorbed":
            assert node["into"] in kept, node
        if node["fate"] == "removed":
            assert node["rule"] in {"restricted", "ambiguous", "action_less"} and node["reason"], node


def test_between_55_and_65_classes_each_with_a_visible_source(pruned):
    _, out = pruned
    classes = json.loads((out / "classes.json").read_text())
    assert 55 <= len(classes) <= 65
    names = {c["name"] for c in classes}
    assert {"Dog", "Cat", "Bird", "Percussion", "Motor vehicle (road)"} <= names
    assert not names & {"Speech", "Music", "Silence", "Hum", "Hiss", "Alarm", "Pop music", "Inside, small room"}
    assert len({c["slug"] for c in classes}) == len(classes)


def test_the_funnel_never_grows_and_starts_with_every_segment(pruned):
    result, _ = pruned
    for split, funnel in result.funnel.items():
        assert funnel["read"] == DECLARED[split]
        counts = list(funnel.values())
        assert counts == sorted(counts, reverse=True), (split, funnel)
        assert funnel["unique"] > 1000


def test_each_candidate_is_of_a_kept_class(pruned):
    result, out = pruned
    kept = {c["id"]: c["name"] for c in json.loads((out / "classes.json").read_text())}
    for split in FILES:
        table = read_table(out / "candidates" / f"{split}.parquet", CANDIDATES)
        pairs = set(zip(table["class_id"].to_pylist(), table["class_name"].to_pylist(), strict=True))
        assert all(kept.get(class_id) == name for class_id, name in pairs)
        assert len(table) == result.funnel[split]["unique"]


def test_the_vectorised_filter_equals_a_plain_reading_of_the_rules(pruned, audioset):
    """The eval split, row by row in plain Python, must give exactly the same candidates."""
    _, out = pruned
    ontology = load_ontology(str(audioset / "ontology.json"))
    classes = apply_policy(ontology, load_policy("earwitness:ontology/policy/audioset.yaml"))
    target = {}
    for node, fate in classes.fates.items():
        target[node] = node if fate.fate == "kept" else fate.into if fate.fate == "absorbed" else None
    roots = {n: {r for r in ontology.roots if r == n or nx.has_path(ontology.graph, r, n)} for n in ontology.ids}
    expected = []
    with open(audioset / "eval_segments.csv") as handle:
        for row in csv.reader((line for line in handle if not line.startswith("#")), skipinitialspace=True):
            ytid, start, labels = row[0], row[1], [label.strip() for label in row[3].strip(' "').split(",")]
            specific = [a for a in labels if not any(b != a and nx.has_path(ontology.graph, a, b) for b in labels)]
            one_root = set.intersection(*(roots[s] for s in specific))
            if one_root and all(target[s] for s in specific) and len({target[s] for s in specific}) == 1:
                expected.append((ytid, round(float(start) * 1000), target[specific[0]]))
    table = read_table(out / "candidates" / "eval.parquet", CANDIDATES)
    got = list(
        zip(table["ytid"].to_pylist(), table["start_ms"].to_pylist(), table["class_id"].to_pylist(), strict=True)
    )
    assert got == expected


def test_the_careful_parser_reads_the_real_eval_file_like_the_fast_one(audioset):
    body = (audioset / "eval_segments.csv").read_bytes()
    segments, rejects, read = _parse_careful("eval", body, 1)
    fast = _parse_fast(body[body.index(b"\n-") + 1 :], 4)  # past the three header comments
    assert fast is not None, "the real file should take the fast path"
    assert read == fast[2] == DECLARED["eval"] and len(rejects) == 0
    assert segments.equals(fast[0])
    assert segments["line"][0].as_py() == 4 and segments["labels"][0].as_py() == "/m/068hy,/m/07q6cd_,/m/0bt9lr,/m/0jbk"
