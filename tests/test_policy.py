"""The class policy on a hand-made ontology: every rule, in order, and every node accounted for."""

from pathlib import Path

import pytest
from conftest import TINY, write_ontology, write_policy

from earwitness.errors import EarwitnessError
from earwitness.ontology import apply_policy, load_ontology, load_policy


def fates(tiny: tuple[Path, Path]) -> dict:
    ontology_path, policy_path = tiny
    classes = apply_policy(load_ontology(str(ontology_path)), load_policy(str(policy_path)))
    return classes, {node: (f.fate, f.into, f.rule) for node, f in classes.fates.items()}


def test_the_graph_knows_roots_multi_parent_and_restricted_nodes(tiny):
    ontology = load_ontology(str(tiny[0]))
    assert ontology.roots == ("/r/animal", "/r/things")
    assert set(ontology.multi_parent) == {"/a/growl", "/a/chirp"}
    assert set(ontology.restricted) == {"/a/purr", "/a/wild"}
    assert ontology.level["/a/yip"] == 5 and ontology.level["/a/chirp"] == 4 and ontology.level["/a/growl"] == 4


def test_each_rule_decides_the_fate_it_should(tiny):
    classes, fate = fates(tiny)
    assert classes.classes == ("/a/dog", "/a/cat", "/a/bird", "/t/hammer", "/t/saw")
    assert fate["/a/bark"] == ("absorbed", "/a/dog", "absorb")
    assert fate["/a/yip"] == ("absorbed", "/a/dog", "absorb")  # two levels down, into its level-3 ancestor
    assert fate["/t/nail"] == ("absorbed", "/t/hammer", "absorb")
    assert fate["/a/wild"] == ("removed", None, "restricted")
    assert fate["/a/purr"] == ("removed", None, "restricted")  # restricted deep nodes are not absorbed
    assert fate["/a/noise"] == ("removed", None, "ambiguous")
    assert fate["/t/hum"] == ("removed", None, "action_less")
    assert fate["/t/buzz"] == ("removed", None, "action_less")  # shares its removed class's fate


def test_a_node_under_two_classes_is_ambiguous_and_under_one_kept_class_is_absorbed(tiny):
    classes, fate = fates(tiny)
    assert fate["/a/growl"] == ("removed", None, "ambiguous")
    assert "Dog" in classes.fates["/a/growl"].reason and "Cat" in classes.fates["/a/growl"].reason
    assert fate["/a/chirp"] == ("removed", None, "ambiguous")  # under Cat and Bird, both kept


def test_every_node_is_accounted_for_and_steps_are_counted_in_order(tiny):
    classes, fate = fates(tiny)
    assert set(fate) == {node[0] for node in TINY}
    assert list(classes.steps) == ["nodes", "absorb", "restricted", "ambiguous", "action_less"]
    counts = list(classes.steps.values())
    assert counts == sorted(counts, reverse=True)
    assert classes.steps["action_less"] == len(classes.classes)
    absorbed = {c["id"]: set(c["absorbed"]) for c in classes.classes_json()}
    assert absorbed["/a/dog"] == {"/a/bark", "/a/yip"}
    assert {c["slug"] for c in classes.classes_json()} == {"dog", "cat", "bird", "hammer", "saw"}


def test_a_deep_node_under_one_kept_and_one_removed_class_joins_the_kept_one(tmp_path):
    nodes = [
        ("/r", "Root", ["/g"]),
        ("/g", "Group", ["/k", "/x"]),
        ("/k", "Kept", ["/leaf"]),
        ("/x", "Gone", ["/leaf"]),
        ("/leaf", "Leaf", []),
    ]
    policy = write_policy(tmp_path, ambiguous=[("/r", "Root"), ("/g", "Group")], action_less=[("/x", "Gone")])
    classes = apply_policy(load_ontology(str(write_ontology(tmp_path, nodes))), load_policy(str(policy)))
    assert classes.fates["/leaf"].fate == "absorbed" and classes.fates["/leaf"].into == "/k"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("/nope", "Nope"), "no such node"),
        (("/a/dog", "Doggo"), "stale policy"),
        (("/a/bark", "Bark"), "is absorbed, not a class"),
        (("/a/wild", "Wild"), "already removed by rule restricted"),
    ],
)
def test_a_wrong_policy_entry_is_a_clear_error(tmp_path, entry, message):
    ontology = load_ontology(str(write_ontology(tmp_path, TINY)))
    policy = load_policy(str(write_policy(tmp_path, ambiguous=[entry])))
    with pytest.raises(EarwitnessError, match=message):
        apply_policy(ontology, policy)


def test_a_policy_file_of_the_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nambiguous:\n  - id: /a\n    nam: typo\n")
    with pytest.raises(EarwitnessError, match="not a class policy"):
        load_policy(str(path))
