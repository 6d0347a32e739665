"""score on a hand-made release: every metric's exact value, free-text answers, and bad prediction files."""

import json

import pyarrow as pa
import pytest

from earwitness.errors import EarwitnessError
from earwitness.pipelines.score import format_table, load_predictions, normalise, score
from earwitness.schemas import QA, write_table

NONE = "None of the above"
CLASSES = ["Dog", "Cat", NONE]
YES_NO = ["yes", "no"]
SYNC = ["synchronised", "audio delayed", "audio early"]

# qid, variant, kind, modality, options, gold, prediction (None: no prediction)
QUESTIONS = [
    ("a-class-visual", "aligned", "class", "visual", CLASSES, "Dog", "Dog"),
    ("a-class-audio", "aligned", "class", "audio", CLASSES, "Dog", " dog "),
    ("a-class_long-visual", "aligned", "class_long", "visual", CLASSES, "Dog", "none"),
    ("s-class-visual", "swap", "class", "visual", CLASSES, "Dog", "I think it is Cat."),
    ("s-class-audio", "swap", "class", "audio", CLASSES, "Cat", "Cat"),
    ("s-class_caption-visual", "swap", "class_caption", "visual", CLASSES, "Dog", "'Dog'"),
    ("b-class-visual", "black_frames", "class", "visual", CLASSES, NONE, "None of the above."),
    ("b-class-audio", "black_frames", "class", "audio", CLASSES, "Dog", None),
    ("s-probe-audio-dog", "swap", "probe", "audio", YES_NO, "no", "Yes."),
    ("s-probe-audio-cat", "swap", "probe", "audio", YES_NO, "yes", "Yes, it is"),
    ("a-sync-both", "aligned", "sync", "both", SYNC, "synchronised", "audio early"),
    ("h-sync-both", "shift", "sync", "both", SYNC, "audio delayed", "Audio delayed."),
    ("a-match-both", "aligned", "match", "both", YES_NO, "yes", "maybe"),
]


@pytest.fixture
def release(tmp_path):
    rows = [
        {
            "qid": qid,
            "key": qid.split("-")[0],
            "split": "test",
            "variant": variant,
            "kind": kind,
            "modality": modality,
            "question": f"{kind} question?",
            "options": options,
            "answer": gold,
        }
        for qid, variant, kind, modality, options, gold, _ in QUESTIONS
    ]
    table = pa.Table.from_pylist(rows, schema=QA.schema)
    write_table(table, tmp_path / "release" / "manifests" / "qa.parquet", QA)
    return tmp_path / "release"


@pytest.fixture
def predictions(tmp_path):
    path = tmp_path / "predictions.jsonl"
    lines = [json.dumps({"qid": q[0], "answer": q[-1]}) for q in QUESTIONS if q[-1] is not None]
    lines.append(json.dumps({"qid": "ghost", "answer": "Dog"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def acc(x, n):
    return {"accuracy": x, "n": n}


def rate(x, n):
    return {"rate": x, "n": n}


def test_score_every_metric(release, predictions):
    result = score(release, load_predictions(predictions))
    assert result["overall"] == {"questions": 13, "answered": 12, "coverage": 0.9231, "accuracy": 0.5385}
    assert result["by_variant_modality"] == {
        "aligned": {"visual": acc(0.5, 2), "audio": acc(1.0, 1)},
        "swap": {"visual": acc(0.5, 2), "audio": acc(1.0, 1)},
        "black_frames": {"visual": acc(1.0, 1), "audio": acc(0.0, 1)},
        "misaligned": {"visual": acc(0.6667, 3), "audio": acc(0.5, 2)},
    }
    assert result["by_kind"] == {
        "class": acc(0.6667, 6),
        "class_caption": acc(1.0, 1),
        "class_long": acc(0.0, 1),
        "probe": acc(0.5, 2),
        "sync": acc(0.5, 2),
        "match": acc(0.0, 1),
    }
    assert result["probe_yes_rate_on_no"] == {"overall": rate(1.0, 1), "by_variant": {"swap": rate(1.0, 1)}}
    assert result["probe_accuracy"] == {"overall": acc(0.5, 2), "by_variant": {"swap": acc(0.5, 2)}}
    assert result["abstention"] == {
        "recall": {"overall": rate(1.0, 1), "by_variant": {"black_frames": rate(1.0, 1)}},
        "false_abstention": {
            "overall": rate(0.1667, 6),
            "by_variant": {"aligned": rate(0.3333, 3), "swap": rate(0.0, 3)},
        },
    }
    assert result["sync_accuracy"] == {
        "overall": acc(0.5, 2),
        "by_variant": {"aligned": acc(0.0, 1), "shift": acc(1.0, 1)},
    }
    assert result["match_accuracy"] == {"overall": acc(0.0, 1), "by_variant": {"aligned": acc(0.0, 1)}}
    assert result["unparsed"] == {"count": 1, "qids": ["a-match-both"]}
    assert result["missing"] == {"count": 1, "qids": ["b-class-audio"]}
    assert result["unknown_qids"] == {"count": 1, "qids": ["ghost"]}
    assert json.loads(json.dumps(result)) == result


def test_score_takes_a_path_and_a_split(release, predictions):
    assert score(release, predictions) == score(release, load_predictions(predictions))
    with pytest.raises(EarwitnessError, match="no questions to score in split 'train'"):
        score(release, predictions, split="train")


def test_groups_without_questions_are_left_out(release):
    result = score(release, {"a-class-visual": "Dog"})
    assert result["overall"] == {"questions": 13, "answered": 1, "coverage": 0.0769, "accuracy": 0.0769}
    assert "probe_yes_rate_on_no" not in result
    false = {"overall": rate(0.0, 1), "by_variant": {"aligned": rate(0.0, 1)}}
    assert result["abstention"] == {"false_abstention": false}
    assert result["missing"]["count"] == 12
    assert len(result["missing"]["qids"]) == 10


def test_format_table(release, predictions):
    text = format_table(score(release, predictions))
    lines = text.splitlines()
    assert lines[0].split() == ["variant", "visual", "audio"]
    assert lines[2].split() == ["swap", "0.5000", "(n=2)", "1.0000", "(n=1)"]
    assert lines[4].split()[:3] == ["misaligned", "0.6667", "(n=3)"]
    assert 'probe yes-rate on "no": 1.0000 (n=1)  [swap 1.0000 (n=1)]' in lines
    assert "unknown_qids: 1 (ghost)" in lines


@pytest.mark.parametrize(
    ("answer", "options", "expected"),
    [
        ("Yes.", YES_NO, "yes"),
        ("Yes, it is", YES_NO, "yes"),
        ("NO", YES_NO, "no"),
        ("The answer is yes", YES_NO, "yes"),
        ("Yes.", CLASSES, None),
        (" dog ", CLASSES, "Dog"),
        ("I think it is Cat.", CLASSES, "Cat"),
        ('"Cat"', CLASSES, "Cat"),
        ("\u201cDog\u201d", CLASSES, "Dog"),
        ("Dog or Cat", CLASSES, None),
        ("Doggy", CLASSES, None),
        ("none", CLASSES, NONE),
        ("It is none of the above.", CLASSES, NONE),
        ("It is a hot dog", ["Dog", "Hot dog", NONE], "Hot dog"),
        ("The audio is early", SYNC, None),
        ("audio early!", SYNC, "audio early"),
        ("", YES_NO, None),
    ],
)
def test_normalise(answer, options, expected):
    assert normalise(answer, options) == expected


def test_load_predictions_answer_keys_and_blank_lines(tmp_path):
    path = tmp_path / "p.jsonl"
    lines = [{"qid": "a", "answer": "x"}, {"qid": "b", "prediction": "y"}, {"qid": "c", "response": "z"}]
    path.write_text("\n\n".join(json.dumps(x) for x in lines) + "\n\n")
    assert load_predictions(path) == {"a": "x", "b": "y", "c": "z"}


@pytest.mark.parametrize(
    ("third_line", "message"),
    [
        ('{"qid": "c", "answer": ', "line 3: not valid JSON"),
        ('{"answer": "yes"}', "line 3: no 'qid'"),
        ('{"qid": "c"}', "line 3: no answer"),
        ('["c", "yes"]', "line 3: expected a JSON object"),
        ('{"qid": "a", "answer": "no"}', "line 3: qid 'a' already answered on line 1"),
    ],
)
def test_load_predictions_bad_lines(tmp_path, third_line, message):
    path = tmp_path / "p.jsonl"
    path.write_text('{"qid": "a", "answer": "yes"}\n\n' + third_line + "\n")
    with pytest.raises(EarwitnessError, match=message):
        load_predictions(path)
