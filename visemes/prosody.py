"""Prosody of 16 kHz speech at 100 frames per second: level, voicing and pitch.

Frame ``i`` is centred on sample ``i * HOP`` and sees the 40 ms around it (long
enough for two periods of a 70 Hz voice). :class:`ProsodyStream` computes the
same frames chunk by chunk as :func:`prosody` does in one pass, so the live
runtime and an offline bake see identical numbers; the expression layer
(:mod:`visemes.expression`) is driven by them.

Pitch is the lag of the highest peak of the window's normalised
autocorrelation (divided by the window's own autocorrelation, as Boersma's
method does) between 70 and 400 Hz; a frame is voiced when that peak is
above ``VOICING`` and the frame is not silent.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.fft

from .audio import SAMPLE_RATE
from .features import FrameStream

WINDOW = 640  # 40 ms
N_FFT = 1024  # >= WINDOW + the longest lag: no circular wrap
F0_MIN, F0_MAX = 70.0, 400.0
LAG_MIN, LAG_MAX = int(SAMPLE_RATE / F0_MAX), int(np.ceil(SAMPLE_RATE / F0_MIN))
VOICING = 0.45
OCTAVE = 0.9  # a submultiple lag within this share of the best peak wins
SILENCE_DB = -60.0

_WINDOW_FN = np.hanning(WINDOW + 2)[1:-1]
_WINDOW_AC = np.fft.irfft(np.abs(np.fft.rfft(_WINDOW_FN, N_FFT)) ** 2)[: LAG_MAX + 2]
_WINDOW_AC /= _WINDOW_AC[0]


class Prosody(NamedTuple):
    """Per-frame prosody, each ``float32 [frames]``.

    Attributes
    ----------
    db : ndarray
        RMS level in dBFS.
    voiced : ndarray
        1.0 where the frame is voiced, else 0.0.
    f0 : ndarray
        Fundamental frequency in Hz where voiced, else 0.
    """

    db: np.ndarray
    voiced: np.ndarray
    f0: np.ndarray


def _analyse(frames: np.ndarray) -> np.ndarray:
    """``float64 [n, WINDOW]`` windows -> ``[n, 3]`` (dB, voiced, f0); each row on its own."""
    frames = frames - frames.mean(axis=1, keepdims=True)
    db = 10 * np.log10(np.einsum("ij,ij->i", frames, frames) / WINDOW + 1e-12)
    spec = scipy.fft.rfft(frames * _WINDOW_FN, n=N_FFT, axis=1, workers=1)
    ac = scipy.fft.irfft(spec.real**2 + spec.imag**2, n=N_FFT, axis=1, workers=1)[:, : LAG_MAX + 2]
    r = ac / np.maximum(ac[:, :1], 1e-20) / _WINDOW_AC
    search = r[:, LAG_MIN:LAG_MAX + 1]
    lag = LAG_MIN + np.argmax(search, axis=1)
    rows = np.arange(len(frames))
    peak = r[rows, lag]
    # octave errors: a periodic signal peaks at every multiple of its period; take the shortest
    # submultiple of the best lag whose peak is nearly as high
    for d in (3, 2):
        near = np.clip(np.round(lag / d).astype(int)[:, None] + np.arange(-2, 3), LAG_MIN, LAG_MAX)
        best = near[rows, np.argmax(r[rows[:, None], near], axis=1)]
        take = (r[rows, best] > OCTAVE * peak) & (lag / d >= LAG_MIN - 2) & (best < lag)
        lag = np.where(take, best, lag)
        peak = r[rows, lag]
    # parabolic interpolation of the peak for sub-sample lags
    a, b = r[rows, lag - 1], r[rows, np.minimum(lag + 1, LAG_MAX + 1)]
    denom = a - 2 * peak + b
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - b) / np.where(denom == 0, 1, denom), 0.0)
    voiced = (peak > VOICING) & (db > SILENCE_DB)
    f0 = np.where(voiced, SAMPLE_RATE / (lag + np.clip(shift, -0.5, 0.5)), 0.0)
    return np.stack([db, voiced.astype(np.float64), f0], axis=1)


def _as_prosody(rows: np.ndarray) -> Prosody:
    rows = rows.astype(np.float32).reshape(-1, 3)
    return Prosody(rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy())


def prosody(x: np.ndarray) -> Prosody:
    """Prosody of a whole signal: ``frames = ceil(len(x) / HOP)``, as :func:`visemes.features.log_mel`."""
    stream = ProsodyStream()
    first = stream.push(x)
    return _as_prosody(np.concatenate([first, stream.flush()]))


class ProsodyStream(FrameStream):
    """:func:`prosody` of audio that arrives in chunks of any size: ``push`` and ``flush`` give ``float64
    [frames, 3]`` rows (dB, voiced, f0) as frames complete."""

    def __init__(self) -> None:
        super().__init__(_analyse, WINDOW, 3, np.float64)
