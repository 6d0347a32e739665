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

# verify: one row per clip, the four yes/no questions scored by an omni model. A row is valid for
# the clip with this sha256 under this model and prompt version; anything else is scored again.
VERDICTS = TableSchema(
    "verdicts",
    1,
    pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),
            pa.field("sha256", pa.string(), nullable=False),  # of the clip that was scored
            pa.field("class_id", pa.string(), nullable=False),
            pa.field("class_name", pa.string(), nullable=False),
            pa.field("model", pa.string(), nullable=False),
            pa.field("prompt_version", pa.string(), nullable=False),
            pa.field("threshold", pa.float64(), nullable=False),
            # P(yes) of each question; null when early stop skipped it or the clip failed
            pa.field("visual_muted", pa.float64()),  # (a) frames, audio removed: is <class> visible?
            pa.field("audio_black", pa.float64()),  # (b) black frames with the audio: is <class> audible?
            pa.field("visual_full", pa.float64()),  # (c) the full clip: is <class> visible?
            pa.field("audio_full", pa.float64()),  # (d) the full clip: is <class> audible?
            pa.field("skipped", pa.list_(pa.string()), nullable=False),  # questions early stop left out
            pa.field("passed", pa.bool_(), nullable=False),  # every question asked said yes
            pa.field("first_failed", pa.string()),  # the first question (in asking order) that said no
            pa.field("status", pa.string(), nullable=False),  # ok | failed
            pa.field("reason", pa.string()),  # "<code>: <detail>" for failures
            pa.field("prefill_tokens", pa.int64(), nullable=False),  # tokens the model actually prefilled
            pa.field("naive_tokens", pa.int64(), nullable=False),  # four separate full passes would cost
        ]
    ),
)

# annotate: one row per clip pushed to Label Studio, the two-annotator consensus.
CONSENSUS = TableSchema(
    "consensus",
    2,  # 2: sha256, the version of the clip the annotators judged
    pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),
            pa.field("sha256", pa.string()),  # null for a task pushed without it (by hand)
            pa.field("task_id", pa.int64(), nullable=False),
            pa.field("status", pa.string(), nullable=False),  # accepted | rejected | split | pending
            pa.field("accepted", pa.bool_(), nullable=False),  # two distinct annotators passed all three
            pa.field("annotations", pa.int32(), nullable=False),  # counted once per distinct annotator
            # passes per question, among the distinct annotators
            pa.field("visible_passes", pa.int32(), nullable=False),
            pa.field("dominant_passes", pa.int32(), nullable=False),
            pa.field("action_passes", pa.int32(), nullable=False),
            pa.field("annotators", pa.list_(pa.string()), nullable=False),  # Label Studio user ids
            pa.field("comment", pa.string()),
        ]
    ),
)
