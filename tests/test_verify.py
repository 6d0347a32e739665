"""verify: the four questions through the real Qwen2.5-Omni classes and processor (a tiny random thinker
built in code), on real clips; every saving held to four naive passes through the thinker's own forward."""

import csv
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

torch = pytest.importorskip("torch", reason="the verifier needs the verify extra (torch, transformers)")

from conftest import SHARED  # noqa: E402

from earwitness.demo.clips import make_clip  # noqa: E402
from earwitness.pipelines.acquire import run_acquire  # noqa: E402
from earwitness.pipelines.config import Config  # noqa: E402
from earwitness.pipelines.verify import run_verify  # noqa: E402
from earwitness.schemas import CANDIDATES, CLIPS, VERDICTS, read_table, write_table  # noqa: E402
from earwitness.transforms.verifier.clip_arrays import decode_clip  # noqa: E402
from earwitness.transforms.verifier.prompts import PROMPTS, QUESTIONS  # noqa: E402
from earwitness.transforms.verifier.scorer import OmniScorer  # noqa: E402
from earwitness.transforms.verifier.tiny import save_tiny_model, tiny_processor, tiny_thinker  # noqa: E402

REAL = SHARED / "media" / "vggsounder"
PIXELS = {"min_pixels": 28 * 28 * 4, "max_pixels": 112 * 112}  # small frames: seconds, not minutes, on a CPU
TOLERANCE = 1e-4


def real_rows() -> list[dict]:
    if not (REAL / "labels.csv").exists():
        pytest.skip(f"the real clips are not at {REAL} (set EARWITNESS_SHARED to the shared folder)")
    with (REAL / "labels.csv").open() as labels:
        return list(csv.DictReader(labels))


@pytest.fixture(scope="module")
def scorer() -> OmniScorer:
    processor = tiny_processor()
    return OmniScorer(tiny_thinker(processor), processor, PROMPTS["v1"], threshold=0.0, early_stop=False, **PIXELS)


@pytest.fixture(scope="module")
def clips(scorer) -> list:
    return [
        decode_clip(str(REAL / r["file"]), r["ytid"], "sha", r["audioset_name"], 2.0, PIXELS["max_pixels"])
        for r in real_rows()
    ]


@pytest.fixture(scope="module")
def naive(scorer, clips) -> list[dict]:
    return [scorer.naive_scores(c) for c in clips[:4]]


def settings(**verify) -> Config:
    config = Config()
    config.verify.min_pixels, config.verify.max_pixels = PIXELS["min_pixels"], PIXELS["max_pixels"]
    for key, value in verify.items():
        setattr(config.verify, key, value)
    return config


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("model") / "tiny-qwen2.5-omni")


@pytest.fixture(scope="module")
def acquired(tmp_path_factory) -> Path:
    """The real clips acquired, plus a silent clip, one without audio and one whose stored file broke."""
    root = tmp_path_factory.mktemp("verify")
    rows = [
        {"ytid": r["ytid"], "start_ms": int(r["start_seconds"]) * 1000, "end_ms": int(r["end_seconds"]) * 1000,
         "class_id": r["audioset_mid"], "class_name": r["audioset_name"], "labels": [r["audioset_mid"]], "line": 1}
        for r in real_rows()
    ]  # fmt: skip
    source = root / "source"
    shutil.copytree(REAL, source)
    for ytid, kind in (("silentclip1", "silent"), ("brokenclip1", "broken")):
        make_clip(source / f"{ytid}_000000.mp4", 10.2, frequency=0 if kind == "silent" else 440)
        rows.append({"ytid": ytid, "start_ms": 0, "end_ms": 10000, "class_id": "/m/x", "class_name": "Dog",
                     "labels": ["/m/x"], "line": 1})  # fmt: skip
    candidates = str(write_table(pa.Table.from_pylist(rows), root / "eval.parquet", CANDIDATES))
    config = Config()
    config.acquire.source = str(source)
    result = run_acquire(config, [candidates], root / "run" / "acquire", show_progress=False)
    assert result.count("ok") == len(rows)
    broken = next(r for r in result.clips.to_pylist() if r["ytid"] == "brokenclip1")
    Path(broken["path"]).write_bytes(b"\x00" * 1000)  # the store was damaged after acquire
    return root / "run" / "acquire"


def test_audio_tokens_are_where_the_question_needs_them(scorer, clips):
    enc = scorer.encode(clips[0])
    audio, video = scorer.audio_id, scorer.video_id
    assert 240 <= enc.ids_full.count(audio) <= 260  # 10 s of audio at 25 tokens per second
    assert enc.ids_full.count(audio) == len(enc.audio)
    assert enc.ids_frames.count(audio) == 0  # (a): the frames with the audio removed
    assert enc.ids_frames.count(video) == enc.ids_full.count(video) == len(enc.video) > 0
    # the same through the processor itself, as the naive passes ask
    for name, (_, media) in QUESTIONS.items():
        with_audio = media != "frames"
        inputs = scorer.processor(
            text=[scorer.prompts.prefix(scorer.media)], videos=[clips[0].frames],
            load_audio_from_video=with_audio, videos_kwargs=scorer.video_kwargs, return_tensors="pt",
            **({"audio": [clips[0].audio], "audio_from_video_indices": [0]} if with_audio else {}),
        )  # fmt: skip
        ids = inputs["input_ids"][0].tolist()
        assert ids == (enc.ids_full if with_audio else enc.ids_frames), name


def test_every_saving_gives_the_scores_of_four_naive_passes(scorer, clips, naive):
    for clip, reference in zip(clips[:4], naive, strict=True):
        verdict = scorer.score([clip])[0]
        assert verdict["scores"].keys() == reference.keys()
        for name in QUESTIONS:
            assert verdict["scores"][name] == pytest.approx(reference[name], abs=TOLERANCE), name
        assert verdict["prefill_tokens"] < verdict["naive_tokens"]
    # a different clip gives different scores: the comparison above can fail
    assert naive[0] != pytest.approx(naive[1], abs=TOLERANCE)


def test_batched_scores_equal_single_scores(scorer, clips, naive):
    batch = scorer.score(clips[:4])  # frame sizes differ: the batch is padded
    assert len({c.frames.shape for c in clips[:4]}) > 1
    for verdict, reference in zip(batch, naive, strict=True):
        for name in QUESTIONS:
            assert verdict["scores"][name] == pytest.approx(reference[name], abs=TOLERANCE)


def test_early_stop_skips_exactly_the_questions_after_the_first_no(scorer, clips, naive):
    """Pick an order and a threshold from the naive scores so that clip A fails the first of the two
    full-clip questions while clip B goes on to the second, after the shared prefix lost clip A."""
    found = None
    for (a, b), first_two in itertools.product(itertools.permutations(range(4), 2), [("visual_muted", "audio_black")]):
        for full in (("visual_full", "audio_full"), ("audio_full", "visual_full")):
            sa, sb = naive[a], naive[b]
            low = max(sa[full[0]], 0.0)
            high = min(sb[full[0]], *(sa[q] for q in first_two), *(sb[q] for q in first_two))
            if low < high:
                found = (a, b, [*first_two, *full], (low + high) / 2)
                break
        if found:
            break
    assert found, "no pair of clips separates on a full-clip question"
    a, b, order, threshold = found
    early = OmniScorer(scorer.model, scorer.processor, scorer.prompts, threshold, order, True, **PIXELS)
    va, vb = early.score([clips[a], clips[b]])
    assert (va["passed"], va["first_failed"], va["skipped"]) == (False, order[2], [order[3]])
    assert set(va["scores"]) == set(order[:3])
    assert vb["first_failed"] is None or vb["first_failed"] == order[3]
    assert vb["scores"][order[3]] == pytest.approx(naive[b][order[3]], abs=TOLERANCE)
    full = scorer.score([clips[a]])[0]
    assert va["prefill_tokens"] < full["prefill_tokens"]  # the skipped question cost nothing
    stop_at_once = OmniScorer(scorer.model, scorer.processor, scorer.prompts, 1.0, order, True, **PIXELS)
    v = stop_at_once.score([clips[a]])[0]
    assert (v["first_failed"], v["skipped"], list(v["scores"])) == (order[0], order[1:], [order[0]])


def test_verify_writes_verdicts_rejects_at_a_forcing_threshold_and_caches(acquired, model_dir):
    out = acquired.parent / "verify"
    first = run_verify(settings(threshold=0.0, early_stop=False), acquired, out, str(model_dir))
    rows = {r["key"]: r for r in first.verdicts.to_pylist()}
    assert len(rows) == 11 and first.asked == 11
    failed = {r["key"].split("_")[0]: r["reason"].split(":")[0] for r in rows.values() if r["status"] == "failed"}
    assert failed == {"silentclip1": "silent", "brokenclip1": "undecodable"}
    ok = [r for r in rows.values() if r["status"] == "ok"]
    assert all(r["passed"] and all(r[q] is not None for q in QUESTIONS) for r in ok)
    assert all(0 < r["prefill_tokens"] < r["naive_tokens"] for r in ok)
    assert read_table(out / "verdicts.parquet", VERDICTS).num_rows == 11

    again = run_verify(settings(threshold=0.0, early_stop=False), acquired, out, str(model_dir))
    assert (again.asked, again.reused) == (0, 11)
    assert again.verdicts.to_pylist() == first.verdicts.to_pylist()

    # every score is stored: a threshold that forces "no" re-decides without asking anything
    forced = run_verify(settings(threshold=1.0, early_stop=False), acquired, out, str(model_dir))
    assert forced.asked == 0
    assert not any(r["passed"] for r in forced.verdicts.to_pylist())
    first_asked, *rest = Config().verify.order  # the default order: (a), the cheapest, first
    assert first_asked == "visual_muted"
    assert all(r["first_failed"] == first_asked for r in forced.verdicts.to_pylist() if r["status"] == "ok")

    # another model asks again; under early stop a forcing threshold asks one question per clip
    other = save_tiny_model(model_dir.parent / "another", seed=1)
    stopped = run_verify(settings(threshold=1.0), acquired, out, str(other))
    assert stopped.asked == 11  # verdicts belong to a model: another one asks everything again
    for r in (r for r in stopped.verdicts.to_pylist() if r["status"] == "ok"):
        assert (r["first_failed"], r["skipped"]) == (first_asked, rest)
        assert r[first_asked] < 1.0 and all(r[name] is None for name in rest)


def test_the_build_takes_only_clips_the_verifier_passed(acquired, model_dir, tmp_path):
    from earwitness.pipelines.build import accepted_clips

    run = tmp_path / "run"
    shutil.copytree(acquired, run / "acquire")
    config = settings(threshold=0.0, early_stop=False)
    verdicts = run_verify(config, run / "acquire", run / "verify", str(model_dir)).verdicts.to_pylist()
    passed = {r["key"] for r in verdicts if r["passed"]}
    assert len(passed) == 9
    assert {c.key for c in accepted_clips(run / "acquire", config.build)[0]} == passed


def test_the_command_with_two_worker_processes_sharing_one_model(acquired, model_dir, tmp_path):
    config = tmp_path / "verify.yaml"
    config.write_text(json.dumps({"verify": {**PIXELS, "threshold": 0.0, "early_stop": False, "batch_max": 3}}))
    out = tmp_path / "verify"
    done = subprocess.run(
        [sys.executable, "-m", "earwitness", "verify", str(acquired), "--model", str(model_dir),
         "--out", str(out), "--config", str(config), "--workers", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "passed 9" in done.stdout and "prefill tokens" in done.stdout
    reference = run_verify(settings(threshold=0.0, early_stop=False), acquired, tmp_path / "ref", str(model_dir))
    got = {r["key"]: r for r in read_table(out / "verdicts.parquet", VERDICTS).to_pylist()}
    for r in reference.verdicts.to_pylist():
        for name in QUESTIONS:
            assert (got[r["key"]][name] is None) == (r[name] is None)
            if r[name] is not None:
                assert got[r["key"]][name] == pytest.approx(r[name], abs=TOLERANCE)


def test_no_model_and_an_unknown_model_are_clear_errors(acquired, tmp_path):
    from earwitness.errors import EarwitnessError

    with pytest.raises(EarwitnessError, match="name the model"):
        run_verify(Config(), acquired, tmp_path / "v")
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(EarwitnessError, match="not a model folder"):
        run_verify(Config(), acquired, tmp_path / "v", str(tmp_path / "not-a-model"))
    workers = Config()
    workers.beam.workers = 2  # found on the driver, not wrapped in a worker's traceback
    with pytest.raises(EarwitnessError, match="not a model folder"):
        run_verify(workers, acquired, tmp_path / "v", str(tmp_path / "not-a-model"))
    assert read_table(acquired / "clips.parquet", CLIPS).num_rows == 11


def test_qwen3_omni_is_asked_through_its_own_forward_with_early_stop(acquired, tmp_path, clips):
    """Qwen3-Omni's deepstack visual features do not fit the shared path: every question is a full pass."""
    from earwitness.transforms.verifier.scorer import PlainScorer

    model = save_tiny_model(tmp_path / "tiny-qwen3-omni", family="qwen3_omni_moe")
    processor = tiny_processor("qwen3_omni_moe")
    plain = PlainScorer(tiny_thinker(processor, family="qwen3_omni_moe"), processor, PROMPTS["v1"], 0.0,
                        early_stop=False, **PIXELS)  # fmt: skip
    batch = plain.score(clips[:3])
    for clip, verdict in zip(clips[:3], batch, strict=True):
        reference = plain.naive_scores(clip)
        assert verdict["scores"] == pytest.approx(reference, abs=TOLERANCE)
        assert verdict["prefill_tokens"] == verdict["naive_tokens"]  # no shared savings on this path
    result = run_verify(settings(threshold=1.0), acquired, tmp_path / "verify", str(model))
    for r in (r for r in result.verdicts.to_pylist() if r["status"] == "ok"):
        assert r["first_failed"] == "visual_muted" and len(r["skipped"]) == 3
        assert 0 < r["prefill_tokens"] < r["naive_tokens"] / 3
