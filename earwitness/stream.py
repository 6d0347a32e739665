"""Streaming a release: a fetched one, a published one at its URL (checked against its
RELEASE.json; see earwitness.published), or a folder `earwitness build` wrote.

Three ways to stream the shards, each over a local folder or a URL (http(s), gs://, s3://, hf://):

- `webdataset_pipeline(release, split=, variant=)`: a webdataset DataPipeline of raw samples;
- `ClipDataset(release, split=, variant=)`: a torch IterableDataset of decoded frames and audio;
- `hf_dataset(release, split, variant=)`: the Hugging Face datasets recipe (mp4 left undecoded).

torch, webdataset and datasets are imported only when used.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import math
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from earwitness.errors import EarwitnessError
from earwitness.published import CHECKSUMS, MARKER, PENDING, SAMPLES_PATH, join, locate, open_url, read_small
from earwitness.schemas import SAMPLES, read_table
from earwitness.storage import redact


@dataclass
class Release:
    """A release to read: its base (folder or URL), version, and the samples manifest."""

    base: str
    version: str | None
    samples: list[dict] = field(repr=False)
    files: dict[str, dict] | None = field(default=None, repr=False)  # from the marker, when published

    def select(self, split: str | None = None, variant: str | None = None) -> list[dict]:
        for name, value in (("split", split), ("variant", variant)):
            known = sorted({s[name] for s in self.samples})
            if value is not None and value not in known:
                raise EarwitnessError(f"{redact(self.base)}: no {name} {value!r}; the release has {', '.join(known)}")
        return [
            s
            for s in self.samples
            if (split is None or s["split"] == split) and (variant is None or s["variant"] == variant)
        ]

    def shard_urls(self, split: str | None = None, variant: str | None = None) -> list[str]:
        shards = sorted({s["shard"] for s in self.select(split, variant)})
        if "://" not in self.base:
            absent = [s for s in shards if not Path(self.base, s).exists()]
            if absent:
                raise EarwitnessError(
                    f"{self.base}: {len(absent)} shards of this selection were not fetched (first: {absent[0]}); "
                    "run earwitness fetch with this split and variant"
                )
            return [str(Path(self.base, s).resolve()) for s in shards]
        return [join(self.base, s) for s in shards]


def open_release(source: str | Path, version: str | None = None) -> Release:
    """A fetched or published release (its RELEASE.json present), or a local folder `earwitness
    build` wrote (SHA256SUMS present). Reads the samples manifest, checked against the marker."""
    source = str(source)
    local = "://" not in source
    built = Path(source, CHECKSUMS).exists() and not any(Path(source, n).exists() for n in (MARKER, PENDING))
    if local and built and not version:
        if Path(source, ".build").exists():
            raise EarwitnessError(f"{source}: a build in progress, not a release")
        return Release(source, None, read_table(Path(source, SAMPLES_PATH), SAMPLES).to_pylist())
    published = locate(source, version)
    if local:
        table = read_table(Path(published.base, SAMPLES_PATH), SAMPLES)
    else:
        data = read_small(join(published.base, SAMPLES_PATH))
        expected = published.files.get(SAMPLES_PATH, {}).get("sha256")
        if data is None or hashlib.sha256(data).hexdigest() != expected:
            raise EarwitnessError(f"{redact(published.base)}: {SAMPLES_PATH} is missing or does not match {MARKER}")
        with tempfile.NamedTemporaryFile(suffix=".parquet") as temp:
            temp.write(data)
            temp.flush()
            table = read_table(temp.name, SAMPLES)
    return Release(published.base, published.version, table.to_pylist(), published.files)


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise EarwitnessError(f"streaming this way needs {module}: pip install 'earwitness[{extra}]'") from None


def _as_release(release: str | Path | Release) -> Release:
    return release if isinstance(release, Release) else open_release(release)


def open_shards(src: Iterator[dict]) -> Iterator[dict]:
    """A webdataset stage: {url} -> {url, stream}, through open_url (no curl or gsutil needed)."""
    for sample in src:
        yield sample | {"stream": open_url(sample["url"])[0]}


def webdataset_pipeline(
    release: str | Path | Release, split: str | None = None, variant: str | None = None, shuffle: int = 0
) -> Any:
    """Samples {__key__, __url__, mp4, json} of the selected shards, split across nodes and workers."""
    wds = _require("webdataset", "stream")
    from webdataset.tariterators import group_by_keys, tar_file_expander

    stages = [wds.SimpleShardList(_as_release(release).shard_urls(split, variant)), wds.split_by_node]
    stages += [wds.split_by_worker, open_shards, tar_file_expander, group_by_keys]
    return wds.DataPipeline(*stages, *([wds.shuffle(shuffle)] if shuffle else []))


def hf_dataset(release: str | Path | Release, split: str, variant: str | None = None, streaming: bool = False) -> Any:
    """The Hugging Face datasets recipe: the webdataset builder over the shards, mp4 kept as bytes
    (decoding video in datasets needs torchcodec; decode with decode_mp4 instead)."""
    datasets = _require("datasets", "stream")
    urls = _as_release(release).shard_urls(split, variant)
    dataset = datasets.load_dataset("webdataset", data_files={split: urls}, split=split, streaming=streaming)
    return dataset.cast_column("mp4", datasets.Video(decode=False))


def decode_mp4(data: bytes, fps: float | None = None) -> dict:
    """Frames (uint8, T x H x W x 3) and audio (float32, samples x channels) with PyAV. `fps` keeps
    about that many frames per second. A file without sound gives audio of shape (0, 0), rate 0."""
    import av
    from av.audio.resampler import AudioResampler

    frames, chunks, rate, video_fps = [], [], 0, 0.0
    try:
        with av.open(io.BytesIO(data)) as container:
            streams = [*container.streams.video[:1], *container.streams.audio[:1]]
            if container.streams.video:
                video_fps = float(container.streams.video[0].average_rate or 0)
            resampler = AudioResampler(format="fltp")
            next_time = 0.0
            for frame in container.decode(*streams):
                if isinstance(frame, av.VideoFrame):
                    if fps is None or frame.time is None or frame.time >= next_time - 1e-6:
                        frames.append(frame.to_ndarray(format="rgb24"))
                        if fps and frame.time is not None:  # the next whole 1/fps step after this frame
                            next_time = (math.floor(frame.time * fps + 1e-6) + 1) / fps
                else:
                    rate = frame.sample_rate
                    chunks += [f.to_ndarray() for f in resampler.resample(frame)]
            if rate:
                chunks += [f.to_ndarray() for f in resampler.resample(None)]
    except av.error.FFmpegError as exc:
        raise EarwitnessError(f"cannot decode the mp4 ({exc})") from None
    height, width = frames[0].shape[:2] if frames else (0, 0)
    return {
        "frames": np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8),
        "fps": fps or video_fps,
        "audio": np.concatenate(chunks, axis=1).T.astype(np.float32) if chunks else np.zeros((0, 0), np.float32),
        "sample_rate": rate,
    }


def tar_samples(url: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) for each sample of a shard, read as a stream."""
    stream, _ = open_url(url)
    key, members = None, {}
    try:
        with stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name, _, extension = member.name.partition(".")
                if key is not None and name != key:
                    yield key, members
                    members = {}
                key = name
                members[extension] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, http.client.HTTPException) as exc:
        raise EarwitnessError(f"{redact(url)}: cannot read the shard ({type(exc).__name__}: {exc})") from None
    if key is not None:
        yield key, members


class _ClipDatasetMethods:
    """Decoded samples of a release's selected shards; each DataLoader worker reads its own shards.

    Yields {key, split, variant, visual_class, audio_class, class_id, has_audio, frames, fps,
    audio, sample_rate}; the labels are the manifest's (None where the variant has no picture or
    sound). Every mp4 is checked against the manifest's sha256. Use batch_size=None, or a
    collate_fn: clips differ in length and labels may be None.
    """

    def __init__(self, release: str | Path | Release, split: str | None = None, variant: str | None = None,
                 fps: float | None = None, verify: bool = True):  # fmt: skip
        chosen = _as_release(release)
        self.shards = chosen.shard_urls(split, variant)
        self.rows = {s["key"]: s for s in chosen.select(split, variant)}
        self.fps, self.verify = fps, verify

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict]:
        from torch.utils.data import get_worker_info

        worker = get_worker_info()
        mine = self.shards[worker.id :: worker.num_workers] if worker else self.shards
        for url in mine:
            for key, members in tar_samples(url):
                row = self.rows.get(key)
                if row is None or "mp4" not in members:
                    raise EarwitnessError(f"{redact(url)}: {key} is not a sample of the manifest")
                if self.verify and hashlib.sha256(members["mp4"]).hexdigest() != row["sha256"]:
                    raise EarwitnessError(
                        f"{redact(url)}: {key}.mp4 does not match the manifest's sha256 (damaged or tampered)"
                    )
                try:
                    decoded = decode_mp4(members["mp4"], self.fps)
                except EarwitnessError as exc:
                    raise EarwitnessError(f"{redact(url)}: {key}: {exc}") from None
                labels = ("key", "split", "variant", "visual_class", "audio_class", "class_id", "has_audio")
                yield {name: row[name] for name in labels} | decoded


_CLASSES: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """ClipDataset subclasses torch's IterableDataset, so it is made when first asked for: importing
    this module does not import torch."""
    if name != "ClipDataset":
        raise AttributeError(name)
    if name not in _CLASSES:
        data = _require("torch.utils.data", "verify")
        made = type("ClipDataset", (_ClipDatasetMethods, data.IterableDataset), {"__module__": __name__})
        made.__doc__ = _ClipDatasetMethods.__doc__
        _CLASSES[name] = made
    return _CLASSES[name]
