"""A table schema is a name, a version and an Arrow schema; both travel in the Parquet metadata.

Writers conform a table to its schema before writing; readers refuse a table whose name or
version differs, so a stage never silently reads the output of an incompatible earlier one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from earwitness.errors import EarwitnessError

NAME_KEY = b"earwitness.table"
VERSION_KEY = b"earwitness.version"


@dataclass(frozen=True)
class TableSchema:
    name: str
    version: int
    schema: pa.Schema

    def conform(self, table: pa.Table) -> pa.Table:
        """The table's columns in schema order and types, or an error naming what is missing."""
        missing = [f.name for f in self.schema if f.name not in table.column_names]
        if missing:
            raise EarwitnessError(f"{self.name} table v{self.version}: missing columns {missing}")
        columns = [table.column(f.name).cast(f.type) for f in self.schema]
        metadata = {NAME_KEY: self.name.encode(), VERSION_KEY: str(self.version).encode()}
        return pa.Table.from_arrays(columns, schema=self.schema.with_metadata(metadata))


def write_table(table: pa.Table, path: str | Path, schema: TableSchema) -> Path:
    """Write atomically: a temp file beside the target, then a rename, so no reader sees half a table."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conformed = schema.conform(table)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(conformed, tmp, compression="zstd")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a table is for everyone who reads the run
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_table(path: str | Path, schema: TableSchema) -> pa.Table:
    path = Path(path)
    if not path.exists():
        raise EarwitnessError(f"{path}: no such table (expected a {schema.name} table)")
    try:
        metadata = pq.read_schema(path).metadata or {}
    except pa.ArrowInvalid as exc:
        raise EarwitnessError(f"{path}: not a readable Parquet file ({exc})") from None
    name = metadata.get(NAME_KEY, b"").decode() or "(none)"
    version = metadata.get(VERSION_KEY, b"").decode() or "(none)"
    if name != schema.name or version != str(schema.version):
        raise EarwitnessError(
            f"{path}: a '{name}' table of version {version}; expected '{schema.name}' version "
            f"{schema.version}. Re-run the stage that writes it with this version of earwitness."
        )
    return pq.read_table(path, schema=schema.schema.with_metadata(metadata))
