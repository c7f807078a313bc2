"""Per-frame features of 16 kHz audio at 100 frames per second (10 ms hop)."""

from __future__ import annotations

import numpy as np

from .audio import SAMPLE_RATE

FPS = 100
HOP = SAMPLE_RATE // FPS
WINDOW = 400  # 25 ms


def frame_rms_db(x: np.ndarray, hop: int = HOP, window: int = WINDOW) -> np.ndarray:
    """RMS level in dBFS of 25 ms windows every 10 ms; frame ``i`` is centred on sample ``i * hop``."""
    n = max(1, int(np.ceil(len(x) / hop)))
    padded = np.pad(np.asarray(x, dtype=np.float64), (window // 2, window // 2 + n * hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, window)[::hop][:n]
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
    return (20 * np.log10(rms)).astype(np.float32)


def loudness(x: np.ndarray, span_db: float = 24.0) -> np.ndarray:
    """Speech loudness per frame in 0..1, relative to the file's typical speech level.

    0.5 is the median level of the frames that hold sound (within 50 dB of the
    loudest); each ``span_db / 2`` decibels above or below moves it to 1 or 0.
    Silence is 0.
    """
    db = frame_rms_db(x)
    voiced = db > db.max() - 50
    ref = float(np.median(db[voiced])) if voiced.any() else float(db.max())
    return np.clip(0.5 + (db - ref) / span_db, 0.0, 1.0).astype(np.float32)
