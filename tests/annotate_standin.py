"""Stands in for `earwitness annotate push|status|pull` in the DAG's sensor tests, until those commands
land (the annotate branch); every other command is passed to the real earwitness.

The test copies this file beside a `standin.json`: {"earwitness": the real executable, "remaining":
what each status call reports, or "error" for a failed call, the last one repeating}, and points the
DAG's `earwitness` param at the copy. Each annotate call is appended to `calls.jsonl` beside it. The
real path, once the commands land: the same DAG run against the Label Studio server of the annotate
tests' fixture.
"""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    settings = json.loads((HERE / "standin.json").read_text())
    if argv[:1] != ["annotate"]:
        os.execv(settings["earwitness"], [settings["earwitness"], *argv])
    calls = HERE / "calls.jsonl"
    previous = calls.read_text().splitlines() if calls.exists() else []
    with calls.open("a") as log:
        log.write(json.dumps(argv) + "\n")
    if argv[1] == "status":
        asked = sum(json.loads(line)[1] == "status" for line in previous)
        remaining = settings["remaining"][min(asked, len(settings["remaining"]) - 1)]
        print("annotate status: reading the project", file=sys.stderr)  # a log line, never in the JSON
        if remaining == "error":
            print("error: Label Studio at http://127.0.0.1:9 is not answering", file=sys.stderr)
            return 2
        print(json.dumps({"project": argv[argv.index("--project") + 1], "tasks": 3, "remaining": remaining}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
