"""Every table earwitness writes. Bump a version whenever its columns or their meaning change."""

import pyarrow as pa

from earwitness.schemas.registry import TableSchema

NODES = TableSchema(
    "nodes",
    1,
    pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("name", pa.string(), nullable=False),
            pa.field("level", pa.int16(), nullable=False),
            pa.field("fate", pa.string(), nullable=False),  # kept | absorbed | removed
            pa.field("into", pa.string()),  # the class id, for absorbed nodes
            pa.field("rule", pa.string()),  # the policy step that decided the fate
            pa.field("reason", pa.string()),
        ]
    ),
)

CANDIDATES = TableSchema(
    "candidates",
    1,
    pa.schema(
        [
            pa.field("ytid", pa.string(), nullable=False),
            pa.field("start_ms", pa.int64(), nullable=False),
            pa.field("end_ms", pa.int64(), nullable=False),
            pa.field("class_id", pa.string(), nullable=False),
            pa.field("class_name", pa.string(), nullable=False),
            pa.field("labels", pa.list_(pa.string()), nullable=False),  # as listed by AudioSet
            pa.field("line", pa.int64(), nullable=False),  # line number in the segment file
        ]
    ),
)

# Rows of a segment file that could not be used at all: malformed, or naming unknown labels.
REJECTS = TableSchema(
    "rejects",
    1,
    pa.schema(
        [
            pa.field("line", pa.int64(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
        ]
    ),
)
