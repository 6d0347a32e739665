"""The bundled ffmpeg works without any system package; other choices are checked clearly."""

import av
import pytest

from earwitness.errors import EarwitnessError
from earwitness.transforms.ffmpeg import ffmpeg_binary, run_ffmpeg


def test_the_bundled_ffmpeg_encodes_a_clip_that_pyav_decodes(tmp_path):
    out = tmp_path / "tone.mp4"
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=10:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            "-shortest",
            str(out),
        ]
    )
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in container.decode(video=0)) == 10


def test_a_failing_command_reports_what_ffmpeg_said(tmp_path):
    with pytest.raises(EarwitnessError, match="ffmpeg failed"):
        run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")])


def test_a_path_that_is_not_an_executable_is_refused(tmp_path):
    (tmp_path / "ffmpeg").write_text("not a program")
    with pytest.raises(EarwitnessError, match="not an executable"):
        ffmpeg_binary(str(tmp_path / "ffmpeg"))
