"""The class policy: which ontology nodes become the dataset's classes, and why every other does not.

Applied in order, each step counted:
1. absorb: every node deeper than `class_level` is absorbed into its ancestor at that level;
2. restricted: nodes AudioSet marks abstract or blacklist are removed;
3. ambiguous: classes listed in the curated policy file as ambiguous are removed;
4. action_less: classes listed there as having no visible source or action are removed.
A deep node under several level-`class_level` ancestors goes to the one that stays a class;
under several that stay, it is ambiguous itself; under none, it shares their removal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from earwitness.errors import EarwitnessError
from earwitness.ontology.graph import Ontology
from earwitness.storage import read_input

RULES = ("absorb", "restricted", "ambiguous", "action_less")


class PolicyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    name: str
    reason: str


class ClassPolicy(BaseModel):
    """The curated removals; see earwitness/ontology/policy/audioset.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    ambiguous: tuple[PolicyEntry, ...] = ()
    action_less: tuple[PolicyEntry, ...] = ()


@dataclass(frozen=True)
class NodeFate:
    id: str
    name: str
    level: int
    fate: str  # kept | absorbed | removed
    into: str | None = None
    rule: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ClassSet:
    ontology: Ontology
    classes: tuple[str, ...]  # kept class ids, in ontology order
    fates: dict[str, NodeFate]
    steps: dict[str, int] = field(default_factory=dict)  # candidate classes left after each step

    def class_index(self) -> np.ndarray:
        """For each ontology node (by index), the index of its class, or -1 when removed."""
        position = {c: i for i, c in enumerate(self.classes)}
        out = np.full(len(self.ontology.ids), -1, dtype=np.int32)
        for i, node in enumerate(self.ontology.ids):
            fate = self.fates[node]
            target = node if fate.fate == "kept" else fate.into if fate.fate == "absorbed" else None
            if target is not None:
                out[i] = position[target]
        return out

    def absorbed(self, class_id: str) -> list[str]:
        return [f.id for f in self.fates.values() if f.into == class_id]

    def classes_json(self) -> list[dict]:
        return [
            {
                "id": c,
                "name": self.ontology.name(c),
                "slug": slug(self.ontology.name(c)),
                "level": self.ontology.level[c],
                "absorbed": self.absorbed(c),
            }
            for c in self.classes
        ]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def load_policy(source: str) -> ClassPolicy:
    try:
        document = yaml.load(read_input(source).data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return ClassPolicy.model_validate(document)
    except yaml.YAMLError as exc:
        raise EarwitnessError(f"{source}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise EarwitnessError(f"{source}: not a class policy ({problems})") from None


def apply_policy(ontology: Ontology, policy: ClassPolicy, class_level: int = 3) -> ClassSet:
    level = ontology.level
    candidates = [n for n in ontology.ids if level[n] <= class_level]
    steps = {"nodes": len(ontology.ids), "absorb": len(candidates)}
    removed: dict[str, tuple[str, str]] = {}
    for node in candidates:
        if ontology.restrictions(node):
            removed[node] = ("restricted", f"AudioSet marks it {' and '.join(ontology.restrictions(node))}")
    steps["restricted"] = len(candidates) - len(removed)
    for rule in ("ambiguous", "action_less"):
        for entry in getattr(policy, rule):
            _check_entry(ontology, entry, rule, class_level, removed)
            removed[entry.id] = (rule, entry.reason)
        steps[rule] = len(candidates) - len(removed)
    kept = [n for n in candidates if n not in removed]

    fates: dict[str, NodeFate] = {}
    for node in candidates:
        name = ontology.name(node)
        if node in removed:
            rule, reason = removed[node]
            fates[node] = NodeFate(node, name, level[node], "removed", None, rule, reason)
        else:
            fates[node] = NodeFate(node, name, level[node], "kept")
    kept_set = set(kept)
    for node in ontology.ids:
        if level[node] > class_level:
            fates[node] = _deep_fate(ontology, node, class_level, kept_set, fates)
    return ClassSet(ontology, tuple(kept), fates, steps)


def _deep_fate(ontology: Ontology, node: str, class_level: int, kept: set[str], fates: dict[str, NodeFate]) -> NodeFate:
    name, level = ontology.name(node), ontology.level[node]
    if ontology.restrictions(node):
        reason = f"AudioSet marks it {' and '.join(ontology.restrictions(node))}: never absorbed"
        return NodeFate(node, name, level, "removed", None, "restricted", reason)
    ancestors = nx.ancestors(ontology.graph, node)
    heads = [a for a in ontology.ids if a in ancestors and ontology.level[a] == class_level]
    staying = [a for a in heads if a in kept]
    if len(staying) == 1:
        return NodeFate(
            node, name, level, "absorbed", staying[0], "absorb", f"absorbed into {ontology.name(staying[0])}"
        )
    if len(staying) > 1:
        names = ", ".join(ontology.name(a) for a in staying)
        return NodeFate(node, name, level, "removed", None, "ambiguous", f"under several classes: {names}")
    first = fates[heads[0]]
    names = ", ".join(ontology.name(a) for a in heads)
    return NodeFate(node, name, level, "removed", None, first.rule, f"under {names}, removed: {first.reason}")


def _check_entry(
    ontology: Ontology, entry: PolicyEntry, rule: str, class_level: int, removed: dict[str, tuple[str, str]]
) -> None:
    where = f"class policy, {rule} entry {entry.id!r} ({entry.name})"
    if entry.id not in ontology.graph:
        raise EarwitnessError(f"{where}: no such node in the ontology")
    if ontology.name(entry.id) != entry.name:
        raise EarwitnessError(f"{where}: the ontology names it {ontology.name(entry.id)!r}; stale policy?")
    if ontology.level[entry.id] > class_level:
        raise EarwitnessError(f"{where}: level {ontology.level[entry.id]} is absorbed, not a class")
    if entry.id in removed:
        raise EarwitnessError(f"{where}: already removed by rule {removed[entry.id][0]}")
