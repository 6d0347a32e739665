"""score: a model's answers to a release's questions -> accuracy by variant and modality, and confusion metrics.

Predictions are JSONL, one {"qid": ..., "answer": ...} object a line ("prediction" or "response" may name the
answer). Accuracies count a missing or unparsed answer as wrong. Rates (yes on probes whose answer is "no",
abstention) are over the questions that got an answer, so that leaving a question out never improves them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from earwitness.errors import EarwitnessError
from earwitness.schemas import QA, read_table
from earwitness.transforms.questions import NONE

VARIANTS = ("aligned", "swap", "shift", "mute", "no_audio", "black_frames", "ambient")
CLASS_KINDS = ("class", "class_caption", "class_long")
MODALITIES = ("visual", "audio")
ANSWER_KEYS = ("answer", "prediction", "response")
LISTED = 10
EDGE = " \t\r\n.,;:!?'\"`\u201c\u201d\u2018\u2019"

Row = dict
Metric = Callable[[list[Row]], dict | None]


def load_predictions(path: str | Path) -> dict[str, str]:
    """{qid: answer} from a JSONL file; a malformed line or a repeated qid is an error naming its line."""
    path = Path(path)
    if not path.exists():
        raise EarwitnessError(f"{path}: no such predictions file")
    found: dict[str, str] = {}
    lines: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EarwitnessError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(item, dict):
                raise EarwitnessError(f"{where}: expected a JSON object with 'qid' and 'answer'")
            qid = item.get("qid")
            if not isinstance(qid, str) or not qid:
                raise EarwitnessError(f"{where}: no 'qid' string")
            answer = next((item[k] for k in ANSWER_KEYS if item.get(k) is not None), None)
            if not isinstance(answer, str):
                raise EarwitnessError(f"{where}: no answer string (one of {', '.join(ANSWER_KEYS)})")
            if qid in found:
                raise EarwitnessError(f"{where}: qid {qid!r} already answered on line {lines[qid]}")
            found[qid], lines[qid] = answer, number
    return found


def _clean(text: str) -> str:
    return " ".join(text.strip().strip(EDGE).lower().split())


def normalise(answer: str, options: list[str]) -> str | None:
    """The option a free-text answer names, or None when it names none or several."""
    text = _clean(answer)
    by_text = {_clean(o): o for o in options}
    if text in by_text:
        return by_text[text]
    if text == "none" and NONE in options:
        return NONE
    if set(by_text) == {"yes", "no"}:
        first = re.match(r"[a-z]+", text)
        if first and first.group() in by_text:
            return by_text[first.group()]
    spans = [(m.start(), m.end(), key) for key in by_text for m in re.finditer(rf"(?<!\w){re.escape(key)}(?!\w)", text)]
    named = {
        key
        for start, end, key in spans
        if not any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in spans)
    }
    return by_text[named.pop()] if len(named) == 1 else None


def _accuracy(rows: list[Row]) -> dict | None:
    return {"accuracy": round(sum(r["right"] for r in rows) / len(rows), 4), "n": len(rows)} if rows else None


def _rate(hit: str) -> Metric:
    def rate(rows: list[Row]) -> dict | None:
        given = [r for r in rows if r["given"]]
        return {"rate": round(sum(r["pred"] == hit for r in given) / len(given), 4), "n": len(given)} if given else None

    return rate


def _compact(groups: dict) -> dict:
    return {k: v for k, v in groups.items() if v}


def _variants(rows: list[Row]) -> list[str]:
    present = {r["variant"] for r in rows}
    return [v for v in VARIANTS if v in present] + sorted(present - set(VARIANTS))


def _by_variant(rows: list[Row], metric: Metric) -> dict:
    per = {v: metric([r for r in rows if r["variant"] == v]) for v in _variants(rows)}
    return _compact({"overall": metric(rows), "by_variant": _compact(per)})


def _listed(qids: list[str]) -> dict:
    return {"count": len(qids), "qids": qids[:LISTED]}


def score(release_dir: str | Path, predictions: Mapping[str, str] | str | Path, split: str | None = None) -> dict:
    """Every metric of a model's answers (a {qid: answer} mapping or a JSONL path) on a release's questions."""
    release = Path(release_dir)
    if not isinstance(predictions, Mapping):
        predictions = load_predictions(predictions)
    rows = read_table(release / "manifests" / "qa.parquet", QA).to_pylist()
    if split is not None:
        rows = [r for r in rows if r["split"] == split]
    if not rows:
        raise EarwitnessError(f"{release}: no questions to score" + (f" in split {split!r}" if split else ""))
    for r in rows:
        given = predictions.get(r["qid"])
        r["given"] = given is not None
        r["pred"] = None if given is None else normalise(given, r["options"])
        r["right"] = r["pred"] == r["answer"]
    qids = {r["qid"] for r in rows}
    answered = sum(r["given"] for r in rows)

    classes = [r for r in rows if r["kind"] in CLASS_KINDS]
    groups = {v: [r for r in classes if r["variant"] == v] for v in _variants(classes)}
    groups["misaligned"] = [r for r in classes if r["variant"] != "aligned"]
    by_variant_modality = {
        name: _compact({m: _accuracy([r for r in group if r["modality"] == m]) for m in MODALITIES})
        for name, group in groups.items()
    }
    kinds = list(dict.fromkeys([*CLASS_KINDS, "probe", "sync", "match", *(r["kind"] for r in rows)]))
    probes = [r for r in rows if r["kind"] == "probe"]
    offered = [r for r in rows if NONE in r["options"]]
    abstention = {
        "recall": _by_variant([r for r in offered if r["answer"] == NONE], _rate(NONE)),
        "false_abstention": _by_variant([r for r in offered if r["answer"] != NONE], _rate(NONE)),
    }
    result = {
        "release": str(release),
        "split": split,
        "overall": {
            "questions": len(rows),
            "answered": answered,
            "coverage": round(answered / len(rows), 4),
            "accuracy": _accuracy(rows)["accuracy"],
        },
        "by_variant_modality": _compact(by_variant_modality),
        "by_kind": _compact({k: _accuracy([r for r in rows if r["kind"] == k]) for k in kinds}),
        "probe_yes_rate_on_no": _by_variant([r for r in probes if r["answer"] == "no"], _rate("yes")),
        "probe_accuracy": _by_variant(probes, _accuracy),
        "abstention": _compact(abstention),
        "sync_accuracy": _by_variant([r for r in rows if r["kind"] == "sync"], _accuracy),
        "match_accuracy": _by_variant([r for r in rows if r["kind"] == "match"], _accuracy),
        "unparsed": _listed([r["qid"] for r in rows if r["given"] and r["pred"] is None]),
        "missing": _listed([r["qid"] for r in rows if not r["given"]]),
        "unknown_qids": _listed([q for q in predictions if q not in qids]),
    }
    return {k: v for k, v in result.items() if v != {}}


def _cell(group: dict | None) -> str:
    if not group:
        return "-"
    return f"{group.get('accuracy', group.get('rate')):.4f} (n={group['n']})"


def _line(label: str, metric: dict | None) -> str:
    if not metric:
        return f"{label}: -"
    per = ", ".join(f"{v} {_cell(g)}" for v, g in metric.get("by_variant", {}).items())
    return f"{label}: {_cell(metric.get('overall'))}" + (f"  [{per}]" if per else "")


def format_table(result: dict) -> str:
    """The result as plain text: class accuracy by variant and modality, then the other metrics."""
    overall = result["overall"]
    width = max([len("variant"), *(len(v) for v in result.get("by_variant_modality", {}))]) + 2
    lines = [f"{'variant':<{width}}{'visual':<18}{'audio':<18}".rstrip()]
    for variant, cells in result.get("by_variant_modality", {}).items():
        lines.append(f"{variant:<{width}}{_cell(cells.get('visual')):<18}{_cell(cells.get('audio'))}")
    abstention = result.get("abstention", {})
    lines += [
        "",
        f"overall accuracy {overall['accuracy']:.4f} over {overall['questions']} questions; "
        f"answered {overall['answered']} (coverage {overall['coverage']:.4f})",
        "by kind: " + (", ".join(f"{k} {_cell(g)}" for k, g in result.get("by_kind", {}).items()) or "-"),
        _line('probe yes-rate on "no"', result.get("probe_yes_rate_on_no")),
        _line("probe accuracy", result.get("probe_accuracy")),
        _line("abstention recall", abstention.get("recall")),
        _line("false abstention", abstention.get("false_abstention")),
        _line("sync accuracy", result.get("sync_accuracy")),
        _line("match accuracy", result.get("match_accuracy")),
    ]
    for name in ("unparsed", "missing", "unknown_qids"):
        listed = result[name]
        more = " ..." if listed["count"] > len(listed["qids"]) else ""
        lines.append(f"{name}: {listed['count']}" + (f" ({', '.join(listed['qids'])}{more})" if listed["qids"] else ""))
    return "\n".join(lines)
