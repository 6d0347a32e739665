"""fetch: download a published release, or some of its splits and variants, verified and resumable.

The file list and every checksum come from the version's RELEASE.json (there is no listing over
http). Each file is downloaded to `<name>.part` and renamed only once its size and sha256 match,
so a damaged or tampered file never sits under its final name. An interrupted transfer resumes
from the partial file's size (an HTTP Range request, or a seek on other filesystems); files
already verified are kept without a request. The marker is written into DIR last.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from earwitness.errors import EarwitnessError
from earwitness.pipelines.config import PublishConfig
from earwitness.published import MARKER, SAMPLES_PATH, Published, TransferError, join, locate, open_url
from earwitness.schemas import SAMPLES, read_table
from earwitness.storage import redact, write_json

log = logging.getLogger(__name__)
BLOCK = 1 << 20
PART = ".part"


class Damaged(EarwitnessError):
    """A downloaded file whose sha256 is not the release's."""


@dataclass
class FetchResult:
    out: Path
    source: str  # redacted
    version: str
    files: int = 0
    bytes: int = 0  # of the selected files
    downloaded: int = 0  # bytes transferred in this run
    kept: int = 0  # files already complete and verified: not requested
    resumed: int = 0  # files continued from a partial download
    seconds: float = 0.0
    selection: dict = field(default_factory=dict)


def fetch(
    source: str,
    out: str | Path,
    version: str | None = None,
    splits: list[str] | None = None,
    variants: list[str] | None = None,
    settings: PublishConfig | None = None,
) -> FetchResult:
    settings, out, started = settings or PublishConfig(), Path(out), time.perf_counter()
    published = locate(source, version)
    _check_target(out, published)
    result = FetchResult(out, redact(published.base), published.version)
    result.selection = {"splits": sorted(splits or []), "variants": sorted(variants or [])}
    _transfer(published, [SAMPLES_PATH], out, settings, result)
    samples = read_table(out / SAMPLES_PATH, SAMPLES).select(["split", "variant", "shard"]).to_pylist()
    every_shard = {s["shard"] for s in samples}
    unlisted = sorted(every_shard - set(published.files))
    if unlisted:
        raise EarwitnessError(f"{result.source}: the manifest names shards {MARKER} does not list ({unlisted[:3]})")
    for name, chosen in (("split", splits), ("variant", variants)):
        known = sorted({s[name] for s in samples})
        wrong = sorted(set(chosen or []) - set(known))
        if wrong:
            raise EarwitnessError(f"{result.source}: no {name} {', '.join(wrong)}; the release has {', '.join(known)}")
    shards = {
        s["shard"]
        for s in samples
        if (not splits or s["split"] in splits) and (not variants or s["variant"] in variants)
    }
    wanted = sorted((set(published.files) - every_shard) | shards)
    _transfer(published, [f for f in wanted if f != SAMPLES_PATH], out, settings, result)
    write_json(out / MARKER, published.marker)
    result.seconds = time.perf_counter() - started
    return result


def _check_target(out: Path, published: Published) -> None:
    if (out / MARKER).exists():
        held = json.loads((out / MARKER).read_text())
        if held.get("files") != published.files:
            raise EarwitnessError(
                f"{out}: holds release {held.get('version')}, not this {published.version}; fetch into a new folder"
            )
    out.mkdir(parents=True, exist_ok=True)


def _transfer(published: Published, names: list[str], out: Path, settings: PublishConfig, result: FetchResult) -> None:
    """Every file or none: failures are collected, then reported together naming each file."""
    lock = threading.Lock()
    failures: list[str] = []

    def one(name: str) -> None:
        try:
            outcome, transferred = fetch_file(join(published.base, name), out / name, published.files[name], settings)
        except EarwitnessError as exc:
            with lock:
                failures.append(f"{name}: {exc}")
            return
        with lock:
            result.files += 1
            result.bytes += published.files[name]["size"]
            result.downloaded += transferred
            result.kept += outcome == "kept"
            result.resumed += outcome == "resumed"

    with ThreadPoolExecutor(settings.parallel) as pool:
        list(pool.map(one, names))
    if failures:
        raise EarwitnessError(
            f"fetch of {redact(published.base)} failed for {len(failures)} file{'s' * (len(failures) > 1)} (every "
            "other file is verified and kept; run the same command again to retry):\n  " + "\n  ".join(sorted(failures))
        )


def fetch_file(url: str, final: Path, expected: dict, settings: PublishConfig) -> tuple[str, int]:
    """One file into place: ('kept' | 'downloaded' | 'resumed', bytes transferred)."""
    size, digest = expected["size"], expected["sha256"]
    if final.exists():
        if final.stat().st_size == size and sha256_of(final) == digest:
            return "kept", 0
        log.warning(f"{final}: differs from the release; downloading it again")
        final.unlink()
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + PART)
    transferred, resumed, fresh_tries, last = [0], False, 0, "no attempt"
    for attempt in range(settings.attempts):
        if attempt:
            time.sleep(min(settings.backoff_s * 2 ** (attempt - 1), 60))
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        hasher = hashlib.sha256()
        try:
            if have < size:
                stream, start = open_url(url, have, settings.timeout_s)
                resumed |= start > 0
                _append(stream, part, start, hasher, transferred)
            else:
                _hash_into(part, size, hasher)
        except TransferError as exc:
            if not exc.retryable:
                raise
            last = str(exc)
            continue
        except (OSError, http.client.HTTPException) as exc:  # a dropped or cut transfer: resume next time
            last = f"transfer interrupted ({type(exc).__name__}: {exc})"
            continue
        got = part.stat().st_size
        if got != size:
            last = f"transfer cut short ({got:,} of {size:,} bytes)"
            continue
        if hasher.hexdigest() == digest:
            os.replace(part, final)
            return ("resumed" if resumed else "downloaded"), transferred[0]
        part.unlink()
        if have and fresh_tries == 0:  # the partial file from before may be what is wrong: once more from zero
            fresh_tries, last = 1, "checksum mismatch after resuming"
            continue
        raise Damaged(
            f"sha256 {hasher.hexdigest()} is not the release's {digest}: the file is damaged or was tampered with; "
            "it was not kept"
        )
    raise TransferError(f"{last} after {settings.attempts} attempts; the partial file is kept to resume from")


def _append(stream, part: Path, start: int, hasher, transferred: list[int]) -> None:
    """Write the stream into `part` from byte `start`, hashing the kept prefix and what arrives;
    `transferred` counts the bytes received, also when the transfer breaks off."""
    if start:
        _hash_into(part, start, hasher)
    with stream, part.open("r+b" if start else "wb") as handle:
        handle.seek(start)
        handle.truncate()
        while block := stream.read(BLOCK):
            handle.write(block)
            hasher.update(block)
            transferred[0] += len(block)


def _hash_into(path: Path, length: int, hasher) -> None:
    with path.open("rb") as handle:
        remaining = length
        while remaining and (block := handle.read(min(BLOCK, remaining))):
            hasher.update(block)
            remaining -= len(block)


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    _hash_into(path, path.stat().st_size, hasher)
    return hasher.hexdigest()
