"""Per-frame features of 16 kHz audio at 100 frames per second (10 ms hop).

Frame ``i`` is centred on sample ``i * HOP`` and sees the 25 ms around it, so
frame times match the rest of the package (frame ``i`` at ``i / 100`` s). The
log-mel front end runs in one pass or chunk by chunk (:class:`MelStream`) with
identical results, which is what the live runtime relies on.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from .audio import SAMPLE_RATE

FPS = 100
HOP = SAMPLE_RATE // FPS
WINDOW = 400  # 25 ms
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 50.0, 7600.0
_BLOCK = 2000  # frames per block: bounds memory on long files


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int = N_MELS, sr: int = SAMPLE_RATE, n_fft: int = N_FFT,
                   fmin: float = FMIN, fmax: float = FMAX) -> np.ndarray:
    """Triangular HTK-scale mel filters, ``float32 [n_mels, n_fft // 2 + 1]``, each of unit area."""
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs - lo) / (mid - lo)
    down = (hi - freqs) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(up, down))
    fb *= 2.0 / (hi - lo)
    return fb.astype(np.float32)


_FILTERS = mel_filterbank()
_WINDOW_FN = np.hanning(WINDOW + 2)[1:-1].astype(np.float32)


def frame_count(n_samples: int) -> int:
    return max(1, -(-n_samples // HOP))


def _frames_to_logmel(frames: np.ndarray) -> np.ndarray:
    z = scipy.fft.rfft(frames * _WINDOW_FN, n=N_FFT, workers=1)  # float32 in, complex64 out: 3x numpy's speed
    power = z.real**2 + z.imag**2
    return np.log(power @ _FILTERS.T + 1e-6).astype(np.float32)


def log_mel(x: np.ndarray) -> np.ndarray:
    """Log-mel features, ``float32 [frames, N_MELS]``, ``frames = ceil(len(x) / HOP)``."""
    x = np.asarray(x, dtype=np.float32)
    n = frame_count(len(x))
    padded = np.concatenate([np.zeros(WINDOW // 2, np.float32), x,
                             np.zeros(n * HOP + WINDOW - len(x), np.float32)])
    out = np.empty((n, N_MELS), dtype=np.float32)
    for a in range(0, n, _BLOCK):
        b = min(n, a + _BLOCK)
        seg = padded[a * HOP:(b - 1) * HOP + WINDOW]
        frames = np.lib.stride_tricks.sliding_window_view(seg, WINDOW)[::HOP][: b - a]
        out[a:b] = _frames_to_logmel(frames)
    return out


class FrameStream:
    """Per-frame analysis of audio that arrives in chunks of any size.

    Frame ``i`` is the ``window`` samples centred on sample ``i * HOP``;
    ``analyse`` turns ``[n, window]`` frames into ``[n, width]`` rows, each
    row from its own frame. ``push(chunk)`` returns the rows of the frames that
    became complete; ``flush()`` the rest, padding the end with silence, up to
    ``ceil(samples / HOP)`` frames in all. Concatenated, they equal one pass over
    the whole signal.
    """

    def __init__(self, analyse, window: int, width: int, dtype=np.float32) -> None:
        self.analyse, self.window, self.width, self.dtype = analyse, window, width, dtype
        self._buf = np.zeros(window // 2, dtype=dtype)  # the silence before sample 0
        self._next = 0  # index of the next frame to emit
        self._seen = 0  # samples received

    def push(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.asarray(chunk, dtype=np.float32).astype(self.dtype, copy=False)
        self._buf = np.concatenate([self._buf, chunk])
        self._seen += len(chunk)
        w = self.window
        return self._emit((len(self._buf) - w) // HOP + 1 if len(self._buf) >= w else 0)

    def flush(self) -> np.ndarray:
        n = frame_count(self._seen) - self._next
        need = (n - 1) * HOP + self.window
        if n > 0:
            self._buf = np.concatenate([self._buf, np.zeros(max(0, need - len(self._buf)), self.dtype)])
        return self._emit(n)

    def _emit(self, n: int) -> np.ndarray:
        if n <= 0:
            return np.zeros((0, self.width), dtype=self.dtype)
        out = []
        for a in range(0, n, _BLOCK):  # in blocks: bounds memory when a whole file comes at once
            b = min(n, a + _BLOCK)
            seg = self._buf[a * HOP:(b - 1) * HOP + self.window]
            out.append(self.analyse(np.lib.stride_tricks.sliding_window_view(seg, self.window)[::HOP]))
        self._buf = self._buf[n * HOP:]
        self._next += n
        return np.concatenate(out)


class MelStream(FrameStream):
    """Log-mel features of audio that arrives in chunks of any size: concatenated, ``push`` and ``flush``
    equal ``log_mel(whole signal)``."""

    def __init__(self) -> None:
        super().__init__(_frames_to_logmel, WINDOW, N_MELS)


def frame_rms_db(x: np.ndarray, hop: int = HOP, window: int = WINDOW) -> np.ndarray:
    """RMS level in dBFS of 25 ms windows every 10 ms; frame ``i`` is centred on sample ``i * hop``."""
    x = np.asarray(x, dtype=np.float32)
    n = max(1, -(-len(x) // hop))
    padded = np.concatenate([np.zeros(window // 2, np.float32), x, np.zeros(window // 2 + hop, np.float32)])
    out = np.empty(n, dtype=np.float32)
    for a in range(0, n, _BLOCK):
        b = min(n, a + _BLOCK)
        frames = np.lib.stride_tricks.sliding_window_view(padded[a * hop:(b - 1) * hop + window], window)[::hop]
        power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / window
        out[a:b] = 10 * np.log10(power[: b - a] + 1e-12)
    return out


def loudness(x: np.ndarray, span_db: float = 24.0) -> np.ndarray:
    """Speech loudness per frame in 0..1, relative to the file's typical speech level.

    0.5 is the :func:`speech_level` of ``x``; each ``span_db / 2`` decibels
    above or below moves it to 1 or 0. Silence is 0.
    """
    db = frame_rms_db(x)
    return relative_loudness(db, speech_level(db), span_db)


def relative_loudness(db: np.ndarray, reference_db: float, span_db: float = 24.0) -> np.ndarray:
    """Frame levels ``db`` as loudness in 0..1: 0.5 at ``reference_db``, 0 and 1 ``span_db / 2`` below and above."""
    return np.clip(0.5 + (db - reference_db) / span_db, 0.0, 1.0).astype(np.float32)


def speech_level(db: np.ndarray) -> float:
    """Typical speech level of frame levels ``db``: the median of the frames within 50 dB of the loudest."""
    voiced = db > db.max() - 50
    return float(np.median(db[voiced])) if voiced.any() else float(db.max())
