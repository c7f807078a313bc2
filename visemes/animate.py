"""Visemes -> curves: what makes lip sync look right.

Continuous rigs (blendshapes) get dominance-function coarticulation
(Cohen-Massaro style): every viseme segment exerts a pull on nearby frames
that decays with distance, so fast speech blends instead of flapping; lip
shapes start early (anticipation); lip closures (p/b/m) and lip-teeth contact
(f/v) are then written in as full poses for a guaranteed minimum time, so a
short closure is never blended away; loudness scales the jaw; silence relaxes
to rest through the same decay.

Discrete rigs (2D mouth sets such as Rhubarb's) get one shape at a time with a
minimum hold and in-between shapes for large jumps.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from visemes.rigs import RigProfile

from .curves import Curves
from .phones import VISEME_INDEX, VISEMES
from .tracks import Segment, Track, merge_repeats

LIP_VISEMES = frozenset({"PP", "FF", "oh", "ou"})
CONTACT_VISEMES = ("PP", "FF")
# How strongly each viseme holds the mouth against its neighbours: lip consonants and
# rounded vowels dominate; tongue consonants let the lips follow the vowels around them.
DOMINANCE = {
    "sil": 0.6, "PP": 1.0, "FF": 1.0, "TH": 0.5, "DD": 0.35, "kk": 0.35, "CH": 0.8, "SS": 0.5,
    "nn": 0.35, "RR": 0.5, "aa": 0.8, "E": 0.7, "ih": 0.7, "oh": 0.9, "ou": 0.9,
}


@dataclass(frozen=True)
class AnimationParams:
    """Timing parameters; the defaults suit speech at natural rates.

    Attributes
    ----------
    fps : float
        Output frame rate of the curves.
    anticipation_s : float
        How early a shape starts before its sound.
    lip_anticipation_s : float
        The same for lip consonants and rounded vowels, which move earlier.
    coarticulation_s : float
        Decay time of a viseme's pull on its neighbours (larger = smoother).
    closure_min_s : float
        Shortest time a p/b/m closure or f/v contact is held at full pose.
    jaw_gain : float
        How much loudness scales the jaw channels: 0 = not at all, 0.4 = +-40 %.
    min_hold_s : float
        Discrete rigs: shortest time a shape is shown.
    tween_s : float
        Discrete rigs: length of an in-between shape.
    """

    fps: float = 60.0
    anticipation_s: float = 0.03
    lip_anticipation_s: float = 0.06
    coarticulation_s: float = 0.03
    closure_min_s: float = 0.067
    jaw_gain: float = 0.4
    min_hold_s: float = 0.04
    tween_s: float = 0.04

    @classmethod
    def for_rig(cls, rig: RigProfile, **overrides: float) -> AnimationParams:
        """Defaults, then the rig profile's ``timing``, then explicit ``overrides`` (None = unset)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in rig.timing.items() if k in names}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def animate(track: Track, rig: RigProfile, params: AnimationParams | None = None,
            loudness: np.ndarray | None = None, loudness_fps: float = 100.0) -> tuple[Curves, Track | None]:
    """Turn a viseme track into curves for ``rig``.

    Parameters
    ----------
    track : Track
        Viseme track (contiguous from 0).
    rig : RigProfile
    params : AnimationParams, optional
        Defaults from :meth:`AnimationParams.for_rig`.
    loudness : ndarray, optional
        Per-frame loudness in 0..1 at ``loudness_fps``; 0.5 everywhere when absent.

    Returns
    -------
    curves : Curves
        ``float32 [frames, channels]`` in 0..1 at ``params.fps``.
    cues : Track or None
        For discrete rigs, the shape sequence (``kind="shapes"``).
    """
    params = params or AnimationParams.for_rig(rig)
    if rig.discrete:
        cues = discrete_cues(track, rig, params)
        return shape_curves(cues, rig, params.fps), cues
    return continuous_curves(track, rig, params, loudness, loudness_fps), None


def frame_count(duration: float, fps: float) -> int:
    return max(1, int(np.ceil(duration * fps - 1e-9)))


def _anticipated(track: Track, params: AnimationParams) -> list[tuple[float, float, str]]:
    """Segments shifted earlier by their anticipation, kept in order and non-empty."""
    segs = merge_repeats(track.segments)
    starts = []
    for i, s in enumerate(segs):
        lead = 0.0 if s.label == "sil" or i == 0 else (
            params.lip_anticipation_s if s.label in LIP_VISEMES else params.anticipation_s)
        # never start before the previous segment's own (shifted) start
        floor = starts[-1] + 0.25 * (s.start - segs[i - 1].start) if starts else 0.0
        starts.append(max(s.start - lead, floor))
    ends = [*starts[1:], segs[-1].end] if segs else []
    return [(a, b, s.label) for a, b, s in zip(starts, ends, segs, strict=True)]


def viseme_weights(track: Track, params: AnimationParams, first: int = 0) -> np.ndarray:
    """Per-frame blend of the 15 visemes, ``float32 [frames, 15]``, rows summing to 1.

    ``first`` skips the frames before it (a live window that only needs its newest frames).
    """
    fps, tau = params.fps, max(params.coarticulation_s, 1e-3)
    n = frame_count(track.duration, fps)
    t = np.arange(min(first, n), n) / fps
    acc = np.zeros((len(t), len(VISEMES)), dtype=np.float32)  # float32: an hour at 60 fps stays small
    reach = 6 * tau
    for a, b, v in _anticipated(track, params):
        lo, hi = np.searchsorted(t, a - reach), np.searchsorted(t, b + reach)
        tt = t[lo:hi]
        dist = np.maximum(0.0, np.maximum(a - tt, tt - b))
        acc[lo:hi, VISEME_INDEX[v]] += DOMINANCE[v] * np.exp(-dist / tau)
    total = acc.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0  # no segment in reach: rest
    acc[empty, 0] = 1.0
    total[empty] = 1.0
    w = acc / total
    for lo, hi, v in contact_windows(track, params):
        if hi > first:
            w[max(lo - first, 0):hi - first] = 0.0
            w[max(lo - first, 0):hi - first, VISEME_INDEX[v]] = 1.0
    return w


def contact_windows(track: Track, params: AnimationParams) -> list[tuple[int, int, str]]:
    """Frame ranges ``[first, last)`` where each p/b/m and f/v is held at full pose.

    Each window runs from ``anticipation_s`` before the segment's sound (the lips
    meet just before it; the longer lip anticipation only pulls them towards each
    other, through the blend) to its own end, the release (the next sound's
    anticipation does not cut into a closure: lips part when the stop is released,
    not before), and lasts at least
    ``closure_min_s`` (one frame at the very least); windows are laid out in
    time order and pushed later rather than overlapped, so none is lost.
    """
    fps = params.fps
    n = frame_count(track.duration, fps)
    need = max(1, round(params.closure_min_s * fps))
    out: list[tuple[int, int, str]] = []
    for (a, _, v), seg in zip(_anticipated(track, params), merge_repeats(track.segments), strict=True):
        if v not in CONTACT_VISEMES:
            continue
        a, b = max(a, seg.start - params.anticipation_s), seg.end
        first, last = int(np.ceil(a * fps - 1e-9)), int(np.ceil(b * fps - 1e-9))
        if last - first < need:
            mid = 0.5 * (a + b) * fps
            first = round(mid - need / 2)
            last = first + need
        if out and first < out[-1][1]:
            first = out[-1][1]
            last = max(last, first + need)
        last = min(last, n)
        first = min(first, last - need) if last - need >= 0 else 0
        if out and first < out[-1][1]:  # no room left at the very end: share the tail
            first = out[-1][1]
        if last > first:
            out.append((first, last, v))
    return out


def continuous_curves(track: Track, rig: RigProfile, params: AnimationParams,
                      loudness: np.ndarray | None = None, loudness_fps: float = 100.0) -> Curves:
    """Curves for a continuous rig: blended poses, jaw scaled by loudness, clipped to 0..1."""
    w = viseme_weights(track, params)
    loud = None
    if loudness is not None:
        src_t = np.arange(len(loudness)) / loudness_fps
        loud = np.interp(np.arange(len(w)) / params.fps, src_t, np.asarray(loudness, dtype=np.float64))
    return Curves(params.fps, list(rig.channels), pose(w, rig, params, loud))


def pose(w: np.ndarray, rig: RigProfile, params: AnimationParams, loudness: np.ndarray | None = None) -> np.ndarray:
    """Rig weights ``float32 [frames, channels]`` in 0..1 for viseme blends ``w``; ``loudness`` (0..1 per row)
    opens or closes the rig's jaw channels by up to ``params.jaw_gain``."""
    values = w @ rig.pose_matrix()
    if loudness is not None and rig.loudness_channels and params.jaw_gain > 0:
        gain = 1.0 + params.jaw_gain * (2.0 * np.clip(loudness, 0, 1) - 1.0)
        cols = [rig.channels.index(c) for c in rig.loudness_channels]
        values[:, cols] *= gain[:, None]
    return np.clip(values, 0.0, 1.0).astype(np.float32)


# ---- discrete rigs -------------------------------------------------------------------------


def discrete_cues(track: Track, rig: RigProfile, params: AnimationParams) -> Track:
    """The shape sequence for a discrete rig: mapped, held long enough, with in-betweens."""
    lead = params.anticipation_s
    cues = [Segment(max(0.0, s.start - (lead if i else 0.0)), s.end, rig.shapes[s.label], s.confidence)
            for i, s in enumerate(track.segments)]
    cues = [Segment(c.start, cues[i + 1].start if i + 1 < len(cues) else c.end, c.label, c.confidence)
            for i, c in enumerate(cues)]
    cues = _hold(merge_repeats(cues), params.min_hold_s, protected={rig.shapes[v] for v in CONTACT_VISEMES})
    return Track(_tween(cues, rig, params), "shapes")


def _hold(cues: list[Segment], min_hold: float, protected: set[str]) -> list[Segment]:
    """Give every shape at least ``min_hold``.

    A short shape first borrows time from neighbours that can spare it, so it
    stays visible near its own time. A protected (contact) shape then takes
    the rest from non-contact neighbours even if they become short; any other
    short shape that cannot borrow is folded into a neighbour.
    """
    cues = list(cues)
    i = 0
    while i < len(cues) and len(cues) > 1:
        c = cues[i]
        if c.duration >= min_hold - 1e-9:
            i += 1
            continue
        grown = _grow(cues, i, min_hold, protected if c.label in protected else None)
        if grown is not None:
            cues = grown
            i = max(0, i - 1)  # a neighbour may now be short
            continue
        if c.label in protected:
            i += 1
            continue
        # fold into the longer neighbour, a non-contact one if there is one
        nb = [j for j in (i - 1, i + 1) if 0 <= j < len(cues)]
        j = max(nb, key=lambda k: (cues[k].label not in protected, cues[k].duration))
        a, b = min(i, j), max(i, j)
        keep = cues[j]
        cues[a:b + 1] = [Segment(cues[a].start, cues[b].end, keep.label, keep.confidence)]
        cues = merge_repeats(cues)
        i = max(0, a - 1)
    return cues


def _grow(cues: list[Segment], i: int, min_hold: float, protected: set[str] | None = None) -> list[Segment] | None:
    """Lengthen cue ``i`` towards ``min_hold`` by borrowing from its neighbours.

    Neighbours give what they have above ``min_hold``. When ``protected`` is
    given (cue ``i`` is a contact shape), non-contact neighbours and the next
    contact give up to all but 1 ms: a run of contacts is pushed later, never
    dropped. None when nothing can be borrowed.
    """
    c = cues[i]
    need = min_hold - c.duration
    nxt = cues[i + 1] if i + 1 < len(cues) else None
    prv = cues[i - 1] if i > 0 else None

    def spare(nb: Segment | None, is_next: bool) -> float:
        if nb is None:
            return 0.0
        if protected is not None and (nb.label not in protected or is_next):
            return max(0.0, nb.duration - 0.001)
        return max(0.0, nb.duration - min_hold)

    take_next = min(need, spare(nxt, True))
    take_prev = min(need - take_next, spare(prv, False))
    if take_next + take_prev <= 1e-9:
        return None
    out = list(cues)
    start, end = c.start - take_prev, c.end + take_next
    out[i] = Segment(start, end, c.label, c.confidence)
    if nxt:
        out[i + 1] = Segment(end, nxt.end, nxt.label, nxt.confidence)
    if prv:
        out[i - 1] = Segment(prv.start, start, prv.label, prv.confidence)
    return out


def _tween(cues: list[Segment], rig: RigProfile, params: AnimationParams) -> list[Segment]:
    """Insert in-between shapes where the rig asks for them and there is time."""
    rules = {(t.before, t.after): t for t in rig.tweens}
    out: list[Segment] = []
    for i, c in enumerate(cues):
        nxt = cues[i + 1] if i + 1 < len(cues) else None
        rule = rules.get((c.label, nxt.label)) if nxt else None
        if rule is None:
            out.append(c)
            continue
        host = c if rule.inside == "before" else nxt
        if host.duration < params.min_hold_s + params.tween_s:
            out.append(c)
            continue
        if rule.inside == "before":
            cut = c.end - params.tween_s
            out += [Segment(c.start, cut, c.label, c.confidence), Segment(cut, c.end, rule.via, c.confidence)]
        else:
            out.append(c)
            cut = nxt.start + params.tween_s
            cues[i + 1] = Segment(cut, nxt.end, nxt.label, nxt.confidence)
            out.append(Segment(nxt.start, cut, rule.via, nxt.confidence))
    return merge_repeats(out)


def shape_curves(cues: Track, rig: RigProfile, fps: float) -> Curves:
    """One-hot curves for a shape sequence: channel = shape, 1 while shown."""
    n = frame_count(cues.duration, fps)
    labels = cues.labels_at(np.arange(n) / fps)
    values = np.zeros((n, len(rig.channels)), dtype=np.float32)
    values[np.arange(n), [rig.channels.index(lab) for lab in labels]] = 1.0
    return Curves(fps, list(rig.channels), values)
