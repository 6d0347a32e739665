"""Reading AudioSet segment lists (`YTID, start_seconds, end_seconds, "label,label"`) with pyarrow.

The file is decompressed in line-aligned blocks on a background thread while the previous
block is parsed. A block of well-formed rows goes through Arrow's multi-threaded CSV reader
(the fast path); a block with any bad row is parsed line by line with Arrow compute kernels
(the careful path), so every rejected row keeps its line number and reason. Neither loops
over rows in Python.
"""

from __future__ import annotations

import functools
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from earwitness.errors import EarwitnessError
from earwitness.ids import YTID_BYTES, YTID_LENGTH, YTID_PATTERN
from earwitness.storage import Input

SECONDS_PATTERN = r"^[0-9]+(\.[0-9]*)?$"
SECONDS_MAX_CHARS = 15  # longer overflows milliseconds in int64; no video is that long anyway
LABEL_BAD_BYTES = np.zeros(256, dtype=bool)
LABEL_BAD_BYTES[np.frombuffer(b' \t"\r\n', dtype=np.uint8)] = True
SECONDS_BYTES = np.zeros(256, dtype=bool)
SECONDS_BYTES[np.frombuffer(b"0123456789.,", dtype=np.uint8)] = True
DECLARED_PATTERN = re.compile(rb"num_segs=(\d+)")
BLOCK_BYTES = 8 << 20
FIELDS = ("ytid", "start", "end", "labels")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class SegmentBlock:
    segments: pa.Table  # ytid, start_ms, end_ms, labels ("id,id" as one string), line
    rejects: pa.Table  # line, reason, text
    read: int  # data rows in the block, good or bad
    declared: int | None = None  # the segment count a header comment declares


def split_name(source: str) -> str:
    """eval_segments.csv -> eval; unbalanced_train_segments.csv.gz -> unbalanced_train."""
    name = PurePosixPath(source.split("?")[0]).name
    for suffix in (".gz", ".csv", "_segments"):
        name = name.removesuffix(suffix)
    if not name:
        raise EarwitnessError(f"{source}: cannot name a split from this file name")
    return name


def segment_blocks(source: Input, block_bytes: int = BLOCK_BYTES, workers: int = 2) -> Iterator[SegmentBlock]:
    """Parsed blocks in file order; decompression and parsing run on background threads."""
    blocks = prefetch(line_blocks(source, block_bytes))
    yield from ordered_map(lambda item: parse_block(source.source, item[1], item[0]), blocks, workers)


def line_blocks(source: Input, block_bytes: int) -> Iterator[tuple[int, bytes]]:
    """Decompressed pieces cut after a newline, each with the number of its first line."""
    carry, next_line = b"", 1
    for piece in source.blocks(block_bytes):
        piece = carry + piece
        cut = piece.rfind(b"\n") + 1
        if cut == 0:
            carry = piece
            continue
        block, carry = piece[:cut], piece[cut:]
        yield next_line, block
        next_line += block.count(b"\n")
    if carry:
        yield next_line, carry


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int = 2) -> Iterator[R]:
    """fn over items on a few threads, results in input order, at most `workers` items ahead."""
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Produce the next items on a background thread (zlib and Arrow release the GIL)."""
    done = object()
    buffer: queue.Queue = queue.Queue(maxsize=depth)

    def produce() -> None:
        try:
            for item in items:
                buffer.put(item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            buffer.put(exc)
        buffer.put(done)

    threading.Thread(target=produce, daemon=True).start()
    while (item := buffer.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def parse_block(source: str, block: bytes, first_line: int) -> SegmentBlock:
    skipped, declared = _leading_comments(block)
    body = block[skipped:]
    first_line += block[:skipped].count(b"\n")
    parsed = _parse_fast(body, first_line) if body else None
    if parsed is None:
        parsed = _parse_careful(source, body, first_line)
    return SegmentBlock(*parsed, declared=declared)


def _leading_comments(block: bytes) -> tuple[int, int | None]:
    """Bytes taken by the comment and blank lines a block starts with, and any declared count."""
    position, declared = 0, None
    while position < len(block) and block[position : position + 1] in (b"#", b"\n", b"\r"):
        end = block.find(b"\n", position)
        end = len(block) if end < 0 else end + 1
        if found := DECLARED_PATTERN.search(block[position:end]):
            declared = int(found.group(1))
        position = end
    return position, declared


def _parse_fast(body: bytes, first_line: int) -> tuple[pa.Table, pa.Table, int] | None:
    """Arrow's CSV reader, if every row of the block is well formed; None sends it the careful way.

    AudioSet writes `YTID, start, end, "labels"`: split on the space, the quoted labels are one
    field and the other three keep a trailing comma.
    """
    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=list(FIELDS)),
            parse_options=pacsv.ParseOptions(delimiter=" ", ignore_empty_lines=False, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(FIELDS, pa.string()), strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid:
        return None
    rows = body.count(b"\n") + (not body.endswith(b"\n"))
    if invalid or table.num_rows != rows:
        return None
    ytid, start, end, labels = (table[f].combine_chunks() for f in FIELDS)
    ytid = _ytids_with_comma(ytid)
    if ytid is None or not (_plain_seconds(start) and _plain_seconds(end)):
        return None  # anything unusual is parsed, and judged, the careful way
    if not _plain_labels(labels):
        return None
    try:
        start_ms, end_ms = _to_ms(pc.utf8_rtrim(start, ",")), _to_ms(pc.utf8_rtrim(end, ","))
    except pa.ArrowInvalid:
        return None
    if not (pc.all(pc.ends_with(start, ",")).as_py() and pc.all(pc.ends_with(end, ",")).as_py()):
        return None
    if not (pc.all(pc.greater(end_ms, start_ms)).as_py() and pc.min(start_ms).as_py() >= 0):
        return None
    lines = np.arange(first_line, first_line + rows, dtype=np.int64)
    segments = pa.table(
        {
            "ytid": ytid,
            "start_ms": start_ms,
            "end_ms": end_ms,
            "labels": labels,
            "line": lines,
        }
    )
    return segments, _no_rejects(), rows


def _ytids_with_comma(column: pa.StringArray) -> pa.StringArray | None:
    """`abcdefghijk,` -> `abcdefghijk` for every row, checked byte by byte in numpy; None if any is not."""
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset : column.offset + len(column) + 1]
    if not (np.diff(offsets) == YTID_LENGTH + 1).all():
        return None
    chars = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, YTID_LENGTH + 1)
    if not (YTID_BYTES[chars[:, :YTID_LENGTH]].all() and (chars[:, YTID_LENGTH] == ord(",")).all()):
        return None
    ids = np.ascontiguousarray(chars[:, :YTID_LENGTH])
    id_offsets = np.arange(0, (len(column) + 1) * YTID_LENGTH, YTID_LENGTH, dtype=np.int32)
    return pa.StringArray.from_buffers(len(column), pa.py_buffer(id_offsets), pa.py_buffer(ids))


def _plain_labels(column: pa.StringArray) -> bool:
    """Every label list is `id,id,...` with no empty id, no space and no quote, checked on the raw bytes."""
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset : column.offset + len(column) + 1]
    if len(column) == 0:
        return True
    if not (np.diff(offsets) > 0).all():
        return False
    chars = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0] - 1
    comma = chars == ord(",")
    # with no list starting or ending in a comma, two commas in a row can only sit inside one list
    return not (
        LABEL_BAD_BYTES[chars].any() or comma[starts].any() or comma[ends].any() or (comma[1:] & comma[:-1]).any()
    )


def _plain_seconds(column: pa.StringArray) -> bool:
    """Every value is `<digits>[.<digits>],` within SECONDS_MAX_CHARS, checked on the raw bytes."""
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset : column.offset + len(column) + 1]
    lengths = np.diff(offsets)
    if not ((lengths >= 2) & (lengths <= SECONDS_MAX_CHARS + 1)).all():
        return False
    chars = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    first = chars[offsets[:-1] - offsets[0]]
    return bool(SECONDS_BYTES[chars].all() and ((first >= ord("0")) & (first <= ord("9"))).all())


def _parse_careful(source: str, body: bytes, first_line: int) -> tuple[pa.Table, pa.Table, int]:
    text = pc.utf8_trim_whitespace(_split_lines(source, body, first_line)).cast(pa.string())
    is_data = pc.invert(pc.or_(pc.starts_with(text, "#"), pc.equal(pc.utf8_length(text), 0)))
    rows = _Rows(text.filter(is_data), np.flatnonzero(is_data.to_numpy(zero_copy_only=False)) + first_line)
    read = len(rows.text)
    parts = pc.split_pattern(rows.text, ",", max_splits=3)
    rows.narrow(pc.equal(pc.list_value_length(parts), 4), "expected 4 fields: YTID, start, end, labels")
    parts = parts.filter(pc.equal(pc.list_value_length(parts), 4))
    column = (
        [pc.utf8_trim(pc.utf8_trim_whitespace(pc.list_element(parts, i)), '"') for i in range(4)]
        if len(parts)
        else [pa.array([], pa.string())] * 4
    )

    rows.check(pc.match_substring_regex(column[0], YTID_PATTERN), "YTID is not an 11-character YouTube id")
    numeric = functools.reduce(
        pc.and_,
        [pc.match_substring_regex(c, SECONDS_PATTERN) for c in column[1:3]]
        + [pc.less_equal(pc.utf8_length(c), SECONDS_MAX_CHARS) for c in column[1:3]],
    )
    rows.check(numeric, "start or end is not a number of seconds")
    start_ms, end_ms = (_to_ms(pc.if_else(numeric, c, "0")) for c in column[1:3])
    rows.check(pc.greater(end_ms, start_ms), "end is not after start")
    labels = pc.split_pattern(pc.utf8_trim(column[3], '"'), ",")
    flat = pc.utf8_trim_whitespace(pc.list_flatten(labels))
    empty = pc.equal(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False)
    has_empty = np.bincount(pc.list_parent_indices(labels).to_numpy()[empty], minlength=len(labels)) > 0
    rows.check(pa.array(~has_empty), "an empty label in the label list")

    ok = pa.array(~rows.failed)
    segments = pa.table(
        {
            "ytid": column[0],
            "start_ms": start_ms,
            "end_ms": end_ms,
            "labels": pc.binary_join(pa.ListArray.from_arrays(labels.offsets, flat), ","),
            "line": rows.line_numbers,
        }
    ).filter(ok)
    return segments, rows.rejects_table(), read


class _Rows:
    """The data rows being parsed, with each rejected row's line number and first reason."""

    def __init__(self, text: pa.Array, line_numbers: np.ndarray):
        self.text, self.line_numbers = text, line_numbers
        self.failed = np.zeros(len(text), dtype=bool)
        self._rejected: list[tuple[np.ndarray, str, pa.Array]] = []

    def narrow(self, mask: pa.Array, reason: str) -> None:
        """Reject the rows where mask is false and carry on with the others only."""
        self._reject(~mask.to_numpy(zero_copy_only=False), reason)
        self.text, self.line_numbers = self.text.filter(mask), self.line_numbers[mask.to_numpy(zero_copy_only=False)]
        self.failed = np.zeros(len(self.text), dtype=bool)

    def check(self, mask: pa.Array, reason: str) -> None:
        """Reject the rows failing this check, unless an earlier check already did."""
        bad = ~mask.to_numpy(zero_copy_only=False) & ~self.failed
        self._reject(bad, reason)
        self.failed |= bad

    def _reject(self, bad: np.ndarray, reason: str) -> None:
        if bad.any():
            self._rejected.append((self.line_numbers[bad], reason, self.text.filter(pa.array(bad))))

    def rejects_table(self) -> pa.Table:
        if not self._rejected:
            return _no_rejects()
        lines = np.concatenate([r[0] for r in self._rejected])
        reasons = pa.array([r[1] for r in self._rejected for _ in range(len(r[0]))], pa.string())
        texts = pa.concat_arrays([r[2].cast(pa.string()) for r in self._rejected])
        order = np.argsort(lines, kind="stable")
        return pa.table({"line": lines[order], "reason": reasons.take(order), "text": texts.take(order)})


def _no_rejects() -> pa.Table:
    return pa.table(
        {"line": pa.array([], pa.int64()), "reason": pa.array([], pa.string()), "text": pa.array([], pa.string())}
    )


def _split_lines(source: str, data: bytes, first_line: int) -> pa.Array:
    """A zero-copy string array of the lines (each keeps its newline; trimming drops it)."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(buffer == 10) + 1)).astype(np.int64)
    if starts[-1] != len(buffer):
        starts = np.append(starts, len(buffer))
    lines = pa.LargeStringArray.from_buffers(len(starts) - 1, pa.py_buffer(starts), pa.py_buffer(data))
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        for number, line in enumerate(data.split(b"\n"), start=first_line):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                raise EarwitnessError(f"{source}: line {number} is not valid UTF-8") from None
        raise
    return lines


def _to_ms(seconds: pa.Array) -> pa.Array:
    return pc.cast(pc.round(pc.multiply(pc.cast(seconds, pa.float64()), 1000.0)), pa.int64())
