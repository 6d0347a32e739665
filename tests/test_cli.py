"""The command line as a user runs it: the demo, prune with flags, and clean errors."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
from conftest import write_segments


def earwitness(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "earwitness", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_the_demo_runs_offline_and_leaves_a_readable_run_folder(tmp_path):
    result = earwitness("demo", "--out", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    prune = tmp_path / "demo" / "prune"
    funnel = json.loads((prune / "funnel.json").read_text())
    assert set(funnel) == {"eval", "balanced_train"}
    assert all(f["unique"] > 10 for f in funnel.values())
    assert "single_class" in result.stdout and "demo done" in result.stdout
    assert (prune / "classes.svg").exists() and (prune / "nodes.parquet").exists()

    # every clip acquire stored was asked by the (tiny, random) verifier, and its verdict is in the table
    clips = pq.read_table(tmp_path / "demo" / "acquire" / "clips.parquet").to_pylist()
    verdicts = pq.read_table(tmp_path / "demo" / "verify" / "verdicts.parquet").to_pylist()
    assert {v["key"] for v in verdicts} == {c["key"] for c in clips if c["status"] == "ok"}
    assert all(v["passed"] and v["prefill_tokens"] < v["naive_tokens"] for v in verdicts)

    # the demo's release is complete, published under its version, and scoring its own answers gives full marks
    release = tmp_path / "demo" / "release"
    published = tmp_path / "demo" / "published" / "0.1.0"
    assert (published / "SHA256SUMS").read_bytes() == (release / "SHA256SUMS").read_bytes()
    assert json.loads((published / "RELEASE.json").read_text())["version"] == "0.1.0"
    assert (release / "report.html").exists() and (release / "SHA256SUMS").exists()
    qa = pq.read_table(release / "manifests" / "qa.parquet").to_pylist()
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"qid": q["qid"], "answer": q["answer"]}) + "\n" for q in qa))
    scored = earwitness("score", str(predictions), "--release", str(release), "--json", str(tmp_path / "s.json"))
    assert scored.returncode == 0, scored.stderr
    result = json.loads((tmp_path / "s.json").read_text())
    assert result["overall"]["accuracy"] == 1.0 and result["overall"]["questions"] == len(qa)

    # `make demo` again: it rebuilds and republishes, reusing the clips and verdicts it has
    again = earwitness("demo", "--out", str(tmp_path / "demo"))
    assert again.returncode == 0, again.stderr
    assert "skipped_stored" in again.stdout and "downloaded" not in again.stdout
    assert "asked 0 now, 20 verdicts reused" in again.stdout
    assert (release / "SHA256SUMS").read_bytes() == (published / "SHA256SUMS").read_bytes()

    # but a folder holding another release is never cleared
    (tmp_path / "lab" / "release").mkdir(parents=True)
    (tmp_path / "lab" / "release" / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# audioset 1.0.0\n")
    refused = earwitness("demo", "--out", str(tmp_path / "lab"))
    assert refused.returncode == 2 and "not the demo's" in refused.stderr
    assert (tmp_path / "lab" / "release" / "README.md").exists()


def test_prune_flags_override_the_config(tmp_path, tiny):
    ontology, policy = tiny
    segments = write_segments(tmp_path, ['nailnail003, 0.000, 10.000, "/t/nail"'])
    config = tmp_path / "build.yaml"
    config.write_text(f"out: {tmp_path / 'run'}\nprune:\n  ontology: {tmp_path / 'missing.json'}\n")
    result = earwitness(
        "prune", "-c", str(config), "--ontology", str(ontology), "--policy", str(policy), "--segments", str(segments)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run" / "prune" / "funnel.json").read_text())["eval"]["unique"] == 1


def test_bad_input_is_one_line_on_stderr_and_exit_code_2(tmp_path):
    result = earwitness("prune", "--ontology", str(tmp_path / "missing.json"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("missing.json: no such file")
    assert "Traceback" not in result.stderr


def test_a_bad_config_is_explained_setting_by_setting(tmp_path):
    config = tmp_path / "build.yaml"
    config.write_text("prune:\n  max_malformed_fraction: 2\n")
    result = earwitness("config", "-c", str(config))
    assert (
        result.returncode == 2
        and "prune.max_malformed_fraction: Input should be less than or equal to 1" in result.stderr
    )


def test_config_prints_every_default():
    result = earwitness("config", "--set", "prune.class_level=3")
    assert result.returncode == 0 and "class_level: 3" in result.stdout and "ffmpeg: bundled" in result.stdout
