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

CLIPS = TableSchema(
    "clips",
    1,
    pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),  # {ytid}_{start_ms}
            pa.field("split", pa.string(), nullable=False),
            pa.field("ytid", pa.string(), nullable=False),
            pa.field("start_ms", pa.int64(), nullable=False),
            pa.field("end_ms", pa.int64(), nullable=False),
            pa.field("class_id", pa.string(), nullable=False),
            pa.field("class_name", pa.string(), nullable=False),
            pa.field("status", pa.string(), nullable=False),  # ok | failed
            pa.field("reason", pa.string()),  # "<code>: <detail>" for failures
            pa.field("retryable", pa.bool_()),  # a failure a later run retries
            pa.field("attempts", pa.int32(), nullable=False),
            pa.field("bytes", pa.int64()),
            pa.field("sha256", pa.string()),
            pa.field("duration_s", pa.float64()),
            pa.field("width", pa.int32()),
            pa.field("height", pa.int32()),
            pa.field("fps", pa.float64()),
            pa.field("sample_rate", pa.int32()),
            pa.field("channels", pa.int32()),
            pa.field("path", pa.string()),
        ]
    ),
)

# The release's manifests: one row per sample in a shard, per question, per preference pair.
SAMPLES = TableSchema(
    "samples",
    1,
    pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),  # the WebDataset sample key: no dots
            pa.field("clip_key", pa.string(), nullable=False),
            pa.field("split", pa.string(), nullable=False),
            pa.field("variant", pa.string(), nullable=False),  # the intervention
            pa.field("shard", pa.string(), nullable=False),  # relative to the release
            pa.field("offset", pa.int64(), nullable=False),  # of the mp4 member's data in the tar
            pa.field("size", pa.int64(), nullable=False),
            pa.field("sha256", pa.string(), nullable=False),  # of the mp4
            pa.field("visual_class", pa.string()),  # null: the picture shows nothing (black frames)
            pa.field("audio_class", pa.string()),  # null: there is no sound (mute, no audio)
            pa.field("has_audio", pa.bool_(), nullable=False),  # the mp4 has an audio track
            pa.field("params", pa.string(), nullable=False),  # JSON: how the variant was made
            pa.field("ytid", pa.string(), nullable=False),
            pa.field("start_ms", pa.int64(), nullable=False),
            pa.field("end_ms", pa.int64(), nullable=False),
            pa.field("class_id", pa.string(), nullable=False),  # the clip's own class
        ]
    ),
)

QA = TableSchema(
    "qa",
    1,
    pa.schema(
        [
            pa.field("qid", pa.string(), nullable=False),
            pa.field("key", pa.string(), nullable=False),  # the sample asked about
            pa.field("split", pa.string(), nullable=False),
            pa.field("variant", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),  # class, class_caption, class_long, probe, sync, match
            pa.field("modality", pa.string(), nullable=False),  # visual | audio | both
            pa.field("question", pa.string(), nullable=False),
            pa.field("options", pa.list_(pa.string()), nullable=False),
            pa.field("answer", pa.string(), nullable=False),
        ]
    ),
)

PREFERENCES = TableSchema(
    "preferences",
    1,
    pa.schema(
        [
            pa.field("pid", pa.string(), nullable=False),
            pa.field("split", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),  # audio_attribution | audio_sensitivity | <intervention>
            pa.field("prompt", pa.string(), nullable=False),
            pa.field("chosen_key", pa.string(), nullable=False),  # the sample shown with the chosen answer
            pa.field("chosen", pa.string(), nullable=False),
            pa.field("rejected_key", pa.string(), nullable=False),
            pa.field("rejected", pa.string(), nullable=False),
        ]
    ),
)
