"""Two-annotator consensus and agreement, from Label Studio's exported tasks. Pure functions.

An annotator's vote on a clip is their latest submitted annotation of its task (the API lets one
user annotate a task twice; a skipped task is no vote). A clip is accepted only when at least
two distinct annotators voted and every one of them passed all three questions; when some pass
it and some do not, the vote is split, and a split is not accepted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

QUESTIONS = ("visible", "dominant", "action")  # the labeling config's control names
PASS = "pass"
REQUIRED = 2  # distinct annotators per clip (the project's maximum_annotations)
STATUSES = ("accepted", "rejected", "split", "pending")
AGREEMENT = "agreement.json"  # written by pull beside consensus.parquet


@dataclass(frozen=True)
class Vote:
    annotator: str  # the Label Studio user id
    passes: tuple[bool, ...]  # one per QUESTIONS; a question left unanswered is not a pass
    comment: str | None = None

    @property
    def accepts(self) -> bool:
        return all(self.passes)


def votes_of(task: dict) -> list[Vote]:
    """One vote per distinct annotator of an exported task, ordered by annotator id."""
    latest: dict[str, dict] = {}
    for annotation in task.get("annotations") or []:
        if annotation.get("was_cancelled"):
            continue
        annotator = _user_id(annotation.get("completed_by"))
        if annotator is None:
            continue
        seen = latest.get(annotator)
        if seen is None or _when(annotation) >= _when(seen):
            latest[annotator] = annotation
    return [_vote(annotator, latest[annotator]) for annotator in sorted(latest, key=_id_order)]


def decide(votes: Sequence[Vote], required: int = REQUIRED) -> str:
    """accepted | rejected | split | pending, from the distinct annotators' votes."""
    if len(votes) < required:
        return "pending"
    accepting = sum(v.accepts for v in votes)
    if accepting == len(votes):
        return "accepted"
    return "rejected" if accepting == 0 else "split"


def consensus_row(
    key: str, task_id: int, votes: Sequence[Vote], sha256: str | None = None, required: int = REQUIRED
) -> dict:
    """A row of the consensus table (earwitness.schemas.CONSENSUS); `sha256`: the clip the task showed."""
    status = decide(votes, required)
    comments = [f"{v.annotator}: {v.comment}" for v in votes if v.comment]
    return {
        "key": key,
        "sha256": sha256,
        "task_id": task_id,
        "status": status,
        "accepted": status == "accepted",
        "annotations": len(votes),
        **{f"{q}_passes": sum(v.passes[i] for v in votes) for i, q in enumerate(QUESTIONS)},
        "annotators": [v.annotator for v in votes],
        "comment": "\n".join(comments) or None,
    }


def cohen_kappa(pairs: Iterable[tuple[object, object]]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None when it is undefined (no items,
    or both raters gave one and the same label throughout, so chance agreement is already 1)."""
    pairs = list(pairs)
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def agreement(tasks: Iterable[Sequence[Vote]]) -> dict:
    """Per question: Cohen's kappa and raw agreement over clips with two or more distinct votes.

    On each clip the two annotators with the lowest ids are rater A and rater B: with two
    annotators on the whole project this is exactly Cohen's two-rater kappa; with more it pools
    the pairs, as is usual for crowd annotation.
    """
    pairs = [(votes[0], votes[1]) for votes in tasks if len(votes) >= 2]
    result = {}
    for i, question in enumerate(QUESTIONS):
        answers = [(a.passes[i], b.passes[i]) for a, b in pairs]
        kappa = cohen_kappa(answers)
        result[question] = {
            "pairs": len(answers),
            "kappa": None if kappa is None else round(kappa, 4),
            "agreement": round(sum(x == y for x, y in answers) / len(answers), 4) if answers else None,
            "both_pass": sum(x and y for x, y in answers),
            "both_reject": sum(not x and not y for x, y in answers),
        }
    return result


def read_agreement(consensus: Path | None) -> dict | None:
    """The agreement pull wrote beside a consensus table, for the build's report; None without one."""
    path = consensus.parent / AGREEMENT if consensus else None
    return json.loads(path.read_text()) if path and path.is_file() else None


def _vote(annotator: str, annotation: dict) -> Vote:
    chosen: dict[str, list] = {}
    comment = None
    for item in annotation.get("result") or []:
        value = item.get("value") or {}
        if item.get("from_name") in QUESTIONS:
            chosen[item["from_name"]] = value.get("choices") or []
        elif item.get("from_name") == "comment":
            text = value.get("text") or []
            comment = " ".join(t.strip() for t in (text if isinstance(text, list) else [text]) if t.strip()) or None
    return Vote(annotator, tuple(chosen.get(q) == [PASS] for q in QUESTIONS), comment)


def _user_id(completed_by: object) -> str | None:
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id")
    return None if completed_by is None else str(completed_by)


def _id_order(annotator: str) -> tuple:
    return (0, int(annotator), "") if annotator.isdigit() else (1, 0, annotator)


def _when(annotation: dict) -> tuple:
    return (annotation.get("updated_at") or annotation.get("created_at") or "", annotation.get("id") or 0)
