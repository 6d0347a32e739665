"""The stream API as a trainer uses it: decoded frames and audio whose labels are the manifest's,
each sample exactly once across DataLoader workers, over a folder and over HTTP; the webdataset
pipeline and the Hugging Face datasets recipe over the same shards."""

import json
import subprocess
import sys
import tarfile
from collections import Counter

import numpy as np
import pytest

from earwitness.errors import EarwitnessError
from earwitness.pipelines.publish import publish
from earwitness.schemas import SAMPLES, read_table
from earwitness.stream import decode_mp4, hf_dataset, open_release, webdataset_pipeline
from earwitness.testing import MediaServer

LABELS = ("key", "split", "variant", "visual_class", "audio_class", "class_id", "has_audio")


@pytest.fixture(scope="module")
def manifest(small_release) -> dict[str, dict]:
    return {r["key"]: r for r in read_table(small_release / "manifests" / "samples.parquet", SAMPLES).to_pylist()}


@pytest.fixture(scope="module")
def shard_labels(small_release) -> dict[str, dict]:
    """Each sample's own label, the json member build wrote beside its mp4 in the shard."""
    labels = {}
    for shard in small_release.glob("*/*/*.tar"):
        with tarfile.open(shard) as tar:
            for member in (m for m in tar.getmembers() if m.name.endswith(".json")):
                labels[member.name.removesuffix(".json")] = json.load(tar.extractfile(member))
    return labels


@pytest.fixture(scope="module")
def served(small_release, tmp_path_factory):
    """The release published into a folder served over HTTP on 127.0.0.1."""
    dest = tmp_path_factory.mktemp("bucket") / "earwitness"
    publish(small_release, str(dest))
    with MediaServer(dest, subfolders=True) as server:
        yield server


def test_clip_dataset_yields_decoded_clips_with_the_manifests_labels(small_release, manifest, shard_labels):
    from earwitness.stream import ClipDataset

    dataset = ClipDataset(small_release)
    samples = list(dataset)
    assert len(samples) == len(dataset) == len(manifest)
    assert sorted(s["key"] for s in samples) == sorted(manifest)
    for sample in samples:
        row, own = manifest[sample["key"]], shard_labels[sample["key"]]
        assert {name: sample[name] for name in LABELS} == {name: row[name] for name in LABELS}
        # the same as the label build wrote with the media: the manifest is not only copied into the sample
        assert {name: sample[name] for name in LABELS if name != "has_audio"} == {
            name: own[name] for name in LABELS if name != "has_audio"
        }
        frames, audio = sample["frames"], sample["audio"]
        assert frames.dtype == np.uint8 and frames.shape[1:] == (120, 160, 3) and 38 <= len(frames) <= 41
        if row["variant"] == "black_frames":
            assert frames.max() <= 2
        else:
            assert frames.mean() > 30  # the test picture, not black
        if not row["has_audio"]:
            assert audio.shape == (0, 0) and sample["sample_rate"] == 0
            continue
        assert audio.dtype == np.float32 and audio.shape[1] == 2 and sample["sample_rate"] == 44100
        assert abs(len(audio) - 4 * 44100) <= 2048
        if row["variant"] == "mute":
            assert np.abs(audio).max() == 0.0
        else:
            assert np.abs(audio).max() > 0.05


def test_two_dataloader_workers_over_http_yield_every_sample_exactly_once(served, manifest):
    from torch.utils.data import DataLoader

    from earwitness.stream import ClipDataset

    dataset = ClipDataset(served.url, split="eval", fps=1.0)  # the latest version, found in releases.json
    assert len(dataset.shards) >= 10
    loader = DataLoader(dataset, batch_size=None, num_workers=2)
    before, seen = Counter(served.requests), Counter()
    for sample in loader:
        seen[sample["key"]] += 1
        assert sample["visual_class"] == manifest[sample["key"]]["visual_class"]
        assert 4 <= len(sample["frames"]) <= 5  # about one frame a second
    assert set(seen) == {k for k, r in manifest.items() if r["split"] == "eval"} and set(seen.values()) == {1}
    shards = {f"1.2.0/{manifest[k]['shard']}" for k in seen}
    assert {name: n for name, n in (served.requests - before).items() if name.endswith(".tar")} == dict.fromkeys(
        shards, 1
    )  # each shard read once, by one worker


def test_the_webdataset_pipeline_streams_one_variant_over_http(served, manifest):
    pipeline = webdataset_pipeline(f"{served.url}/1.2.0", split="balanced_train", variant="swap")
    samples = list(pipeline)
    expected = {k for k, r in manifest.items() if (r["split"], r["variant"]) == ("balanced_train", "swap")}
    assert {s["__key__"] for s in samples} == expected and len(samples) == len(expected)
    for sample in samples:
        label = json.loads(sample["json"])
        assert (label["visual_class"], label["audio_class"]) == (
            manifest[sample["__key__"]]["visual_class"],
            manifest[sample["__key__"]]["audio_class"],
        )
        decoded = decode_mp4(sample["mp4"])
        assert decoded["frames"].shape[0] >= 38 and decoded["audio"].shape[1] == 2


def test_the_hf_datasets_recipe_reads_the_shards(small_release, manifest):
    dataset = hf_dataset(small_release, "eval", variant="mute")
    expected = {k for k, r in manifest.items() if (r["split"], r["variant"]) == ("eval", "mute")}
    assert dataset.num_rows == len(expected) and {row["__key__"] for row in dataset} == expected
    row = dataset[0]
    assert row["json"]["key"] == row["__key__"] and row["mp4"]["bytes"][4:8] == b"ftyp"


def test_a_tampered_clip_is_refused_while_streaming(small_release, manifest, tmp_path):
    from earwitness.stream import ClipDataset

    publish(small_release, str(tmp_path / "dest"))
    victim = next(r for r in manifest.values() if r["variant"] == "aligned" and r["split"] == "eval")
    shard = tmp_path / "dest" / "1.2.0" / victim["shard"]
    data = bytearray(shard.read_bytes())
    data[victim["offset"] + victim["size"] // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(EarwitnessError, match=f"{victim['key']}.mp4 does not match the manifest's sha256"):
        list(ClipDataset(tmp_path / "dest", split="eval", variant="aligned"))
    cut = next(r for r in manifest.values() if r["variant"] == "mute" and r["split"] == "eval")
    shard = tmp_path / "dest" / "1.2.0" / cut["shard"]
    shard.write_bytes(shard.read_bytes()[: cut["offset"] + 1000])  # a shard cut short inside a clip
    with pytest.raises(EarwitnessError, match=f"{cut['shard']}: cannot read the shard"):
        list(ClipDataset(tmp_path / "dest", split="eval", variant="mute"))
    with pytest.raises(EarwitnessError, match="no split 'test'; the release has balanced_train, eval"):
        open_release(small_release).shard_urls(split="test")


def test_importing_the_stream_api_does_not_import_torch():
    code = "import sys, earwitness.stream; assert 'torch' not in sys.modules and 'apache_beam' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
