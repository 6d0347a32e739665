"""report.html: what a person would rather look at than read. The funnel, the classes, and for a
few samples of each variant a strip of frames and the waveform of its sound beside the
original's, all inlined (one file, no network)."""

from __future__ import annotations

import base64
import html
import io
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
from PIL import Image

from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import Config
from earwitness.transforms.media import decode_audio

if TYPE_CHECKING:
    from earwitness.pipelines.release import BuildResult

STYLE = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}.n{text-align:right}
.sample{margin:1em 0;padding:.5em;border:1px solid #ddd}.wave{display:block}small{color:#666}"""


def write_report(out: Path, result: BuildResult, config: Config) -> None:
    samples = result.samples.to_pylist()
    parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(config.name)}</title><style>{STYLE}</style>"]
    parts.append(f"<h1>{html.escape(config.name)} {html.escape(config.build.version)}</h1>")
    parts.append(
        "<h2>Funnel</h2><table>"
        + "".join(f"<tr><td>{html.escape(k)}<td class=n>{v:,}" for k, v in result.funnel.items())
        + "</table>"
    )
    if result.annotation:
        parts.append("<h2>Human annotation</h2>" + _agreement(result.annotation))
    parts.append("<h2>Classes</h2>" + _class_bars(samples))
    by_key = {s["key"]: s for s in samples}
    aligned = {s["clip_key"]: s for s in samples if s["variant"] == "aligned"}
    parts.append("<h2>Variants</h2>")
    for variant in sorted({s["variant"] for s in samples}):
        chosen = sorted((s for s in samples if s["variant"] == variant), key=lambda s: (s["split"], s["key"]))
        parts.append(f"<h3>{html.escape(variant)}</h3>")
        for sample in chosen[: config.build.report_samples]:
            original = aligned.get(sample["clip_key"])
            parts.append(_sample(out, sample, by_key.get(original["key"]) if original else None))
    (out / "report.html").write_text("\n".join(parts) + "\n")


def _agreement(annotation: dict) -> str:
    counts = ", ".join(f"{n:,} {html.escape(status)}" for status, n in annotation["consensus"].items())
    rows = "".join(
        f"<tr><td>{html.escape(q)}<td class=n>{'n/a' if f['kappa'] is None else format(f['kappa'], '.3f')}"
        f"<td class=n>{'n/a' if f['agreement'] is None else format(f['agreement'], '.3f')}<td class=n>{f['pairs']:,}"
        for q, f in annotation["questions"].items()
    )
    return (
        f"<p>Two annotators per clip: {counts}.</p><table><tr><th>question<th>Cohen's kappa<th>agreement<th>pairs"
        + rows
        + "</table>"
    )


def _class_bars(samples: list[dict]) -> str:
    counts = Counter(s["class_id"] for s in samples if s["variant"] == "aligned") or Counter(
        s["class_id"] for s in samples
    )
    names = {s["class_id"]: s["visual_class"] or s["class_id"] for s in samples if s["variant"] == "aligned"}
    top = max(counts.values(), default=1)
    rows = [
        f"<tr><td>{html.escape(names.get(c, c))}<td><svg width=300 height=12>"
        f"<rect width={300 * n / top:.1f} height=12 fill='#4a7fb5'/></svg><td class=n>{n}"
        for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return "<table>" + "".join(rows) + "</table>"


def _sample(out: Path, sample: dict, original: dict | None) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        path = _extract(out, sample, Path(scratch) / "sample.mp4")
        strip = _frame_strip(path)
        wave = _waveform(path, "#4a7fb5")
        reference = (
            _waveform(_extract(out, original, Path(scratch) / "original.mp4"), "#999")
            if original and original is not sample
            else ""
        )
    label = f"picture: {sample['visual_class'] or 'nothing'} · sound: {sample['audio_class'] or 'none'}"
    return (
        f"<div class=sample><b>{html.escape(sample['key'])}</b> "
        f"<small>{html.escape(label)} · {html.escape(sample['params'])}</small>"
        f"<br><img alt='frames' src='data:image/png;base64,{strip}'>"
        f"<br><small>sound</small>{wave}"
        + (f"<small>the original's sound</small>{reference}" if reference else "")
        + "</div>"
    )


def _extract(out: Path, sample: dict, target: Path) -> str:
    with (out / sample["shard"]).open("rb") as handle:
        handle.seek(sample["offset"])
        target.write_bytes(handle.read(sample["size"]))
    return str(target)


def _frame_strip(path: str, count: int = 5, height: int = 72) -> str:
    picks = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        seconds = float(stream.duration * stream.time_base) if stream.duration else 10.0
        for i in range(count):
            target = seconds * i / count
            container.seek(int(target / stream.time_base), stream=stream)  # lands on the keyframe before
            frame = next((f for f in container.decode(stream) if f.time is None or f.time >= target - 1e-3), None)
            if frame is not None:
                picks.append(frame.to_image())
    thumbs = [f.resize((max(1, round(f.width * height / f.height)), height)) for f in picks]
    strip = Image.new("RGB", (sum(t.width for t in thumbs) + 4 * len(thumbs), height), "white")
    x = 0
    for thumb in thumbs:
        strip.paste(thumb, (x, 0))
        x += thumb.width + 4
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode()


def _waveform(path: str, colour: str, width: int = 600, height: int = 60) -> str:
    try:
        samples, _ = decode_audio(path)
    except EarwitnessError:
        return f"<svg class=wave width={width} height={height}><text x=4 y=30 fill='#999'>no audio track</text></svg>"
    mono = np.abs(samples.mean(axis=0)) if samples.size else np.zeros(width)
    bins = np.array_split(mono, width)
    peaks = np.array([b.max() if b.size else 0.0 for b in bins])
    scale = (height / 2 - 1) / max(float(peaks.max()), 1e-3)
    top = " ".join(f"{x},{height / 2 - p * scale:.1f}" for x, p in enumerate(peaks))
    bottom = " ".join(f"{x},{height / 2 + p * scale:.1f}" for x, p in reversed(list(enumerate(peaks))))
    return f"<svg class=wave width={width} height={height}><polygon points='{top} {bottom}' fill='{colour}'/></svg>"
