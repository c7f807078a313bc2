"""Live audio sources: blocks of 16 kHz mono float32 samples, each with the wall time it became available.

``open_source("file:PATH")`` plays a file at real-time pace (``speed`` > 1 for
faster-than-real-time tests); ``open_source("stdin[:RATE[:CHANNELS]]")`` reads
raw signed 16-bit little-endian PCM from standard input (default 16000 Hz mono)
as it arrives.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from visemes.audio import load_audio
from visemes.errors import VisemesError

RATE = 16_000
BLOCK = 160  # 10 ms: one analysis hop


def file_source(path: str | Path, speed: float = 1.0, block: int = BLOCK) -> Iterator[tuple[np.ndarray, float]]:
    """The file's samples in ``block``-sized pieces, each released when it would have been heard."""
    samples = load_audio(Path(path))
    start = time.perf_counter()
    for i in range(0, len(samples), block):
        due = start + (i + block) / RATE / speed
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        yield samples[i:i + block], due


def stdin_source(rate: int = RATE, channels: int = 1, block: int = BLOCK) -> Iterator[tuple[np.ndarray, float]]:
    """Raw s16le PCM from standard input, resampled to 16 kHz mono, until it closes."""
    from visemes.audio import resample

    stream = sys.stdin.buffer
    frame_bytes = 2 * channels
    want = max(1, round(block * rate / RATE)) * frame_bytes
    pending = b""
    while True:
        chunk = stream.read1(want) if hasattr(stream, "read1") else stream.read(want)
        if not chunk:
            return
        pending += chunk
        usable = len(pending) - len(pending) % frame_bytes
        if not usable:
            continue
        pcm = np.frombuffer(pending[:usable], "<i2").reshape(-1, channels).mean(axis=1) / 32768.0
        pending = pending[usable:]
        out = pcm.astype(np.float32) if rate == RATE else resample(pcm.astype(np.float32), rate, RATE)
        yield out, time.perf_counter()


def open_source(spec: str, speed: float = 1.0) -> Iterator[tuple[np.ndarray, float]]:
    """A source from its command-line form (``file:PATH`` or ``stdin[:RATE[:CHANNELS]]``)."""
    kind, _, rest = spec.partition(":")
    if kind == "file" and rest:
        if not Path(rest).is_file():
            raise VisemesError(f"{rest}: no such file")
        load_audio(Path(rest))  # a bad file fails here, before anything starts
        return file_source(rest, speed)
    if kind == "stdin":
        parts = rest.split(":") if rest else []
        try:
            rate = int(parts[0]) if parts else RATE
            channels = int(parts[1]) if len(parts) > 1 else 1
        except ValueError:
            raise VisemesError(f"bad source {spec!r}: use stdin[:RATE[:CHANNELS]]") from None
        return stdin_source(rate, channels)
    raise VisemesError(f"unknown source {spec!r} (use file:PATH or stdin[:RATE[:CHANNELS]])")
