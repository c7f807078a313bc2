"""Audio pass-through: play the input again, delayed by the pipeline's latency, so voice and mouth line up.

Viewers of a stream hear the voice and see the avatar; without a delay on the voice, the mouth trails it by the
time the analysis needs. The delay line starts with that much silence and then plays each block as it comes;
if the output falls behind by more than ``max_backlog_s``, the oldest audio is dropped so the delay cannot
creep up.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from .sources import RATE, _sounddevice


class DelayLine:
    """Samples in, the same samples out ``delay`` samples later (silence first)."""

    def __init__(self, delay: int, max_backlog: int) -> None:
        self.buf: collections.deque = collections.deque([np.zeros(delay, np.float32)] if delay else [])
        self.size = delay
        self.max_backlog = max(max_backlog, delay)
        self.lock = threading.Lock()
        self.dropped = 0

    def write(self, block: np.ndarray) -> None:
        with self.lock:
            self.buf.append(np.asarray(block, np.float32))
            self.size += len(block)
            while self.size > self.max_backlog and self.buf:
                old = self.buf.popleft()
                self.size -= len(old)
                self.dropped += len(old)

    def read(self, n: int) -> np.ndarray:
        out = np.zeros(n, np.float32)
        filled = 0
        with self.lock:
            while filled < n and self.buf:
                head = self.buf[0]
                take = min(n - filled, len(head))
                out[filled:filled + take] = head[:take]
                filled += take
                if take == len(head):
                    self.buf.popleft()
                else:
                    self.buf[0] = head[take:]
            self.size -= filled
        return out  # an underrun plays silence


class Passthrough:
    """Play input blocks on an output device, ``delay_s`` late."""

    def __init__(self, delay_s: float, device: str | int | None = None, max_backlog_s: float = 0.5) -> None:
        sd = _sounddevice()
        self.line = DelayLine(round(delay_s * RATE), round(max_backlog_s * RATE))

        def callback(outdata, frames, time_info, status) -> None:
            outdata[:, 0] = self.line.read(frames)

        self.stream = sd.OutputStream(samplerate=RATE, channels=1, dtype="float32", blocksize=160, device=device,
                                      callback=callback)
        self.stream.start()

    def write(self, block: np.ndarray) -> None:
        self.line.write(block)

    def close(self) -> None:
        self.stream.close()
