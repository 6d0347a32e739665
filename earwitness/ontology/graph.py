"""The AudioSet ontology as a networkx DiGraph (edges point from parent to child)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np

from earwitness.errors import EarwitnessError
from earwitness.storage import read_input

REQUIRED_FIELDS = ("id", "name", "child_ids")
RESTRICTIONS = ("abstract", "blacklist")


@dataclass(frozen=True)
class Ontology:
    graph: nx.DiGraph
    ids: tuple[str, ...]  # in file order: a node's index is its position here

    def name(self, node: str) -> str:
        return self.graph.nodes[node]["name"]

    def restrictions(self, node: str) -> tuple[str, ...]:
        return self.graph.nodes[node]["restrictions"]

    @cached_property
    def index(self) -> dict[str, int]:
        return {node: i for i, node in enumerate(self.ids)}

    @cached_property
    def roots(self) -> tuple[str, ...]:
        return tuple(n for n in self.ids if self.graph.in_degree(n) == 0)

    @cached_property
    def multi_parent(self) -> tuple[str, ...]:
        return tuple(n for n in self.ids if self.graph.in_degree(n) > 1)

    @cached_property
    def restricted(self) -> tuple[str, ...]:
        return tuple(n for n in self.ids if self.restrictions(n))

    @cached_property
    def level(self) -> dict[str, int]:
        """A root is level 1; a node with several parents takes its shortest path from a root."""
        levels: dict[str, int] = {}
        for root in self.roots:
            for node, depth in nx.single_source_shortest_path_length(self.graph, root).items():
                levels[node] = min(levels.get(node, depth + 1), depth + 1)
        return levels

    @cached_property
    def root_mask(self) -> np.ndarray:
        """Bit i set when the node descends from root i (a node can sit under several roots)."""
        mask = np.zeros(len(self.ids), dtype=np.int64)
        for bit, root in enumerate(self.roots):
            for node in nx.descendants(self.graph, root) | {root}:
                mask[self.index[node]] |= 1 << bit
        return mask

    @cached_property
    def ancestor_matrix(self) -> np.ndarray:
        """matrix[a, d] is True when node a is a proper ancestor of node d."""
        matrix = np.zeros((len(self.ids), len(self.ids)), dtype=bool)
        for node in self.ids:
            descendants = [self.index[d] for d in nx.descendants(self.graph, node)]
            matrix[self.index[node], descendants] = True
        return matrix


def load_ontology(source: str) -> Ontology:
    """Parse and check an ontology.json: every problem is an error naming the node at fault."""
    text = read_input(source).data
    try:
        nodes = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EarwitnessError(f"{source}: not valid JSON, truncated or corrupt? ({exc})") from None
    if not isinstance(nodes, list) or not nodes:
        raise EarwitnessError(f"{source}: expected a non-empty JSON list of ontology nodes")
    graph = nx.DiGraph()
    for position, node in enumerate(nodes):
        _check_node(source, position, node)
        if node["id"] in graph:
            raise EarwitnessError(f"{source}: node id {node['id']!r} appears twice")
        graph.add_node(
            node["id"],
            name=node["name"],
            description=node.get("description", ""),
            restrictions=tuple(node.get("restrictions", ())),
        )
    for node in nodes:
        for child in node["child_ids"]:
            if child not in graph:
                raise EarwitnessError(
                    f"{source}: node {node['id']!r} ({node['name']}) lists child {child!r}, "
                    "which is not in the ontology"
                )
            graph.add_edge(node["id"], child)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = " -> ".join(f"{a} ({graph.nodes[a]['name']})" for a, _ in cycle)
        raise EarwitnessError(f"{source}: the ontology has a cycle: {path} -> {cycle[0][0]}")
    return Ontology(graph, tuple(n["id"] for n in nodes))


def _check_node(source: str, position: int, node: object) -> None:
    where = f"{source}: node #{position + 1}"
    if not isinstance(node, dict):
        raise EarwitnessError(f"{where} is not a JSON object")
    missing = [f for f in REQUIRED_FIELDS if f not in node]
    if missing:
        raise EarwitnessError(f"{where} ({node.get('id', 'no id')}) lacks {', '.join(missing)}")
    if not isinstance(node["id"], str) or not isinstance(node["name"], str):
        raise EarwitnessError(f"{where}: id and name must be strings")
    if not isinstance(node["child_ids"], list):
        raise EarwitnessError(f"{where} ({node['id']}): child_ids must be a list")
    unknown = set(node.get("restrictions", ())) - set(RESTRICTIONS)
    if unknown:
        raise EarwitnessError(f"{where} ({node['id']}): unknown restrictions {sorted(unknown)}")
