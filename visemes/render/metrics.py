"""Offline measures of rendered mouths (no downloaded networks): reconstruction, sync with the curves, flicker."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from visemes.phones import MOUTH_SHAPES, VISEMES

OPEN = np.array([MOUTH_SHAPES[v][0] for v in VISEMES], dtype=np.float32)  # how open each viseme is


def psnr(a: np.ndarray, b: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio (dB) of images in 0..1, optionally weighted per pixel ``[..., H, W]``."""
    err = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    if weight is not None:
        w = np.broadcast_to(np.asarray(weight, np.float64)[..., None], err.shape)
        mse = float((err * w).sum() / max(w.sum(), 1e-9))
    else:
        mse = float(err.mean())
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


def ssim(a: np.ndarray, b: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean structural similarity of the luma of ``[N, H, W, 3]`` images (Gaussian window, sigma 1.5)."""
    def luma(x):
        return np.asarray(x, np.float64) @ np.array([0.299, 0.587, 0.114])

    x, y = luma(a), luma(b)
    blur = (lambda z: gaussian_filter(z, sigma=(0, 1.5, 1.5))) if x.ndim == 3 else (lambda z: gaussian_filter(z, 1.5))
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    if weight is None:
        return float(s.mean())
    w = np.broadcast_to(weight, s.shape)
    return float((s * w).sum() / max(w.sum(), 1e-9))


def opening(crops: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """How open each mouth is: the share of dark pixels (the shadowed inside of the mouth) in the middle of the
    mouth ellipse."""
    inner = mask > 0.5
    dark = (np.asarray(crops) @ np.array([0.299, 0.587, 0.114])) < 0.3
    return dark[:, inner].mean(axis=1)


def driving_opening(curves: np.ndarray) -> np.ndarray:
    """How open the curves (the 15 visemes) ask the mouth to be."""
    return np.asarray(curves, np.float32) @ OPEN


def sync(measured: np.ndarray, driving: np.ndarray, max_lag: int = 5) -> tuple[float, int]:
    """Correlation of the measured opening with the driving one, and the lag (frames) where it peaks."""
    def corr(lag: int) -> float:
        a = measured[max(0, lag):len(measured) + min(0, lag)]
        b = driving[max(0, -lag):len(driving) - max(0, lag)]
        return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else 0.0

    best = max(range(-max_lag, max_lag + 1), key=corr)
    return corr(0), best


def flicker(frames: np.ndarray, still: np.ndarray) -> float:
    """Mean absolute change between consecutive frames where ``still`` (weights ``[H, W]``) says nothing
    should move: the skin around the mouth."""
    d = np.abs(np.diff(np.asarray(frames, np.float64), axis=0)).mean(axis=-1)
    return float((d * still).sum() / max(still.sum() * len(d), 1e-9))
