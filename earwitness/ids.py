"""YouTube ids and clip keys, the one definition every stage checks against."""

import re

import numpy as np

YTID_LENGTH = 11
YTID_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
YTID_PATTERN = rf"^[A-Za-z0-9_-]{{{YTID_LENGTH}}}$"
YTID = re.compile(YTID_PATTERN)
YTID_BYTES = np.zeros(256, dtype=bool)  # a lookup table for checking ids byte by byte in numpy
YTID_BYTES[np.frombuffer(YTID_CHARS, dtype=np.uint8)] = True


def clip_key(ytid: str, start_ms: int) -> str:
    """`{ytid}_{start_ms}`: integer milliseconds, so a key never holds a dot (WebDataset splits on it)."""
    return f"{ytid}_{start_ms}"
