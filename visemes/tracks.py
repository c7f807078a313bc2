"""Timed labels: segment tracks and per-frame probabilities.

A :class:`Track` is a list of :class:`Segment` rows ``(start, end, label,
confidence)`` for phones, visemes or 2D mouth shapes. Times are seconds
(float64). :class:`Posteriors` holds per-frame class probabilities at a fixed
frame rate; frame ``i`` covers ``[i / fps, (i + 1) / fps)``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .phones import VISEMES, phone_to_viseme


class Segment(NamedTuple):
    start: float
    end: float
    label: str
    confidence: float = 1.0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Track:
    """Contiguous timed labels from 0 to ``duration``.

    Attributes
    ----------
    segments : list of Segment
        Sorted, non-overlapping, gap-free rows.
    kind : {"phones", "visemes", "shapes"}
        What the labels are.
    phone_set : str, optional
        For phone tracks: the phone set of the labels.
    """

    segments: list[Segment]
    kind: str = "visemes"
    phone_set: str | None = None

    @property
    def duration(self) -> float:
        return self.segments[-1].end if self.segments else 0.0

    def labels_at(self, times: np.ndarray) -> list[str]:
        """The label of the segment that contains each time (start inclusive)."""
        starts = np.array([s.start for s in self.segments])
        idx = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(starts) - 1)
        return [self.segments[i].label for i in idx]


def make_contiguous(segments: list[Segment], fill: str = "sil", duration: float | None = None) -> list[Segment]:
    """Sort segments, clip overlaps and fill gaps (and the start) with ``fill``.

    Zero-length segments are dropped. ``duration`` extends the end with ``fill``.
    """
    out: list[Segment] = []
    t = 0.0
    for s in sorted(segments, key=lambda s: (s.start, s.end)):
        start = max(s.start, t)
        if s.end <= start:
            continue
        if start > t + 1e-9:
            out.append(Segment(t, start, fill))
        out.append(Segment(start, s.end, s.label, s.confidence))
        t = s.end
    if duration is not None and duration > t + 1e-9:
        out.append(Segment(t, duration, fill))
    return out


def merge_repeats(segments: list[Segment]) -> list[Segment]:
    """Join neighbours with the same label; confidence becomes the duration-weighted mean."""
    out: list[Segment] = []
    for s in segments:
        if out and out[-1].label == s.label and abs(out[-1].end - s.start) < 1e-9:
            prev = out[-1]
            total = s.end - prev.start
            conf = (prev.confidence * prev.duration + s.confidence * s.duration) / total if total > 0 else 1.0
            out[-1] = Segment(prev.start, s.end, s.label, conf)
        else:
            out.append(s)
    return out


def phones_to_visemes(track: Track) -> Track:
    """Map a phone track to a viseme track.

    Phones without a lip shape (``None`` in the tables) take the viseme of the
    segment before them (or after, at the start); neighbours with the same
    viseme are merged.

    Raises
    ------
    KeyError
        For a phone the track's phone set does not know.
    """
    if track.kind == "visemes":
        return track
    mapped = [(s, phone_to_viseme(s.label, track.phone_set or "ipa")) for s in track.segments]
    known = [v for _, v in mapped if v is not None]
    fallback = known[0] if known else "sil"
    out, prev = [], None
    for s, v in mapped:
        v = v if v is not None else (prev or fallback)
        out.append(Segment(s.start, s.end, v, s.confidence))
        prev = v
    return Track(merge_repeats(out), "visemes")


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[first, last)`` index ranges of the stretches where ``mask`` is True."""
    edges = np.flatnonzero(np.diff(np.r_[False, np.asarray(mask, dtype=bool), False].astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def silence_outside(track: Track, active: np.ndarray, fps: float = 100.0) -> Track:
    """``track`` with every stretch where ``active`` (bool per frame at ``fps``) is False turned to ``sil``.

    Frames past the end of ``active`` count as inactive.
    """
    out: list[Segment] = []
    for s in track.segments:
        for a, b in ((a / fps, b / fps) for a, b in runs(active)):
            lo, hi = max(s.start, a), min(s.end, b)
            if hi > lo:
                out.append(Segment(lo, hi, s.label, s.confidence))
    return Track(merge_repeats(make_contiguous(out, duration=track.duration)), track.kind, track.phone_set)


@dataclass
class Posteriors:
    """Per-frame class probabilities, ``float32 [frames, classes]``.

    Attributes
    ----------
    probs : ndarray
        Rows sum to 1.
    classes : list of str
        Column names (phone classes or ``VISEMES``).
    fps : float
        Frames per second (the model runs at 100).
    """

    probs: np.ndarray
    classes: list[str] = field(default_factory=lambda: list(VISEMES))
    fps: float = 100.0

    def __post_init__(self) -> None:
        self.probs = np.asarray(self.probs, dtype=np.float32)
        if self.probs.ndim != 2 or self.probs.shape[1] != len(self.classes):
            raise ValueError(f"probs must be [frames, {len(self.classes)}], got {self.probs.shape}")

    @property
    def duration(self) -> float:
        return len(self.probs) / self.fps

    def best_path(self, kind: str = "visemes") -> Track:
        """Frame-wise argmax as segments; confidence is the mean winning probability."""
        best = self.probs.argmax(axis=1)
        change = np.flatnonzero(np.diff(best)) + 1
        bounds = np.concatenate([[0], change, [len(best)]])
        segs = [
            Segment(a / self.fps, b / self.fps, self.classes[best[a]], float(self.probs[a:b, best[a]].mean()))
            for a, b in itertools.pairwise(bounds)
            if b > a
        ]
        return Track(segs, kind)
