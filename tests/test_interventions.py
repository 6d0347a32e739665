"""Each intervention does what it says, checked by decoding what it made."""

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest

from earwitness.demo.clips import make_clip
from earwitness.errors import EarwitnessError
from earwitness.transforms.interventions import Clip, Pools, available, load, seeded
from earwitness.transforms.media import Media, decode_audio
from earwitness.transforms.normalise import ClipSpec, normalise


def stored(folder: Path, key: str, class_name: str, **options) -> Clip:
    """A clip as acquire stores it: generated, then normalised."""
    source = make_clip(folder / f"{key}.source.mp4", 11.0, size="160x120", rate=10, **options)
    info = normalise(source, folder / f"{key}.mp4", ClipSpec())
    return Clip(
        key, "eval", f"/c/{class_name}", class_name, str(folder / f"{key}.mp4"), 10.0, info.width, info.height, info.fps
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "dog": stored(folder, "dogdogdog01_0", "Dog", beep_at_s=3.0, frequency=800),
        "cat": stored(folder, "catcatcat01_0", "Cat", frequency=300),
        "rain": stored(folder, "rainrainrai_0", "Rain", frequency=1500),
    }


@pytest.fixture
def media(tmp_path):
    return Media(cache=str(tmp_path / "cache"))


def pools(clips) -> Pools:
    return Pools({c.class_id: [c] for c in (clips["dog"], clips["cat"])}, ambient=[clips["rain"]])


def render(name: str, clip: Clip, clips, media, folder: Path, **options):
    (intervention,) = load([name], **{name: options} if options else {})
    variants = intervention.plan(clip, seeded(7, clip.key, name), pools(clips))
    paths = []
    for variant in variants:
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{variant.key}.mp4"
        intervention.render(variant, out, media)
        paths.append(out)
    return variants, paths


def video_packets(path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def test_every_built_in_intervention_is_registered():
    assert {"aligned", "swap", "shift", "mute", "no_audio", "black_frames", "ambient"} <= set(available())
    with pytest.raises(EarwitnessError, match="unknown interventions"):
        load(["reverse"])


def test_aligned_is_the_clip_itself(clips, media, tmp_path):
    variants, (path,) = render("aligned", clips["dog"], clips, media, tmp_path)
    assert path.read_bytes() == Path(clips["dog"].path).read_bytes()
    assert (variants[0].audio_class, variants[0].visual_class) == ("Dog", "Dog")


def test_swap_carries_the_donors_audio_under_the_clips_picture(clips, media, tmp_path):
    variants, (path,) = render("swap", clips["dog"], clips, media, tmp_path)
    (variant,) = variants
    assert variant.params["donor"] == "catcatcat01_0" and (variant.audio_class, variant.visual_class) == ("Cat", "Dog")
    audio, _ = decode_audio(str(path))
    donor, _ = decode_audio(clips["cat"].path)
    assert np.array_equal(audio, donor[:, : audio.shape[1]]) and audio.shape[1] >= 441000 - 1024
    assert video_packets(path) == video_packets(clips["dog"].path)  # the picture stream-copied


def test_swap_takes_as_many_donors_as_the_split_asks_for(clips):
    (swap,) = load(["swap"], swap={"donors": {"eval": 1, "*": 10}})
    others = {f"/c/{i}": [Clip(f"other{i:05d}_0", "eval", f"/c/{i}", f"Class {i}", "x.mp4")] for i in range(12)}
    pool = Pools({**others, "/c/Dog": [clips["dog"]]})
    train = Clip(**{**clips["dog"].__dict__, "split": "balanced_train"})
    assert len(swap.plan(clips["dog"], seeded(1, "k", "swap"), pool)) == 1
    ten = swap.plan(train, seeded(1, "k", "swap"), pool)
    assert len(ten) == 10 and len({v.params["donor"] for v in ten}) == 10  # ten different donors
    assert all(v.params["donor_class"] != "Dog" for v in ten)
    assert [v.key for v in ten] == [f"dogdogdog01_0_swap{i}" for i in range(10)]


def test_shift_moves_the_samples_themselves_both_ways(clips, media, tmp_path):
    variants, paths = render("shift", clips["dog"], clips, media, tmp_path)
    original, rate = decode_audio(clips["dog"].path)
    onset = np.argmax(np.abs(original[0]) > 0.05)
    for variant, path in zip(variants, paths, strict=True):
        offset = variant.params["offset_samples"]
        assert 1.8 * rate <= abs(offset) <= 2.5 * rate
        audio, _ = decode_audio(str(path))
        assert abs(audio.shape[1] - original.shape[1]) <= 1024  # the length is kept
        moved = np.argmax(np.abs(audio[0]) > 0.05)
        assert abs(moved - (onset + offset)) <= 2, (variant.params, onset, moved)  # to the sample
        assert video_packets(path) == video_packets(clips["dog"].path)
    assert [v.params["direction"] for v in variants] == ["delayed", "early"]


def test_mute_keeps_a_silent_track_of_the_same_length(clips, media, tmp_path):
    variants, (path,) = render("mute", clips["dog"], clips, media, tmp_path)
    audio, rate = decode_audio(str(path))
    assert np.abs(audio).max() == 0.0 and abs(audio.shape[1] - 10 * rate) <= 1024
    assert variants[0].audio_class is None


def test_no_audio_removes_the_track(clips, media, tmp_path):
    _, (path,) = render("no_audio", clips["dog"], clips, media, tmp_path)
    with av.open(str(path)) as container:
        assert not container.streams.audio and container.streams.video
    assert video_packets(path) == video_packets(clips["dog"].path)


def test_black_frames_are_black_and_keep_the_sound(clips, media, tmp_path):
    variants, (path,) = render("black_frames", clips["dog"], clips, media, tmp_path)
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 100 and max(int(f.max()) for f in frames) <= 2
    assert np.array_equal(decode_audio(str(path))[0], decode_audio(clips["dog"].path)[0])
    assert (variants[0].audio_class, variants[0].visual_class) == ("Dog", None)
    assert len(list(Path(media.cache).glob("black_*.mp4"))) == 1  # made once, then reused
    render("black_frames", clips["cat"], clips, media, tmp_path)
    assert len(list(Path(media.cache).glob("black_*.mp4"))) == 1


def test_ambient_borrows_from_the_ambient_pool(clips, media, tmp_path):
    variants, (path,) = render("ambient", clips["dog"], clips, media, tmp_path)
    assert variants[0].params["ambient_class"] == "Rain" and variants[0].audio_class == "Rain"
    assert np.array_equal(decode_audio(str(path))[0][:, :1000], decode_audio(clips["rain"].path)[0][:, :1000])
    (ambient,) = load(["ambient"])
    assert ambient.plan(clips["rain"], seeded(1, "k", "ambient"), Pools(ambient=[clips["rain"]])) == []


def test_plans_and_renders_are_deterministic(clips, media, tmp_path):
    first, paths_a = render("shift", clips["dog"], clips, media, tmp_path / "a")
    second, paths_b = render("shift", clips["dog"], clips, media, tmp_path / "b")
    assert [v.params for v in first] == [v.params for v in second]
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (*paths_a, *paths_b)]
    assert digest[:2] == digest[2:]


def test_the_readme_example_registers_through_an_entry_point_and_works(clips, media, tmp_path, monkeypatch):
    """The README's complete example, taken from the README itself, installed as a distribution."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split("# mypackage/reverse.py\n", 1)[1].split("```", 1)[0]
    package = tmp_path / "mypackage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "reverse.py").write_text(code)
    info = tmp_path / "mypackage-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mypackage\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        '[earwitness.interventions]\nreverse = "mypackage.reverse:Reverse"\n'.replace('"', "")
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "reverse" in available()
    _, (path,) = render("reverse", clips["dog"], clips, media, tmp_path / "out")
    audio, rate = decode_audio(str(path))
    original, _ = decode_audio(clips["dog"].path)
    onset = np.argmax(np.abs(original[0]) > 0.05)
    reversed_onset = np.argmax(np.abs(audio[0][::-1]) > 0.05)  # the beep, counted from the end
    assert abs(int(reversed_onset) - int(onset)) < rate // 20
