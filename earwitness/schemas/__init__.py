"""Versioned Arrow schemas of every table the pipeline writes, and the only way to write or read them."""

from earwitness.schemas.registry import TableSchema, read_table, write_table
from earwitness.schemas.tables import CANDIDATES, CLIPS, NODES, PREFERENCES, QA, REJECTS, SAMPLES

__all__ = [
    "CANDIDATES",
    "CLIPS",
    "NODES",
    "PREFERENCES",
    "QA",
    "REJECTS",
    "SAMPLES",
    "TableSchema",
    "read_table",
    "write_table",
]
