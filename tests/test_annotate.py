"""annotate against a real Label Studio server on 127.0.0.1, with two real annotator accounts, each
annotating through the API with their own token; consensus and kappa also on known votes alone."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from earwitness import testing_labelstudio as lstest
from earwitness.annotation.consensus import QUESTIONS, Vote, agreement, cohen_kappa, consensus_row, votes_of
from earwitness.annotation.labelstudio import labeling_config, read_token
from earwitness.annotation.media import Media
from earwitness.demo.clips import make_clip, tone_for
from earwitness.errors import EarwitnessError
from earwitness.pipelines.acquire import run_acquire
from earwitness.pipelines.annotate import clips_to_push, project_status, run_pull, run_push
from earwitness.pipelines.build import run_build
from earwitness.pipelines.config import Config, load_config
from earwitness.schemas import CANDIDATES, CLIPS, CONSENSUS, VERDICTS, read_table, write_table

TOKEN_ENV = "EARWITNESS_TEST_LABEL_STUDIO_TOKEN"
CLASSES = (("Dog", "/c/dog"), ("Cat", "/c/cat"))
CLIPS_OK = 6
P, R = True, False


# --- consensus and kappa on known votes, no server -------------------------------------------------------------


def test_cohen_kappa_on_known_votes():
    # 50 clips: both pass 20, only A passes 5, only B passes 10, both reject 15: po 0.7, pe 0.5
    votes = [(P, P)] * 20 + [(P, R)] * 5 + [(R, P)] * 10 + [(R, R)] * 15
    assert cohen_kappa(votes) == pytest.approx(0.4)
    assert cohen_kappa([(P, R), (R, P)] * 5) == pytest.approx(-1.0)
    assert cohen_kappa([(P, P), (R, R)] * 3) == pytest.approx(1.0)
    assert cohen_kappa([(P, P)] * 4) is None  # both always pass: chance agreement is 1, kappa undefined
    assert cohen_kappa([]) is None

    pairs = [[Vote("2", (P, a, P)), Vote("3", (P, b, P))] for a, b in votes] + [[Vote("2", (P, P, P))]]
    found = agreement(pairs)  # the clip with one vote is no pair
    assert found["dominant"] == {"pairs": 50, "kappa": 0.4, "agreement": 0.7, "both_pass": 20, "both_reject": 15}
    assert found["visible"]["kappa"] is None and found["visible"]["agreement"] == 1.0


def annotation(user, answers, at, comment=None, cancelled=False, ident=0):
    result = [
        {"from_name": q, "to_name": "video", "type": "choices", "value": {"choices": ["pass" if a else "reject"]}}
        for q, a in zip(QUESTIONS, answers, strict=True)
        if a is not None
    ]
    if comment:
        result.append({"from_name": "comment", "to_name": "video", "type": "textarea", "value": {"text": [comment]}})
    return {"id": ident, "completed_by": user, "result": result, "updated_at": at, "was_cancelled": cancelled}


def test_one_vote_per_distinct_annotator_and_split_votes_are_not_accepted():
    twice = {"annotations": [annotation(7, (R, P, P), "2026-01-01"), annotation(7, (P, P, P), "2026-01-02")]}
    assert [v.passes for v in votes_of(twice)] == [(P, P, P)]  # the later one counts, once
    row = consensus_row("k", 1, votes_of(twice))
    assert (row["status"], row["accepted"], row["annotations"]) == ("pending", False, 1)

    both = votes_of({"annotations": [annotation(3, (P, P, P), "a"), annotation(2, (P, P, P), "b", "fine")]})
    assert consensus_row("k", 1, both) | {"comment": None} == {
        "key": "k", "sha256": None, "task_id": 1, "status": "accepted", "accepted": True, "annotations": 2,
        "visible_passes": 2, "dominant_passes": 2, "action_passes": 2, "annotators": ["2", "3"], "comment": None,
    }  # fmt: skip
    assert consensus_row("k", 1, both)["comment"] == "2: fine"
    split = votes_of({"annotations": [annotation(2, (P, P, P), "a"), annotation(3, (P, R, P), "b")]})
    assert consensus_row("k", 1, split)["status"] == "split" and not consensus_row("k", 1, split)["accepted"]
    rejected = votes_of({"annotations": [annotation(2, (P, P, R), "a"), annotation(3, (R, P, P), "b")]})
    assert consensus_row("k", 1, rejected)["status"] == "rejected"
    skipped = votes_of({"annotations": [annotation(2, (P, P, P), "a"), annotation(3, (P, P, P), "b", cancelled=True)]})
    assert consensus_row("k", 1, skipped)["status"] == "pending"  # a skip is no vote
    unanswered = votes_of({"annotations": [annotation(2, (P, None, P), "a"), annotation(3, (P, P, P), "b")]})
    assert consensus_row("k", 1, unanswered)["status"] == "split"  # an unanswered question is no pass


def test_the_token_comes_from_the_environment_or_a_file_and_never_from_the_config(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(EarwitnessError, match=f"no Label Studio API token: put it in \\${TOKEN_ENV}"):
        read_token(TOKEN_ENV, None)
    (tmp_path / "token").write_text("from-a-file\n")
    assert read_token(TOKEN_ENV, str(tmp_path / "token")) == "from-a-file"
    monkeypatch.setenv(TOKEN_ENV, "from-the-environment")
    assert read_token(TOKEN_ENV, str(tmp_path / "token")) == "from-the-environment"
    with pytest.raises(EarwitnessError, match=r"annotate\.token: Extra inputs are not permitted"):
        load_config(None, ["annotate.token=secret"])


def test_an_address_that_is_not_label_studio_is_a_clear_error(monkeypatch, tmp_path):
    """A proxy's login page answers 200 with HTML: status reports it, push fails naming the address."""
    import http.server
    import threading

    class LoginPage(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><body>Sign in to continue</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), LoginPage) as proxy:
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        monkeypatch.setenv(TOKEN_ENV, "a-secret-token")
        config = load_config(
            None, [f"annotate.url=http://127.0.0.1:{proxy.server_port}", f"annotate.token_env={TOKEN_ENV}"]
        )
        status = project_status(config)
        assert "answered HTTP 200 to list projects: <html><body>Sign in" in status["error"]
        with pytest.raises(EarwitnessError, match="answered HTTP 200 to list projects") as failure:
            run_pull(config, tmp_path / "annotate")
        proxy.shutdown()
    assert "a-secret-token" not in str(failure.value) + json.dumps(status)

    # an export that is not JSON (the SDK hands its bytes over as they came)
    from earwitness.annotation.labelstudio import Studio

    studio = Studio("http://127.0.0.1:9", "a-secret-token")
    with pytest.raises(EarwitnessError, match="did not answer as Label Studio to export project 1") as failure:
        studio.call("export project 1", lambda: json.loads(b"<html>maintenance: back soon a-secret-token</html>"))
    assert "a-secret-token" not in str(failure.value)


def test_media_urls_for_a_local_store_and_a_bucket(tmp_path):
    local = Media("auto", document_root=str(tmp_path))
    assert local.url(str(tmp_path / "clips" / "-0pJqpNjft4_267000.mp4"), "k") == (
        "/data/local-files/?d=clips/-0pJqpNjft4_267000.mp4"
    )
    with pytest.raises(EarwitnessError, match=r"not below annotate\.document_root"):
        local.url("/elsewhere/x.mp4", "x")
    assert local.url("gs://bucket/clips/a_0.mp4", "a_0") == "gs://bucket/clips/a_0.mp4"  # {path}, for a storage
    cdn = Media("auto", media_url="https://cdn.example.org/clips/{name}")
    assert cdn.url("gs://bucket/clips/a_0.mp4", "a_0") == "https://cdn.example.org/clips/a_0.mp4"
    with pytest.raises(EarwitnessError, match="media_url"):
        Media("url", media_url="https://x/{nope}").url("gs://b/a_0.mp4", "a_0")


# --- clips acquired with earwitness's own acquire, so the clip store is real -----------------------------------


@pytest.fixture(scope="module")
def acquired(tmp_path_factory) -> Path:
    """Six ok clips (Dog and Cat by turns) and one whose source is missing."""
    root = tmp_path_factory.mktemp("acquired")
    rows = []
    for i in range(CLIPS_OK + 1):
        name, class_id = CLASSES[i % 2]
        ytid = f"clip{i:02d}{name}".ljust(11, "x")
        if i < CLIPS_OK:
            make_clip(root / "source" / f"{ytid}_000000.mp4", 2.5, frequency=tone_for(name))
        rows.append({"ytid": ytid, "start_ms": 0, "end_ms": 2000, "class_id": class_id, "class_name": name,
                     "labels": [class_id], "line": 1})  # fmt: skip
    candidates = write_table(pa.Table.from_pylist(rows), root / "eval.parquet", CANDIDATES)
    config = Config()
    config.acquire.source, config.acquire.clip_seconds = str(root / "source"), 2.0
    run_acquire(config, [str(candidates)], root / "run" / "acquire", show_progress=False)
    return root / "run" / "acquire"


def ok_clips(acquired: Path) -> list[dict]:
    rows = read_table(acquired / "clips.parquet", CLIPS).to_pylist()
    return sorted((r for r in rows if r["status"] == "ok"), key=lambda r: r["key"])


def write_verdicts(acquired: Path, passed: set[str], stale: set[str] = frozenset()) -> Path:
    rows = [
        {"key": r["key"], "sha256": "0" * 64 if r["key"] in stale else r["sha256"], "class_id": r["class_id"],
         "class_name": r["class_name"], "model": "m", "prompt_version": "v1", "threshold": 0.5, "skipped": [],
         "passed": r["key"] in passed, "first_failed": None, "status": "ok", "reason": None, "prefill_tokens": 1,
         "naive_tokens": 4} | dict.fromkeys(["visual_muted", "audio_black", "visual_full", "audio_full"], 0.9)
        for r in ok_clips(acquired)
    ]  # fmt: skip
    return write_table(pa.Table.from_pylist(rows), acquired.parent / "verify" / "verdicts.parquet", VERDICTS)


def test_push_takes_the_verified_clips_and_says_where_every_other_row_went(acquired, tmp_path):
    clips = ok_clips(acquired)
    keys = [c["key"] for c in clips]
    verdicts = write_verdicts(acquired, passed=set(keys[:4]), stale={keys[3]})
    rows, skipped, total = clips_to_push(verdicts, None)  # clips found at <run>/acquire
    assert [r["key"] for r in rows] == keys[:3] and all(Path(r["path"]).is_file() for r in rows)
    assert total == CLIPS_OK and len(rows) + len(skipped) == total
    assert {s["key"]: s["reason"] for s in skipped} == {
        keys[3]: "stale_verdict",
        keys[4]: "verify_rejected",
        keys[5]: "verify_rejected",
    }
    rows, skipped, total = clips_to_push(acquired, None)
    assert len(rows) == CLIPS_OK and [s["reason"] for s in skipped] == ["acquire_failed"] and total == CLIPS_OK + 1

    shutil.copy(verdicts, tmp_path / "verdicts.parquet")
    with pytest.raises(EarwitnessError, match=r"no clips table .* --clips"):
        clips_to_push(tmp_path / "verdicts.parquet", None)
    assert len(clips_to_push(tmp_path / "verdicts.parquet", acquired)[0]) == 3
    with pytest.raises(EarwitnessError, match="push takes verdicts or clips"):
        clips_to_push(write_table(CONSENSUS.schema.empty_table(), tmp_path / "c.parquet", CONSENSUS), None)


# --- a real Label Studio server -----------------------------------------------------------------------------------


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, lstest.ADMIN.token)
    return lstest.ADMIN.token


def settings(server, project: str, document_root: Path, **annotate) -> Config:
    config = Config(name="annotate-test")
    config.annotate.url, config.annotate.project, config.annotate.token_env = server.url, project, TOKEN_ENV
    config.annotate.document_root = str(document_root)
    for key, value in annotate.items():
        setattr(config.annotate, key, value)
    return config


def admin(server):
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=server.url, api_key=lstest.ADMIN.token)


def tasks_of(server, project_id: int) -> list[dict]:
    return [{"id": t.id, "data": t.data} for t in admin(server).tasks.list(project=project_id, page_size=100)]


def test_push_creates_the_project_once_and_each_clip_once_with_media_label_studio_serves(
    server, token, acquired, document_root, tmp_path
):
    config = settings(server, "push", document_root, batch=4)
    first = run_push(config, acquired, tmp_path)
    assert first.counts == {"input": CLIPS_OK + 1, "skipped": 1, "already_pushed": 0, "imported": CLIPS_OK,
                                 "skipped_acquire_failed": 1}  # fmt: skip
    project = admin(server).projects.get(first.project)
    assert project.maximum_annotations == 2 and project.label_config.strip() == labeling_config().strip()
    tasks = tasks_of(server, first.project)
    by_key = {t["data"]["key"]: t for t in tasks}
    assert sorted(by_key) == [c["key"] for c in ok_clips(acquired)] and len(tasks) == CLIPS_OK
    for clip in ok_clips(acquired):
        data = by_key[clip["key"]]["data"]
        assert (data["class_name"], data["sha256"]) == (clip["class_name"], clip["sha256"])
        # what an annotator's browser fetches: the stored clip, byte for byte
        answer = httpx.get(server.url + data["video"], headers={"Authorization": f"Token {lstest.ANNOTATORS[0].token}"})
        assert answer.status_code == 200 and answer.content == Path(clip["path"]).read_bytes()

    again = run_push(config, acquired, tmp_path)  # the same clips again: nothing new
    assert (again.project, again.counts["imported"], again.counts["already_pushed"]) == (first.project, 0, CLIPS_OK)
    # a clip acquired again with other bytes: its task shows the old version, so push says so and adds nothing
    changed = read_table(acquired / "clips.parquet", CLIPS).to_pylist()
    target = next(c for c in changed if c["status"] == "ok")
    target["sha256"] = "f" * 64
    reacquired = write_table(pa.Table.from_pylist(changed, CLIPS.schema), tmp_path / "re" / "clips.parquet", CLIPS)
    moved = run_push(config, reacquired, tmp_path / "re")
    assert (moved.counts["imported"], moved.counts["skipped_changed_clip"]) == (0, 1)
    assert {"key": target["key"], "reason": "changed_clip"} in moved.skipped
    write_verdicts(acquired, passed={c["key"] for c in ok_clips(acquired)[:2]})
    verified = run_push(config, acquired.parent / "verify" / "verdicts.parquet", tmp_path)
    assert verified.counts["imported"] == 0 and verified.counts["already_pushed"] == 2
    assert len(tasks_of(server, first.project)) == CLIPS_OK
    record = json.loads((tmp_path / "push.json").read_text())
    assert record["counts"] == verified.counts and len(record["skipped"]) == CLIPS_OK - 2


def test_a_server_killed_in_the_middle_of_a_push_then_restarted_gets_each_clip_once(
    tmp_path_factory, token, acquired, document_root, tmp_path
):
    reason = lstest.available()
    if reason:
        pytest.skip(reason)
    crashing = lstest.LabelStudioServer(tmp_path_factory.mktemp("crash") / "data", document_root)
    crashing.start()
    try:
        config = settings(crashing, "crash", document_root, batch=2)
        seen = []

        def crash_after_the_first_batch(pushed: int) -> None:
            seen.append(pushed)
            crashing.kill()

        with pytest.raises(EarwitnessError, match="cannot reach Label Studio") as failure:
            run_push(config, acquired, tmp_path, on_batch=crash_after_the_first_batch)
        assert seen == [2] and crashing.process.returncode == -9 and token not in str(failure.value)
        crashing.start()  # the same data folder, a new port
        config.annotate.url = crashing.url
        assert project_status(config)["tasks"] == 2  # the first batch survived the crash
        resumed = run_push(config, acquired, tmp_path)
        assert (resumed.counts["already_pushed"], resumed.counts["imported"]) == (2, CLIPS_OK - 2)
        keys = [t["data"]["key"] for t in tasks_of(crashing, resumed.project)]
        assert sorted(keys) == [c["key"] for c in ok_clips(acquired)]  # every clip, none twice
    finally:
        crashing.stop()


# the annotators' votes per clip (sorted by key): (ann1's answers, ann2's answers); a list is one user's
# annotations in order (ann1 annotates clip 3 twice, and nobody else does)
VOTES = [
    ((P, P, P), (P, P, P)),  # accepted
    ((P, P, P), (P, R, P)),  # split: ann2 hears music
    ((P, P, R), (P, P, R)),  # rejected on the action question by both
    ([(R, P, P), (P, P, P)], None),  # one annotator, twice: still one vote, pending
    ((P, R, P), (P, R, P)),  # rejected: the target sound does not dominate
    ((P, P, P), (P, P, P)),  # accepted
]


def annotate_as(server, annotator: lstest.Account, task_id: int, answers, comment=None) -> None:
    from label_studio_sdk import LabelStudio

    client = LabelStudio(base_url=server.url, api_key=annotator.token)
    client.annotations.create(id=task_id, result=annotation(0, answers, "", comment)["result"])


def test_two_annotators_consensus_agreement_and_the_build_takes_only_accepted_clips(
    server, token, acquired, document_root, tmp_path
):
    run = tmp_path / "run"
    write_table(read_table(acquired / "clips.parquet", CLIPS), run / "acquire" / "clips.parquet", CLIPS)
    config = settings(server, "consensus", document_root)
    pushed = run_push(config, run / "acquire", run / "annotate")
    tasks = {t["data"]["key"]: t["id"] for t in tasks_of(server, pushed.project)}
    keys = sorted(tasks)
    ann1, ann2 = lstest.ANNOTATORS
    for key, (first, second) in zip(keys, VOTES, strict=True):
        for answers in first if isinstance(first, list) else [first]:
            annotate_as(server, ann1, tasks[key], answers, comment="music over it" if key == keys[4] else None)
        if second:
            annotate_as(server, ann2, tasks[key], second)

    found = project_status(config)
    assert found["tasks"] == CLIPS_OK and found["tasks_by_annotations"] == {"0": 0, "1": 1, "2": 5}
    assert found["annotations_needed"] == 1 and found["tasks_with_a_repeated_annotator"] == 1

    pulled = run_pull(config, run / "annotate")
    rows = {r["key"]: r for r in read_table(run / "annotate" / "consensus.parquet", CONSENSUS).to_pylist()}
    assert [rows[k]["status"] for k in keys] == ["accepted", "split", "rejected", "pending", "rejected", "accepted"]
    assert [rows[k]["accepted"] for k in keys] == [True, False, False, False, False, True]
    ids = [str(user_id(server, a)) for a in (ann1, ann2)]
    assert rows[keys[0]]["annotators"] == ids and rows[keys[3]]["annotators"] == ids[:1]
    assert rows[keys[3]]["annotations"] == 1  # one user's two annotations count once
    assert (rows[keys[2]]["action_passes"], rows[keys[4]]["dominant_passes"], rows[keys[1]]["dominant_passes"]) == (
        0,
        0,
        1,
    )
    assert rows[keys[4]]["comment"] == f"{ids[0]}: music over it" and rows[keys[0]]["task_id"] == tasks[keys[0]]

    # kappa by hand over the five clips both annotated (ann1 is rater A):
    # visible: all pass -> undefined; dominant: po 4/5, pe .8*.6+.2*.4=.56 -> .24/.44; action: po 1 -> 1
    questions = json.loads((run / "annotate" / "agreement.json").read_text())["questions"]
    assert questions["visible"]["kappa"] is None and questions["visible"]["agreement"] == 1.0
    assert questions["dominant"]["kappa"] == pytest.approx(0.24 / 0.44, abs=1e-4)
    assert questions["action"]["kappa"] == 1.0 and questions["action"]["pairs"] == 5
    assert pulled.agreement["consensus"] == {"accepted": 2, "rejected": 2, "split": 1, "pending": 1}

    config.build.interventions = ["aligned"]
    release = run_build(config, run / "acquire", tmp_path / "release")
    assert sorted({s["clip_key"] for s in release.samples.to_pylist()}) == [keys[0], keys[5]]
    stats = json.loads((tmp_path / "release" / "stats.json").read_text())
    assert stats["funnel"]["clips_accepted"] == 2 and stats["annotation"]["questions"] == questions
    report = (tmp_path / "release" / "report.html").read_text()
    card = (tmp_path / "release" / "README.md").read_text()
    assert "Human annotation" in report and "0.545" in report and "| dominant | 0.545 | 0.800 | 5 |" in card
    for path in [*(tmp_path / "release").rglob("*.json"), *(run / "annotate").iterdir()]:
        assert token.encode() not in path.read_bytes()


def user_id(server, account: lstest.Account) -> int:
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=server.url, api_key=account.token).users.whoami().id


def test_media_from_a_bucket_reach_label_studio_as_urls(server, token, acquired, document_root, http_folder, tmp_path):
    folder, base = http_folder  # stands in for a public bucket or CDN over HTTP
    for clip in ok_clips(acquired):
        shutil.copy(clip["path"], folder)
    config = settings(server, "bucket", document_root, media="url", media_url=base + "/{name}")
    pushed = run_push(config, acquired, tmp_path)
    for task in tasks_of(server, pushed.project):
        assert task["data"]["video"] == f"{base}/{task['data']['key']}.mp4"
        assert httpx.get(task["data"]["video"]).content == (folder / f"{task['data']['key']}.mp4").read_bytes()


def earwitness(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "earwitness", *args], capture_output=True, text=True, check=False, env=env
    )


def test_the_commands_report_numbers_and_never_show_the_token(server, token, acquired, document_root, tmp_path):
    env = os.environ | {TOKEN_ENV: token}
    common = ["--url", server.url, "--project", "cli", "--set", f"annotate.token_env={TOKEN_ENV}",
              "--set", f"annotate.document_root={document_root}"]  # fmt: skip
    out = tmp_path / "annotate"
    outputs = []
    pushed = earwitness("annotate", "push", str(acquired), *common, "--out", str(out), env=env)
    outputs.append(pushed)
    assert pushed.returncode == 0, pushed.stderr
    assert "imported" in pushed.stdout and f"{CLIPS_OK:>10,}" in pushed.stdout

    status = earwitness("annotate", "status", *common, "--json", env=env)
    outputs.append(status)
    numbers = json.loads(status.stdout)
    assert status.returncode == 0 and numbers["tasks"] == CLIPS_OK and numbers["annotations_needed"] == 2 * CLIPS_OK
    assert numbers["tasks_by_annotations"] == {"0": CLIPS_OK, "1": 0, "2": 0} and not numbers["complete"]
    text = earwitness("annotate", "status", *common, env=env)
    outputs.append(text)
    assert text.returncode == 0 and "annotations still needed" in text.stdout and f"{2 * CLIPS_OK:>10,}" in text.stdout

    pulled = earwitness("annotate", "pull", *common, "--out", str(out), env=env)
    outputs.append(pulled)
    assert pulled.returncode == 0, pulled.stderr
    assert len(read_table(out / "consensus.parquet", CONSENSUS)) == CLIPS_OK

    # a server that is not there: status still exits 0 and says so; push is an error
    gone = ["--url", f"http://127.0.0.1:{lstest.free_port()}", *common[2:]]
    down = earwitness("annotate", "status", *gone, "--json", env=env)
    outputs.append(down)
    assert down.returncode == 0 and "cannot reach Label Studio" in json.loads(down.stdout)["error"]
    refused = earwitness("annotate", "push", str(acquired), *common, env=env | {TOKEN_ENV: "wrong-token-1234"})
    outputs.append(refused)
    assert refused.returncode == 2 and "the API token was refused" in refused.stderr
    assert "wrong-token-1234" not in refused.stdout + refused.stderr
    missing = earwitness("annotate", "pull", *common, env={k: v for k, v in env.items() if k != TOKEN_ENV})
    outputs.append(missing)
    assert missing.returncode == 2 and f"${TOKEN_ENV}" in missing.stderr

    for result in outputs:
        assert token not in result.stdout + result.stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} == {"push.json", "consensus.parquet", "agreement.json"}
    for path in written:
        assert token.encode() not in path.read_bytes()
