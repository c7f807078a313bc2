"""Animation curves: per-frame channel weights for a rig.

:class:`Curves` holds ``float32 [frames, channels]`` weights in 0..1 sampled at
``fps``; frame ``i`` is the value at ``i / fps``. Curves can be resampled to
any frame rate and reduced to keyframes whose linear interpolation stays within
a stated maximum error of every original sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Curves:
    """Channel weights over time.

    Attributes
    ----------
    fps : float
        Samples per second.
    channels : list of str
        Channel (blendshape) names, one per column.
    values : ndarray
        ``float32 [frames, channels]``, in 0..1.
    """

    fps: float
    channels: list[str]
    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.values.ndim != 2 or self.values.shape[1] != len(self.channels):
            raise ValueError(f"values must be [frames, {len(self.channels)}], got {self.values.shape}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def frames(self) -> int:
        return len(self.values)

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    @property
    def times(self) -> np.ndarray:
        """Sample times in seconds (float64)."""
        return np.arange(self.frames, dtype=np.float64) / self.fps

    def channel(self, name: str) -> np.ndarray:
        return self.values[:, self.channels.index(name)]

    def resample(self, fps: float) -> Curves:
        """The same motion sampled at ``fps`` (linear interpolation, same duration)."""
        n = max(1, round(self.duration * fps))
        t = np.arange(n, dtype=np.float64) / fps
        src = self.times
        out = np.stack([np.interp(t, src, self.values[:, c]) for c in range(len(self.channels))], axis=1)
        return Curves(fps, list(self.channels), out.reshape(n, len(self.channels)))

    def keyframes(self, max_error: float = 0.005) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per channel, ``(times, values)`` keys whose linear interpolation is within ``max_error``.

        Every original sample lies within ``max_error`` of the piecewise-linear
        curve through the keys; the first and last samples are always kept.
        """
        t = self.times
        return [(t[k], self.values[k, c]) for c in range(len(self.channels))
                for k in [reduce_keys(self.values[:, c], max_error)]]


def reduce_keys(y: np.ndarray, max_error: float) -> np.ndarray:
    """Indices of samples to keep so that linear interpolation stays within ``max_error``.

    Splits each span at its worst sample until every span fits (Douglas-Peucker
    with vertical distance), so the bound holds exactly at every sample.
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[[0, n - 1]] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        x = np.arange(a + 1, b)
        line = y[a] + (y[b] - y[a]) * (x - a) / (b - a)
        err = np.abs(y[a + 1:b] - line)
        worst = int(np.argmax(err))
        if err[worst] > max_error:
            m = a + 1 + worst
            keep[m] = True
            stack += [(a, m), (m, b)]
    return np.flatnonzero(keep)


def step_keys(values: np.ndarray) -> np.ndarray:
    """Indices of the frames where ``values`` (``[frames]`` or ``[frames, columns]``) change, plus the first and
    last: held (STEP) keys there reproduce every frame exactly."""
    v = np.asarray(values)
    changed = np.diff(v, axis=0) != 0
    if v.ndim > 1:
        changed = changed.any(axis=1)
    return np.unique(np.r_[0, np.flatnonzero(changed) + 1, len(v) - 1])


def channel_keys(y: np.ndarray, interpolation: str = "LINEAR", max_error: float | None = None) -> np.ndarray:
    """Frames to key for one channel: all of them without ``max_error``; else :func:`reduce_keys` for
    LINEAR playback or :func:`step_keys` for STEP."""
    if max_error is None:
        return np.arange(len(y))
    return reduce_keys(y, max_error) if interpolation == "LINEAR" else step_keys(y)


def shared_keys(values: np.ndarray, max_error: float) -> tuple[np.ndarray, np.ndarray]:
    """Keys shared by all columns of ``values [frames, columns]`` (formats that key every channel at once).

    Returns the kept frame indices and the values there. Each column keeps its own
    :func:`reduce_keys` keys; at the other columns' keys it takes the value of its own
    piecewise-linear curve, so interpolating the result stays within ``max_error``.
    """
    values = np.asarray(values, dtype=np.float64)
    per_column = [reduce_keys(values[:, c], max_error) for c in range(values.shape[1])]
    keep = np.unique(np.concatenate([np.array([0, len(values) - 1]), *per_column]))
    if not per_column:
        return keep, np.zeros((len(keep), 0))
    out = np.stack([np.interp(keep, k, values[k, c]) for c, k in enumerate(per_column)], axis=1)
    return keep, out.reshape(len(keep), values.shape[1])
