"""Per-segment label filtering, vectorised: each distinct label list is judged once.

AudioSet repeats the same label lists over and over (two million segments, far fewer lists),
so the lists are dictionary-encoded and every rule runs on the distinct lists in numpy;
each segment then takes its list's verdict. Steps, in order, each counted in segments:
known_labels, most_specific (drops ancestor labels, never a segment), single_root,
no_removed_label, single_class.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from earwitness.ontology.policy import ClassSet

STEPS = ("known_labels", "most_specific", "single_root", "no_removed_label", "single_class")
KEPT = len(STEPS)  # a verdict is the index of the step that drops a list, or KEPT


@dataclass
class LabelFilter:
    classes: ClassSet
    unknown: Counter = field(default_factory=Counter)  # unknown label id -> segments carrying it
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def _ids(self) -> pa.Array:
        return pa.array(self.classes.ontology.ids, pa.string())

    @cached_property
    def _class_of(self) -> np.ndarray:
        return self.classes.class_index()

    def apply(self, segments: pa.Table) -> tuple[pa.Table, pa.Table, dict[str, int]]:
        """The single-class candidates, the rows rejected for unknown labels, and the step counts."""
        encoded = segments["labels"].combine_chunks().dictionary_encode()
        codes = encoded.indices.to_numpy()
        verdict, class_index, unknown_names = self._judge(encoded.dictionary)
        per_segment = verdict[codes]
        dropped_at = np.bincount(per_segment, minlength=KEPT + 1)
        counts = dict(zip(STEPS, len(codes) - np.cumsum(dropped_at[:KEPT]), strict=True))
        counts = {step: int(n) for step, n in counts.items()}

        rejects = self._unknown_rejects(segments, codes, per_segment == STEPS.index("known_labels"), unknown_names)
        kept = per_segment == KEPT
        names = pa.array([self.classes.ontology.name(c) for c in self.classes.classes], pa.string())
        ids = pa.array(self.classes.classes, pa.string())
        chosen = pa.array(class_index[codes[kept]])
        candidates = segments.filter(pa.array(kept))
        candidates = candidates.append_column("class_id", ids.take(chosen)).append_column(
            "class_name", names.take(chosen)
        )
        return candidates, rejects, counts

    def _unknown_rejects(
        self, segments: pa.Table, codes: np.ndarray, rows: np.ndarray, unknown_names: dict[int, list[str]]
    ) -> pa.Table:
        """The segments dropped for labels the ontology lacks, each with those labels named."""
        codes_seen = range(max(unknown_names, default=0) + 1)
        reasons = [f"unknown label {', '.join(unknown_names.get(c, []))}" for c in codes_seen]
        with self._lock:  # blocks are filtered on several threads
            for code, n in zip(*np.unique(codes[rows], return_counts=True), strict=True):
                for label in unknown_names[int(code)]:
                    self.unknown[label] += int(n)
        mask = pa.array(rows)
        return pa.table(
            {
                "line": segments["line"].filter(mask),
                "reason": pa.array(reasons, pa.string()).take(pa.array(codes[rows])),
                "text": segments["labels"].filter(mask),
            }
        )

    def _judge(self, lists: pa.Array) -> tuple[np.ndarray, np.ndarray, dict[int, list[str]]]:
        """For each distinct label list: the verdict, its class index, and its unknown labels."""
        split = pc.split_pattern(lists, ",")
        flat = pc.list_flatten(split)
        owner = pc.list_parent_indices(split).to_numpy()
        node = pc.index_in(flat, value_set=self._ids)
        known = node.is_valid().to_numpy(zero_copy_only=False)
        node = node.fill_null(0).to_numpy()

        verdict = np.full(len(lists), KEPT, dtype=np.int64)
        unknown_names: dict[int, list[str]] = {}
        if not known.all():
            for position in np.flatnonzero(~known):
                unknown_names.setdefault(int(owner[position]), []).append(flat[int(position)].as_py())
            verdict[list(unknown_names)] = STEPS.index("known_labels")

        live = np.flatnonzero(verdict == KEPT)
        entry = (verdict[owner] == KEPT) & ~self._has_descendant_beside(node, owner)
        node, owner = node[entry], owner[entry]
        class_index = np.full(len(lists), -1, dtype=np.int64)
        if not live.size:
            return verdict, class_index, unknown_names
        starts = np.searchsorted(owner, live)  # every live list keeps at least its most specific label
        roots = np.bitwise_and.reduceat(self.classes.ontology.root_mask[node], starts)
        classes = self._class_of[node]
        lowest, highest = np.minimum.reduceat(classes, starts), np.maximum.reduceat(classes, starts)
        judged = np.where(lowest == highest, KEPT, STEPS.index("single_class"))
        judged = np.where(lowest < 0, STEPS.index("no_removed_label"), judged)
        verdict[live] = np.where(roots == 0, STEPS.index("single_root"), judged)
        class_index[live] = lowest
        return verdict, class_index, unknown_names

    def _has_descendant_beside(self, node: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """True for each label that is an ancestor of another label in the same list."""
        sizes = np.bincount(owner)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        pair_count = sizes[owner]
        first = np.repeat(np.arange(len(node)), pair_count)
        within = np.arange(pair_count.sum()) - np.repeat(np.cumsum(pair_count) - pair_count, pair_count)
        second = np.repeat(starts[owner], pair_count) + within
        is_ancestor = self.classes.ontology.ancestor_matrix[node[first], node[second]]
        return np.bincount(first[is_ancestor], minlength=len(node)) > 0
