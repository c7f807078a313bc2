"""Training-time degradations of clean synthetic speech, so the model hears what users record.

Each function is array in, array out at 16 kHz; :func:`degrade` draws a random
chain of them. Tempo changes return the factor by which timings stretch.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from .audio import SAMPLE_RATE, resample


def tempo(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times slower (pitch moves with it, as on tape); timings stretch by ``factor``."""
    return resample(x, SAMPLE_RATE, round(SAMPLE_RATE * factor))


def room(x: np.ndarray, rng: np.random.Generator, rt60: float, wet: float) -> np.ndarray:
    """Convolve with a synthetic room response: a direct path and exponentially decaying noise."""
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail[: int(0.003 * SAMPLE_RATE)] = 0.0  # early gap before the first reflections
    ir = np.concatenate([[1.0], wet * tail / (np.sqrt(np.sum(tail**2)) + 1e-9)])
    return scipy.signal.fftconvolve(x, ir)[: len(x)].astype(np.float32)


def coloured_noise(n: int, rng: np.random.Generator, slope: float) -> np.ndarray:
    """Noise whose power falls by ``slope`` (0 white, 1 pink, 2 brown) per octave-ish."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.maximum(np.arange(n // 2 + 1), 1.0)
    noise = np.fft.irfft(spec / f ** (slope / 2), n)
    return (noise / (np.std(noise) + 1e-9)).astype(np.float32)


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    p_sig = np.mean(x**2) + 1e-12
    p_noise = np.mean(noise**2) + 1e-12
    return (x + noise * np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))).astype(np.float32)


def band(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Keep ``low``..``high`` Hz, like a telephone or a cheap microphone."""
    sos = scipy.signal.butter(4, [low, min(high, SAMPLE_RATE / 2 - 100)], btype="band", fs=SAMPLE_RATE,
                              output="sos")
    return scipy.signal.sosfilt(sos, x).astype(np.float32)


def mulaw_8k(x: np.ndarray) -> np.ndarray:
    """A narrow-band codec: 8 kHz, 8-bit mu-law, and back."""
    y = resample(x, SAMPLE_RATE, 8000)
    peak = np.max(np.abs(y)) + 1e-9
    mu = 255.0
    q = np.round(np.sign(y / peak) * np.log1p(mu * np.abs(y / peak)) / np.log1p(mu) * 127) / 127
    y = np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu * peak
    return resample(y.astype(np.float32), 8000, SAMPLE_RATE)[: len(x)]


def degrade(x: np.ndarray, rng: np.random.Generator, babble: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """A random chain of degradations; returns the audio and the tempo factor applied to its timings."""
    factor = 1.0
    if rng.random() < 0.5:
        factor = float(rng.uniform(0.85, 1.2))
        x = tempo(x, factor)
    if rng.random() < 0.5:
        x = room(x, rng, rt60=float(rng.uniform(0.15, 0.9)), wet=float(rng.uniform(0.2, 1.0)))
    if rng.random() < 0.3:
        x = band(x, float(rng.uniform(80, 400)), float(rng.uniform(3000, 7800)))
    if rng.random() < 0.15:
        x = mulaw_8k(x)
    if rng.random() < 0.7:
        if babble is not None and len(babble) >= len(x) and rng.random() < 0.3:
            start = int(rng.integers(0, len(babble) - len(x) + 1))
            noise = babble[start:start + len(x)]
        else:
            noise = coloured_noise(len(x), rng, float(rng.uniform(0, 2)))
        x = add_noise(x, noise, float(rng.uniform(3, 40)))
    peak = np.max(np.abs(x)) + 1e-9
    x = x / peak * 10 ** (rng.uniform(-35, 0) / 20)
    if rng.random() < 0.05:
        x = np.clip(x * 10 ** (rng.uniform(3, 12) / 20), -1, 1)
    return x.astype(np.float32), factor
