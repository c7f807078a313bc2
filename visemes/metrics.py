"""Accuracy of mouth shapes against phone-aligned reference speech.

The project's ruler, used by the tests, the benches, training's epoch choice and
``visemes score``. It measures what ``../shared/eval/score.py`` (the team's
independent ruler) measures, on the same definitions, and ``bench/metrics_agree.py``
checks that both print the same totals on the validation set.

All metrics run at 100 frames per second. A reference phone is mapped to one of
the 15 visemes through :mod:`visemes.phones`; frames whose phone has no fixed lip
shape (/h/, a glottal stop) or that no segment covers are left out.

``acc15``
    frame accuracy on the 15 visemes (only when the prediction uses them).
``acc6``
    frame accuracy on the 6 mouth classes (rest, closed, labiodental, rounded, open, other).
``acc6_tol``
    as ``acc6``, but a frame counts when the predicted class appears within 30 ms.
``close_f1``
    F1 of lip closures: a reference p/b/m run is found when a predicted closed run
    overlaps it within 40 ms, and a predicted closed run is right when it overlaps a
    reference p/b/m run within 40 ms. Totals pool the counts over files.
``speech``
    frame accuracy of the speech/silence decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .errors import file_error
from .fileio import read_input
from .phones import MOUTH_CLASSES, VISEME_CLASS, VISEME_INDEX, VISEMES, phone_to_viseme
from .timing import read_timing

FPS = 100
TOLERANCE = 3  # frames either side for acc6_tol (30 ms)
CLOSURE_TOLERANCE = 4  # frames either side for matching closures (40 ms)

# Rhubarb Lip Sync's mouth shapes as mouth classes (its documentation's descriptions of A-H and X).
RHUBARB_CLASS = {"X": "rest", "A": "closed", "B": "other", "C": "open", "D": "open", "E": "rounded",
                 "F": "rounded", "G": "labiodental", "H": "other"}

_CLASS_OF_VISEME = np.array([MOUTH_CLASSES.index(VISEME_CLASS[v]) for v in VISEMES])
_LEFT_OUT = -1  # a frame without a reference lip shape
_REST, _CLOSED = MOUTH_CLASSES.index("rest"), MOUTH_CLASSES.index("closed")


@dataclass(frozen=True)
class Closures:
    """Counts behind the closure F1 of one or more files."""

    reference: int = 0  # p/b/m runs in the reference
    found: int = 0  # of those, overlapped by a predicted closure
    predicted: int = 0  # closed runs in the prediction
    right: int = 0  # of those, overlapping a reference p/b/m

    def __add__(self, other: Closures) -> Closures:
        return Closures(self.reference + other.reference, self.found + other.found,
                        self.predicted + other.predicted, self.right + other.right)

    @property
    def f1(self) -> float | None:
        """Pooled F1, or None when neither side closes the lips."""
        if self.reference == 0 and self.predicted == 0:
            return None
        recall = self.found / self.reference if self.reference else 1.0
        precision = self.right / self.predicted if self.predicted else 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(frozen=True)
class Score:
    """One file's accuracy. ``frames`` counts the frames that take part."""

    name: str
    frames: int
    acc15: float | None
    acc6: float
    acc6_tol: float
    speech: float
    closures: Closures
    unknown: tuple[str, ...] = ()

    @property
    def close_f1(self) -> float | None:
        return self.closures.f1


def frames_of(segments: Iterable[tuple[float, float, int]], n: int) -> np.ndarray:
    """Per-frame codes from ``(start, end, code)`` rows; frames no row covers get -1.

    A row covers frames ``round(start * 100)`` up to, not including, ``round(end * 100)``;
    later rows win where rows overlap.
    """
    out = np.full(n, _LEFT_OUT, dtype=np.int64)
    for start, end, code in segments:
        a, b = max(int(np.rint(start * FPS)), 0), min(int(np.rint(end * FPS)), n)
        out[a:b] = code
    return out


def runs(mask: np.ndarray) -> np.ndarray:
    """``(start, stop)`` frame pairs of the True runs in ``mask``, shape (runs, 2)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def matched(these: np.ndarray, those: np.ndarray, tol: int) -> int:
    """How many runs in ``these`` overlap some run in ``those`` once both are widened by ``tol`` frames."""
    if len(these) == 0 or len(those) == 0:
        return 0
    hit = (those[None, :, 0] - tol < these[:, None, 1]) & (these[:, None, 0] < those[None, :, 1] + tol)
    return int(hit.any(axis=1).sum())


def score_frames(ref15: np.ndarray, pred15: np.ndarray | None, pred6: np.ndarray, name: str = "") -> Score:
    """Score per-frame predictions against per-frame reference visemes.

    Parameters
    ----------
    ref15 : ndarray of int, shape (n,)
        Reference viseme index per frame (``VISEMES`` order), -1 where left out.
    pred15 : ndarray of int, shape (n,), optional
        Predicted viseme index per frame, -1 where nothing was predicted; None for
        predictions in mouth classes only (Rhubarb shapes).
    pred6 : ndarray of int, shape (n,)
        Predicted mouth class per frame (``MOUTH_CLASSES`` order); unpredicted frames are rest.
    """
    keep = ref15 >= 0
    ref6 = np.where(keep, _CLASS_OF_VISEME[np.maximum(ref15, 0)], _LEFT_OUT)
    k = int(keep.sum())
    acc15 = float(np.mean(pred15[keep] == ref15[keep])) if pred15 is not None else None
    near = np.zeros((len(MOUTH_CLASSES), len(pred6)), bool)  # class c predicted within the tolerance
    for shift in range(-TOLERANCE, TOLERANCE + 1):
        lo, hi = max(0, -shift), len(pred6) - max(0, shift)
        near[pred6[lo + shift:hi + shift], np.arange(lo, hi)] = True
    idx = np.flatnonzero(keep)
    tol_hits = int(near[ref6[idx], idx].sum())
    ref_closed, pred_closed = runs(ref15 == VISEME_INDEX["PP"]), runs(pred6 == _CLOSED)
    closures = Closures(len(ref_closed), matched(ref_closed, pred_closed, CLOSURE_TOLERANCE),
                        len(pred_closed), matched(pred_closed, ref_closed, CLOSURE_TOLERANCE))
    speech_ref = ref15 != VISEME_INDEX["sil"]
    speech_pred = pred6 != _REST
    return Score(name, k, acc15, float(np.mean(pred6[keep] == ref6[keep])), tol_hits / max(k, 1),
                 float(np.mean(speech_ref[keep] == speech_pred[keep])), closures)


def reference_frames(path: str | Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """Reference viseme per frame of any timing file :func:`visemes.timing.read_timing` reads.

    Returns the viseme indices (-1 where left out) and the phones no table knows (left out too).
    """
    track = read_timing(path)
    unknown: set[str] = set()
    rows = []
    for seg in track.segments:
        if track.kind == "phones":
            try:
                viseme = phone_to_viseme(seg.label, track.phone_set)
            except KeyError:
                unknown.add(seg.label)
                viseme = None
        else:
            viseme = seg.label if seg.label in VISEME_INDEX else None
        rows.append((seg.start, seg.end, _LEFT_OUT if viseme is None else VISEME_INDEX[viseme]))
    n = int(np.rint(track.duration * FPS))
    return frames_of(rows, n), tuple(sorted(unknown))


def read_prediction(path: str | Path) -> list[tuple[float, float, str]]:
    """Predicted segments from ``start end label [...]`` rows or Rhubarb-style ``time label`` change points.

    Change points hold until the next one; the last holds for one frame.
    """
    path = Path(path)
    rows: list[tuple[float, float | None, str]] = []
    for number, line in enumerate(read_input(path, "prediction").decode("utf-8", "replace").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        try:  # segments may carry more columns (a confidence): the label is the third
            row = (float(parts[0]), float(parts[1]), parts[2]) if len(parts) >= 3 else \
                (float(parts[0]), None, parts[1])
        except (ValueError, IndexError):
            raise file_error(path, f"line {number} is not 'start end label' or 'time label'") from None
        rows.append((row[0], row[1], row[2].strip()))
    if not rows:
        raise file_error(path, "no predictions in the file")
    return [(s, e if e is not None else (rows[i + 1][0] if i + 1 < len(rows) else s + 1 / FPS), label)
            for i, (s, e, label) in enumerate(rows)]


def prediction_frames(segments: Sequence[tuple[float, float, str]], n: int, name: str = ""
                      ) -> tuple[np.ndarray | None, np.ndarray]:
    """Per-frame visemes (None for Rhubarb shapes) and mouth classes of predicted segments."""
    labels = {label for _, _, label in segments}
    if labels <= set(VISEMES):
        v15 = frames_of(((s, e, VISEME_INDEX[lab]) for s, e, lab in segments), n)
        return v15, np.where(v15 >= 0, _CLASS_OF_VISEME[np.maximum(v15, 0)], _REST)
    if labels <= set(RHUBARB_CLASS):
        codes = frames_of(((s, e, MOUTH_CLASSES.index(RHUBARB_CLASS[lab])) for s, e, lab in segments), n)
        return None, np.where(codes >= 0, codes, _REST)
    odd = sorted(labels - set(VISEMES) - set(RHUBARB_CLASS))
    raise file_error(Path(name), f"labels {' '.join(odd[:5])} are neither Oculus visemes nor Rhubarb shapes")


def score_segments(reference: str | Path, segments: Sequence[tuple[float, float, str]], name: str = "") -> Score:
    """Score predicted ``(start, end, label)`` segments (visemes or Rhubarb shapes) against a reference file."""
    ref15, unknown = reference_frames(reference)
    return replace(score_against(ref15, segments, name or str(reference)), name=Path(reference).stem,
                   unknown=unknown)


def score_against(ref15: np.ndarray, segments: Sequence[tuple[float, float, str]], name: str = "") -> Score:
    """Score predicted segments against reference frames from :func:`reference_frames`: read a reference once,
    score it often (each epoch of training, each decoder setting of a sweep)."""
    pred15, pred6 = prediction_frames(segments, len(ref15), name)
    return score_frames(ref15, pred15, pred6, name)


def score_files(reference: str | Path, prediction: str | Path) -> Score:
    """Score a prediction file against a reference alignment (see the module notes)."""
    return score_segments(reference, read_prediction(prediction), str(prediction))


def total(scores: Sequence[Score]) -> dict[str, float | None]:
    """Frame-weighted means over files, closure F1 pooled; acc15 only when every file has it."""
    w = np.array([s.frames for s in scores], dtype=float)

    def mean(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else float(np.sum(w * values) / w.sum())

    closures = sum((s.closures for s in scores), Closures())
    return {"acc15": mean([s.acc15 for s in scores]), "acc6": mean([s.acc6 for s in scores]),
            "acc6_tol": mean([s.acc6_tol for s in scores]), "close_f1": closures.f1,
            "speech": mean([s.speech for s in scores])}


def report(scores: Sequence[Score]) -> str:
    """A row per file and a TOTAL line, laid out as ``score.py`` prints them."""
    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = ["file\tframes\tacc15\tacc6\tacc6_tol\tclose_f1\tspeech"]
    lines += [f"{s.name}\t{s.frames}\t{cell(s.acc15)}\t{s.acc6:.3f}\t{s.acc6_tol:.3f}\t{cell(s.close_f1)}"
              f"\t{s.speech:.3f}" for s in scores]
    parts = " ".join(f"{k}={v:.3f}" for k, v in total(scores).items() if v is not None)
    frames = sum(s.frames for s in scores)
    lines.append(f"TOTAL files={len(scores)} frames={frames} {parts}")
    return "\n".join(lines)
