"""The pruned tree as an SVG a person can read: roots, their groups, and each class with its size."""

from __future__ import annotations

import math
from collections import Counter
from xml.sax.saxutils import escape

import networkx as nx

from earwitness.ontology.policy import ClassSet

ROW, INDENT, BAR_X, BAR_W, WIDTH = 20, 22, 460, 300, 900


def tree_svg(classes: ClassSet, candidates: dict[str, int]) -> str:
    """`candidates` maps a class id to its candidate segments over all splits."""
    ontology = classes.ontology
    rows: list[tuple[int, str, str]] = []  # (depth, node, kind)
    parent: dict[str, str | None] = {}
    for class_id in classes.classes:
        path = _shortest_path(classes, class_id)
        for depth, node in enumerate(path):
            if node not in parent:
                rows.append((depth, node, "class" if node in classes.classes else "group"))
                parent[node] = path[depth - 1] if depth else None
    order = {node: i for i, node in enumerate(ontology.ids)}
    rows = _depth_first(rows, parent, order)

    fates = Counter(f.rule for f in classes.fates.values() if f.fate == "removed")
    absorbed = sum(1 for f in classes.fates.values() if f.fate == "absorbed")
    title = f"{len(classes.classes)} classes from {len(ontology.ids)} ontology nodes"
    subtitle = f"{absorbed} nodes absorbed into them; removed: " + ", ".join(
        f"{n} {rule}" for rule, n in sorted(fates.items())
    )
    biggest = max(candidates.values(), default=1) or 1
    height = ROW * (len(rows) + 4)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="{ROW}" font-weight="bold" font-size="15">{escape(title)}</text>',
        f'<text x="10" y="{2 * ROW}" fill="#555">{escape(subtitle)}</text>',
        f'<text x="{BAR_X}" y="{3 * ROW}" fill="#555">candidate segments, all splits (log scale)</text>',
    ]
    for i, (depth, node, kind) in enumerate(rows):
        y = ROW * (i + 4)
        x = 10 + depth * INDENT
        name = escape(ontology.name(node))
        if kind == "group":
            out.append(
                f'<text x="{x}" y="{y}" fill="#666" font-weight="{"bold" if depth == 0 else "normal"}">{name}</text>'
            )
            continue
        extra = len(classes.absorbed(node))
        label = f"{name}" + (f" (+{extra} absorbed)" if extra else "")
        n = candidates.get(node, 0)
        width = BAR_W * math.log1p(n) / math.log1p(biggest) if n else 0
        out += [
            f'<text x="{x}" y="{y}">{label}</text>',
            f'<rect x="{BAR_X}" y="{y - 11}" width="{width:.1f}" height="12" fill="#4a7fb5"/>',
            f'<text x="{BAR_X + width + 6:.1f}" y="{y}" fill="#333">{n:,}</text>',
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _shortest_path(classes: ClassSet, node: str) -> list[str]:
    ontology = classes.ontology
    best: list[str] | None = None
    for root in ontology.roots:
        try:
            path = nx.shortest_path(ontology.graph, root, node)
        except nx.NetworkXNoPath:
            continue
        if best is None or len(path) < len(best):
            best = path
    return best or [node]


def _depth_first(
    rows: list[tuple[int, str, str]], parent: dict[str, str | None], order: dict[str, int]
) -> list[tuple[int, str, str]]:
    """Siblings in ontology order, so the picture reads like the ontology."""
    children: dict[str | None, list[tuple[int, str, str]]] = {}
    for row in rows:
        children.setdefault(parent[row[1]], []).append(row)
    result: list[tuple[int, str, str]] = []

    def walk(node: str | None) -> None:
        for row in sorted(children.get(node, []), key=lambda r: order[r[1]]):
            result.append(row)
            walk(row[1])

    walk(None)
    return result
