"""Versioned Arrow schemas of every table the pipeline writes, and the only way to write or read them."""

from earwitness.schemas.registry import TableSchema, read_table, write_table
from earwitness.schemas.tables import (
    CANDIDATES,
    CLIPS,
    CONSENSUS,
    NODES,
    PREFERENCES,
    QA,
    REJECTS,
    SAMPLES,
    VERDICTS,
)

__all__ = [
    "CANDIDATES",
    "CLIPS",
    "CONSENSUS",
    "NODES",
    "PREFERENCES",
    "QA",
    "REJECTS",
    "SAMPLES",
    "VERDICTS",
    "TableSchema",
    "read_table",
    "write_table",
]
