"""Faces in frames: detection with weights that ship in a package, a steady mouth crop, and paste-back.

Detection uses OpenCV's frontal-face Haar cascade, which ships inside the
``opencv-python-headless`` 4.x wheels (5.x ships none: the extra pins ``<5``).
Per frame the largest face is taken (or the ``face``-th largest); boxes are
smoothed over time so the crop does not shake. The mouth crop is a square on
the lower face; :func:`paste` puts a generated crop back through a feathered
ellipse with the colours matched to the frame around it, so no seam shows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from visemes.errors import VisemesError


class Box(NamedTuple):
    """A square crop in frame pixels: centre and side."""

    cx: float
    cy: float
    size: float


def _cv2():
    try:
        import cv2
    except ImportError:
        raise VisemesError("the renderer needs OpenCV: pip install 'visemes[render]'") from None
    if not hasattr(cv2, "CascadeClassifier"):
        raise VisemesError("this OpenCV has no Haar cascades (5.x wheels dropped them): "
                           "pip install 'opencv-python-headless<5'")
    return cv2


def detector():
    cv2 = _cv2()
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise VisemesError(f"{path}: the face detector's cascade did not load")
    return cascade


def detect(frame: np.ndarray, cascade=None) -> list[tuple[int, int, int, int]]:
    """Faces ``(x, y, w, h)`` in an RGB ``uint8 [H, W, 3]`` frame, largest first."""
    cv2 = _cv2()
    cascade = cascade or detector()
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    side = max(24, min(frame.shape[:2]) // 8)
    faces = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(side, side))
    return sorted((tuple(int(v) for v in f) for f in faces), key=lambda f: -f[2] * f[3])


def mouth_box(face: tuple[int, int, int, int]) -> Box:
    """The square around the mouth of a detected face: centred 0.78 of the way down the face box, 0.6 of its width."""
    x, y, w, h = face
    return Box(x + w / 2, y + 0.78 * h, 0.6 * w)


def track(frames, face: int = 0, every: int = 1, name: str = "video") -> list[Box]:
    """One smoothed mouth box per frame of ``frames`` (RGB arrays).

    Faces are detected every ``every`` frames; frames between, and frames where
    the face is briefly lost, take the nearest detection. ``face`` picks the
    n-th largest face when there are several.

    Raises
    ------
    VisemesError
        When no face is found, or fewer faces than ``face + 1``.
    """
    cascade = detector()
    found: list[Box | None] = []
    most = 0
    for i, frame in enumerate(frames):
        if i % every:
            found.append(None)
            continue
        faces = detect(frame, cascade)
        most = max(most, len(faces))
        found.append(mouth_box(faces[face]) if len(faces) > face else None)
    hits = [i for i, b in enumerate(found) if b is not None]
    if not hits:
        problem = "no face found" if most == 0 else f"only {most} face(s) found; --face {face} asks for more"
        raise VisemesError(f"{name}: {problem}")
    raw = np.array([found[min(hits, key=lambda h: abs(h - i))] for i in range(len(found))], dtype=np.float64)
    return [Box(*row) for row in _smooth(raw, 5)]


def _smooth(rows: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` frames (edges use what they have)."""
    out = np.empty_like(rows)
    half = width // 2
    for i in range(len(rows)):
        out[i] = rows[max(0, i - half):i + half + 1].mean(axis=0)
    return out


def crop(frame: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The box of ``frame`` resized to ``size`` x ``size`` (float32 RGB in 0..1); outside the frame is edge."""
    cv2 = _cv2()
    scale = size / box.size
    m = np.array([[scale, 0, size / 2 - scale * box.cx], [0, scale, size / 2 - scale * box.cy]])
    out = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return out.astype(np.float32) / 255.0


def ellipse_mask(size: int, feather: float = 0.15) -> np.ndarray:
    """``float32 [size, size]``: 1 inside the mouth ellipse, falling smoothly to 0 at the crop's edge."""
    y, x = (np.mgrid[0:size, 0:size] + 0.5) / size - 0.5
    r = np.sqrt((x / 0.42) ** 2 + (y / 0.36) ** 2)
    return np.clip((1.0 - r) / feather, 0.0, 1.0).astype(np.float32)


def input_mask(size: int) -> np.ndarray:
    """``float32 [size, size]``: what the renderer is not shown of the current crop: the mouth ellipse and
    everything below its top (the chin and jaw would give the mouth away, so the curves must decide it)."""
    m = ellipse_mask(size, feather=0.05)
    m[int(size * 0.3):] = 1.0
    return np.maximum(m, ellipse_mask(size))


def match_colours(patch: np.ndarray, target: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """``patch`` with each channel's mean and spread matched to ``target`` over the ``ring`` weights (the
    feathered edge, where the two must meet)."""
    w = ring[..., None] / max(float(ring.sum()), 1e-6)
    mp, mt = (patch * w).sum((0, 1)), (target * w).sum((0, 1))
    sp = np.sqrt(((patch - mp) ** 2 * w).sum((0, 1))) + 1e-4
    st = np.sqrt(((target - mt) ** 2 * w).sum((0, 1))) + 1e-4
    return np.clip((patch - mp) * np.clip(st / sp, 0.5, 2.0) + mt, 0.0, 1.0)


def paste(frame: np.ndarray, patch: np.ndarray, box: Box) -> np.ndarray:
    """``frame`` (RGB uint8) with ``patch`` (float RGB crop of ``box``) blended in through the feathered mouth
    ellipse, its colours matched to the frame along the seam."""
    cv2 = _cv2()
    size = patch.shape[0]
    mask = ellipse_mask(size)
    ring = mask * (1 - mask) * 4  # where the blend happens
    patch = match_colours(patch, crop(frame, box, size), ring)
    scale = box.size / size
    m = np.array([[scale, 0, box.cx - scale * size / 2], [0, scale, box.cy - scale * size / 2]])
    h, w = frame.shape[:2]
    big = cv2.warpAffine(patch, m, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    out = frame.astype(np.float32) / 255.0 * (1 - alpha) + big * alpha
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)
