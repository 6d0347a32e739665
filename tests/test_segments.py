"""Segment lists: the fast and careful parsers agree, and every bad row keeps its line and reason."""

import gzip

import pyarrow as pa
import pytest
from conftest import write_segments

from earwitness.errors import EarwitnessError
from earwitness.ontology.segments import _parse_careful, _parse_fast, parse_block, segment_blocks, split_name
from earwitness.storage import read_input

GOOD = [
    '-0pJqpNjft4, 267.000, 277.000, "/m/07rpkh9"',
    'abcdefghijk, 0.000, 10.000, "/m/a,/m/b,/m/c"',
    'ABCDEFGHIJ_, 12.500, 22.500, "/m/x"',
]


def blocks(path, block_bytes=1 << 20):
    return list(segment_blocks(read_input(str(path)), block_bytes))


def test_rows_parse_to_milliseconds_and_label_lists(tmp_path):
    (block,) = blocks(write_segments(tmp_path, GOOD))
    assert block.read == 3 and block.declared == 3 and len(block.rejects) == 0
    rows = block.segments.to_pylist()
    assert rows[0] == {"ytid": "-0pJqpNjft4", "start_ms": 267000, "end_ms": 277000, "labels": "/m/07rpkh9", "line": 4}
    assert rows[1]["labels"] == "/m/a,/m/b,/m/c"
    assert rows[2]["start_ms"] == 12500  # integer milliseconds, never a float in a key


def test_fast_and_careful_paths_agree(tmp_path):
    body = ("\n".join(GOOD) + "\n").encode()
    fast = _parse_fast(body, 10)
    careful = _parse_careful("x", body, 10)
    assert fast is not None
    assert fast[0].to_pylist() == careful[0].to_pylist()
    assert fast[2] == careful[2] == 3


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ('abcdefghijk, 0.000, "/m/a"', "expected 4 fields"),
        ('short, 0.000, 10.000, "/m/a"', "11-character YouTube id"),
        ('abcdefghijk, zero, 10.000, "/m/a"', "not a number of seconds"),
        ('abcdefghijk, 10.000, 10.000, "/m/a"', "end is not after start"),
        ('abcdefghijk, 0.000, 10.000, "/m/a,,/m/b"', "an empty label"),
        ('abcdefghijk, 0.000, 10.000, ""', "an empty label"),
    ],
)
def test_a_malformed_row_is_rejected_with_its_line_number_and_reason(tmp_path, row, reason):
    rows = [*GOOD[:2], row, GOOD[2]]
    (block,) = blocks(write_segments(tmp_path, rows))
    assert block.read == 4 and len(block.segments) == 3
    (reject,) = block.rejects.to_pylist()
    assert reject["line"] == 6 and reason in reject["reason"] and reject["text"] == row
    assert block.segments["line"].to_pylist() == [4, 5, 7]


def test_blank_lines_comments_and_crlf_are_not_rows(tmp_path):
    path = tmp_path / "eval_segments.csv"
    path.write_bytes(b"# header\r\n" + GOOD[0].encode() + b"\r\n\r\n# a comment\r\n" + GOOD[1].encode() + b"\r\n")
    (block,) = blocks(path)
    assert block.read == 2 and len(block.rejects) == 0
    assert block.segments["line"].to_pylist() == [2, 5]
    assert block.segments["ytid"].to_pylist() == ["-0pJqpNjft4", "abcdefghijk"]


def test_rows_without_spaces_or_quotes_parse_too(tmp_path):
    (block,) = blocks(write_segments(tmp_path, ["abcdefghijk,0,10,/m/a", 'abcdefghijk,20,30,"/m/a,/m/b"']))
    assert block.segments["labels"].to_pylist() == ["/m/a", "/m/a,/m/b"]
    assert block.segments["end_ms"].to_pylist() == [10000, 30000]


def test_blocks_split_at_line_boundaries_keep_line_numbers(tmp_path):
    rows = [f'{i:011d}, {i}.000, {i + 10}.000, "/m/a"' for i in range(500)]
    rows[333] = "broken"
    parsed = blocks(write_segments(tmp_path, rows), block_bytes=997)
    assert len(parsed) > 10
    lines = pa.concat_tables([b.segments for b in parsed])["line"].to_pylist()
    assert lines == [i + 4 for i in range(500) if i != 333]
    (reject,) = pa.concat_tables([b.rejects for b in parsed]).to_pylist()
    assert reject["line"] == 337


def test_a_truncated_gzip_is_a_clear_error(tmp_path):
    rows = [f'{i:011d}, 0.000, 10.000, "/m/a"' for i in range(5000)]
    whole = gzip.compress(write_segments(tmp_path, rows).read_bytes())
    path = tmp_path / "eval_segments.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(EarwitnessError, match="gzip stream is truncated"):
        blocks(path)


def test_invalid_utf8_names_its_line(tmp_path):
    path = tmp_path / "eval_segments.csv"
    path.write_bytes(GOOD[0].encode() + b"\n" + b'abcdefghijk, 0.000, 10.000, "/m/\xff"\n')
    with pytest.raises(EarwitnessError, match="line 2 is not valid UTF-8"):
        blocks(path)


def test_an_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "eval_segments.csv"
    path.write_bytes(b"")
    with pytest.raises(EarwitnessError, match="the file is empty"):
        read_input(str(path))


def test_parse_block_reads_the_declared_count_from_a_header():
    block = parse_block("x", b"# num_ytids=7, num_segs=7\n" + GOOD[0].encode() + b"\n", 1)
    assert block.declared == 7 and block.segments["line"].to_pylist() == [2]


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("eval_segments.csv", "eval"),
        ("x/unbalanced_train_segments.csv.gz", "unbalanced_train"),
        ("http://h/p/balanced_train_segments.csv?x=1", "balanced_train"),
    ],
)
def test_the_split_is_named_from_the_file(name, split):
    assert split_name(name) == split


TRICKY = [
    'abcdefghijk, 0.000, 10.000, "/m/a, /m/b"',  # a space inside the label list
    'abcdefghijk, 1e1, 20.000, "/m/a"',
    'abcdefghijk, .5, 10.000, "/m/a"',
    'abcdefghijk, -0.0, 10.000, "/m/a"',
    'abcdefghijk, +1, 10.000, "/m/a"',
    'abcdefghijk, 0.000, 10.000, " "',
    '"abcdefghi10", 0.000, 10.000, "/m/a"',  # a quoted id
    'abcdefghijk, 0.000, 10.000, "/m/a""x"',
    'abcdefghijk, 0.000, 99999999999999999999, "/m/a"',  # would overflow milliseconds
    'abcdefghijk, 1., 10.000, "/m/a"',
]


@pytest.mark.parametrize("row", TRICKY)
def test_a_row_is_judged_the_same_whichever_parser_reads_it(row):
    """The fast path must never accept what the careful one rejects, or read it differently:
    otherwise whether a row survives would depend on its neighbours in the block."""
    body = (GOOD[0] + "\n" + row + "\n").encode()
    chosen = parse_block("x", body, 1)
    careful = _parse_careful("x", body, 1)
    assert chosen.segments.to_pylist() == careful[0].to_pylist()
    assert chosen.rejects.to_pylist() == careful[1].to_pylist()
