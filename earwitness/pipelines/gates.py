"""Gates between stages: the build takes only clips the verifier passed and the annotators accepted.

A gate is a table keyed by clip with a boolean column. It applies when its table is present
('auto') or named (a path); 'off' ignores it. A clip the gate's table does not mention is
left out (it was never judged), and so is a verdict or a consensus about another version of the
clip (its sha256 differs): what was judged is not what would be built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from earwitness.errors import EarwitnessError
from earwitness.schemas import CONSENSUS, VERDICTS, TableSchema, read_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gate:
    name: str  # the funnel's word for clips that got through
    table: TableSchema
    column: str
    default: str  # in the run folder, beside the clips folder

    def locate(self, setting: str, run_out: str | Path) -> Path | None:
        if setting == "off":
            return None
        if setting == "auto":
            path = Path(run_out) / self.default
            return path if path.exists() else None
        if not Path(setting).exists():
            raise EarwitnessError(f"{setting}: no such {self.table.name} table (set it to 'auto' or 'off')")
        return Path(setting)

    def admit(self, rows: list[dict], path: Path) -> list[dict]:
        table = read_table(path, self.table).to_pylist()
        verdicts = {r["key"]: r for r in table}
        kept = []
        for row in rows:
            judged = verdicts.get(row["key"])
            if judged is None or judged["sha256"] != row["sha256"]:  # never judged, or another version of it
                continue
            if judged[self.column]:
                kept.append(row)
        log.info(f"{self.name}: {len(kept):,} of {len(rows):,} clips pass {path}")
        return kept


VERIFIED = Gate("clips_verified", VERDICTS, "passed", "verify/verdicts.parquet")
ACCEPTED = Gate("clips_accepted", CONSENSUS, "accepted", "annotate/consensus.parquet")


def apply_gates(rows: list[dict], settings: dict[Gate, str], run_out: str | Path) -> tuple[list[dict], dict]:
    """The rows every present gate admits, and the funnel: how many were left after each gate."""
    funnel = {}
    for gate, setting in settings.items():
        path = gate.locate(setting, run_out)
        if path is None:
            continue
        rows = gate.admit(rows, path)
        funnel[gate.name] = len(rows)
    return rows, funnel
