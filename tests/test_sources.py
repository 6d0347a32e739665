"""What each source fetches, and how the messages YouTube and servers give are classified.

YouTube itself cannot be reached from here: its answers are checked as the text yt-dlp reports."""

from pathlib import Path

import pytest

from earwitness.transforms.sources import (
    AcquireFailure,
    DownloadOptions,
    FolderSource,
    Segment,
    YtDlpSource,
    classify,
    make_source,
)


@pytest.mark.parametrize(
    ("message", "code", "transient"),
    [
        ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", "rate_limited", True),
        ("ERROR: [youtube] x: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser", "bot_check", True),
        ("ERROR: [youtube] x: Sign in to confirm your age. This video may be inappropriate", "age_restricted", False),
        ("ERROR: [youtube] x: Private video. Sign in if you've been granted access to this video", "private", False),
        ("ERROR: [youtube] x: Video unavailable. This video has been removed by the uploader", "removed", False),
        ("ERROR: [youtube] x: Video unavailable", "unavailable", False),
        ("ERROR: [generic] x: Unable to download webpage: HTTP Error 404: Not Found", "unavailable", False),
        ("ERROR: [generic] x: Unable to download webpage: HTTP Error 503: Service Unavailable", "server_error", True),
        ("ERROR: unable to download video data: The read operation timed out", "timeout", True),
        ("ERROR: [download] Got error: 130276 bytes read, 260554 more expected", "broken_transfer", True),
        ("ERROR: <urlopen error [Errno 111] Connection refused>", "broken_transfer", True),
        ("ERROR: something nobody has seen before", "download_failed", True),
    ],
)
def test_youtube_and_server_answers_are_classified(message, code, transient):
    failure = classify(message)
    assert (failure.code, failure.transient) == (code, transient)
    assert str(failure).startswith(f"{code}: ") and "ERROR:" not in str(failure)


def test_the_youtube_source_only_puts_the_id_in_a_url():
    source = make_source("youtube", DownloadOptions())
    assert isinstance(source, YtDlpSource) and source.holds == "video"
    assert source.template.format(**Segment("-0pJqpNjft4", 267000, 277000).fields).endswith("watch?v=-0pJqpNjft4")


def test_a_folder_source_defaults_to_vggsounds_layout(tmp_path):
    (tmp_path / "-0pJqpNjft4_000267.mp4").write_bytes(b"x")
    source = make_source(str(tmp_path), DownloadOptions())
    assert isinstance(source, FolderSource)
    fetched = source.fetch(Segment("-0pJqpNjft4", 267000, 277000), tmp_path)
    assert fetched.path.name == "-0pJqpNjft4_000267.mp4" and fetched.offset_s == 0.0
    with pytest.raises(AcquireFailure, match="unavailable: no file"):
        source.fetch(Segment("abcdefghijk", 0, 10000), tmp_path)


def test_a_folder_of_whole_videos_starts_the_segment_at_its_offset(tmp_path):
    (tmp_path / "abcdefghijk.mp4").write_bytes(b"x")
    source = make_source(f"file://{tmp_path}/{{ytid}}.mp4", DownloadOptions(), holds="video")
    assert source.fetch(Segment("abcdefghijk", 12500, 22500), Path(tmp_path)).offset_s == 12.5


@pytest.mark.parametrize("ytid", ["../../etc/pa", "abc/defghij", "short", "abcdefghij\u00e9"])
def test_an_id_that_is_not_a_youtube_id_never_becomes_a_path(tmp_path, ytid):
    with pytest.raises(AcquireFailure, match="invalid_id"):
        make_source(str(tmp_path), DownloadOptions()).fetch(Segment(ytid, 0, 10000), tmp_path)
