"""The live loop: source -> analyser -> sinks, with a status line and latency bookkeeping."""

from __future__ import annotations

import bisect
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .analyser import LiveAnalyser, LiveFrame


@dataclass
class LiveStats:
    frames: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    dropped: int = 0

    @property
    def median_latency_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


class _Arrivals:
    """When each stretch of media time became available, to date a frame's audio."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.walls: list[float] = []
        self.media = 0.0

    def add(self, samples: int, wall: float) -> None:
        self.media += samples / 16_000
        self.ends.append(self.media)
        self.walls.append(wall)
        if len(self.ends) > 4000:  # keep the last ~40 s
            del self.ends[:2000], self.walls[:2000]

    def wall_of(self, t: float) -> float:
        i = min(bisect.bisect_left(self.ends, t), len(self.ends) - 1)
        return self.walls[i] if self.walls else time.perf_counter()


def run(source: Iterable[tuple[np.ndarray, float]], analyser: LiveAnalyser, sinks: list, duration: float | None = None,
        status: bool = False, passthrough=None) -> LiveStats:
    """Feed ``source`` through ``analyser`` to every sink until the source ends or ``duration`` seconds pass;
    ``passthrough`` (a :class:`~visemes.runtime.passthrough.Passthrough`) also gets every block."""
    stats = LiveStats()
    arrivals = _Arrivals()
    t0, cpu0 = time.perf_counter(), time.process_time()
    shown = 0.0

    def deliver(frames: list[LiveFrame], final: bool = False) -> None:
        now = time.perf_counter()
        for f in frames:
            latency = 1000 * (now - arrivals.wall_of(f.time))
            stats.latencies_ms.append(latency)
            for sink in sinks:
                sink.send(f, latency, final=final)
        stats.frames += len(frames)

    for block, available in source:
        arrivals.add(len(block), available)
        if passthrough is not None:
            passthrough.write(block)
        frames = analyser.push(block)
        deliver(frames)
        now = time.perf_counter()
        if status and frames and now - shown > 0.25:
            shown = now
            _status(frames[-1], stats, sinks)
        if duration is not None and now - t0 >= duration:
            break
    deliver(analyser.flush(), final=True)  # the held-back end of the stream: every frame, none dropped
    stats.seconds = time.perf_counter() - t0
    stats.cpu_seconds = time.process_time() - cpu0
    stats.dropped = sum(getattr(s, "dropped", 0) for s in sinks)
    if status:
        sys.stderr.write("\n")
    return stats


def _status(frame: LiveFrame, stats: LiveStats, sinks: list) -> None:
    bars = int(np.clip((frame.level + 60) / 60, 0, 1) * 12)
    recent = stats.latencies_ms[-30:]
    dropped = sum(getattr(s, "dropped", 0) for s in sinks)
    sys.stderr.write(f"\r[{'#' * bars:<12}] {frame.level:6.1f} dB  {frame.viseme:<3}  "
                     f"latency {statistics.median(recent):5.0f} ms  dropped {dropped}   ")
    sys.stderr.flush()
