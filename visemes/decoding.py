"""Posteriors -> timed visemes: class probabilities folded onto the 15 visemes, then smoothed segments.

The model's phone-class probabilities are summed per viseme (``h``, which has
no lip shape, is left out and the rest renormalised). A Viterbi pass over the
15 visemes, each with a minimum duration and a switching penalty, turns frame
probabilities into segments that do not flicker; confidence is the mean
probability of the chosen viseme over its segment.
"""

from __future__ import annotations

import numba
import numpy as np

from .inventory import CLASSES, class_visemes
from .phones import VISEMES
from .tracks import Posteriors, Segment, Track

_FOLD = np.zeros((len(CLASSES), len(VISEMES)), dtype=np.float32)
for _i, _v in enumerate(class_visemes()):
    if _v is not None:
        _FOLD[_i, VISEMES.index(_v)] = 1.0

# shortest segment, in 10 ms frames, per viseme: lips cannot really do less
MIN_FRAMES = {"sil": 3, "PP": 2, "FF": 2}
DEFAULT_MIN_FRAMES = 2
SWITCH_PENALTY = 4.0
PHONE_MIN_FRAMES = 3  # forced alignment: no phone of a transcript is shorter than 30 ms
BIAS: dict[str, float] = {"PP": 0.0}  # log-prior per viseme, set on the validation set (see bench/tune_decoding.py)


def viseme_posteriors(class_probs: np.ndarray, fps: float = 100.0) -> Posteriors:
    """Fold ``[frames, classes]`` class probabilities onto the 15 visemes."""
    v = class_probs @ _FOLD
    v /= np.maximum(v.sum(axis=1, keepdims=True), 1e-9)
    return Posteriors(v, list(VISEMES), fps)


def viterbi_segments(post: Posteriors, switch_penalty: float = SWITCH_PENALTY,
                     bias: dict[str, float] | None = None) -> Track:
    """Best viseme path with minimum durations.

    ``switch_penalty`` (nats per change) trades flicker against missed short
    visemes; ``bias`` adds a log-prior per viseme (defaults: ``BIAS``).
    """
    logp = np.log(np.maximum(post.probs, 1e-8)).astype(np.float64)
    for v, b in (BIAS if bias is None else bias).items():
        logp[:, post.classes.index(v)] += b
    mins = np.array([MIN_FRAMES.get(v, DEFAULT_MIN_FRAMES) for v in post.classes])
    path = _viterbi_min_duration(logp, mins.astype(np.int64), float(switch_penalty))
    return path_to_track(path, post)


def free_phones(class_logp: np.ndarray, switch_penalty: float = SWITCH_PENALTY) -> np.ndarray:
    """Best class per frame of ``[frames, classes]`` log-probabilities, each run at least ``PHONE_MIN_FRAMES``."""
    mins = np.full(class_logp.shape[1], min(PHONE_MIN_FRAMES, len(class_logp)), dtype=np.int64)
    return _viterbi_min_duration(np.ascontiguousarray(class_logp, dtype=np.float64), mins, float(switch_penalty))


def path_to_track(path: np.ndarray, post: Posteriors) -> Track:
    """Runs of one viseme per frame as segments; confidence is the mean probability over the run."""
    starts = np.concatenate([[0], np.flatnonzero(np.diff(path)) + 1])
    ends = np.append(starts[1:], len(path))
    chosen = post.probs[np.arange(len(path)), path]
    conf = np.add.reduceat(chosen, starts) / (ends - starts)
    names = post.classes
    return Track([Segment(a / post.fps, b / post.fps, names[path[a]], float(c))
                  for a, b, c in zip(starts.tolist(), ends.tolist(), conf.tolist(), strict=True)], "visemes")


@numba.njit(cache=True)
def _viterbi_min_duration(logp, mins, penalty):  # pragma: no cover - compiled
    """Viterbi over states (viseme v, frames spent d), d capped at mins[v]-1; returns the viseme per frame."""
    n, k = logp.shape
    width = 0
    for v in range(k):
        width = max(width, mins[v])
    neg = -1e18
    score = np.full((k, width), neg)
    for v in range(k):
        score[v, 0] = logp[0, v]
    back = np.zeros((n, k, width), dtype=np.int16)  # previous state as v * width + d
    new = np.empty((k, width))
    for t in range(1, n):
        new[:, :] = neg
        # the best and second-best visemes that have served their minimum, to enter another from
        b1, b2, a1, a2 = neg, neg, 0, 0
        for u in range(k):
            f = score[u, mins[u] - 1] - penalty
            if f > b1:
                b2, a2, b1, a1 = b1, a1, f, u
            elif f > b2:
                b2, a2 = f, u
        for v in range(k):
            cap = mins[v] - 1
            best, arg = (b2, a2) if v == a1 else (b1, a1)
            new[v, 0], back[t, v, 0] = best, arg * width + mins[arg] - 1
            for d in range(1, cap + 1):
                new[v, d], back[t, v, d] = score[v, d - 1], v * width + d - 1
            if score[v, cap] > new[v, cap]:
                new[v, cap], back[t, v, cap] = score[v, cap], v * width + cap
        for v in range(k):
            for d in range(width):
                score[v, d] = new[v, d] + logp[t, v] if new[v, d] > neg else neg
    best, state = neg, 0
    for v in range(k):
        if score[v, mins[v] - 1] > best:
            best, state = score[v, mins[v] - 1], v * width + mins[v] - 1
    path = np.empty(n, dtype=np.int64)
    for t in range(n - 1, -1, -1):
        path[t] = state // width
        state = back[t, state // width, state % width]
    return path


@numba.njit(cache=True)
def _align_left_to_right(logp, stay, skip):  # pragma: no cover - compiled
    """Best monotonic path through sub-states 0..S-1.

    Each sub-state holds one frame; ``stay[s]`` lets it hold more (the last sub-state of a
    phone); ``skip[s] > 0`` lets sub-state ``s`` be entered from ``s - skip[s]``, jumping over
    an optional pause, and ``skip[s] == s + 1`` lets the path start at ``s``.
    """
    n, s_count = logp.shape
    neg = -1e18
    score = np.full(s_count, neg)
    for s in range(s_count):
        if s == 0 or skip[s] == s + 1:
            score[s] = logp[0, s]
    back = np.zeros((n, s_count), dtype=np.int8)  # sub-states back the path came from: 0, 1 or 2
    new = np.empty(s_count)
    for t in range(1, n):
        for s in range(s_count):
            best, how = (score[s], 0) if stay[s] else (neg, 0)
            if s >= 1 and score[s - 1] > best:
                best, how = score[s - 1], 1
            k = skip[s]
            if 0 < k <= s and score[s - k] > best:
                best, how = score[s - k], k
            new[s] = best + logp[t, s] if best > neg / 2 else neg
            back[t, s] = how
        score[:] = new
    return score, back


def align(class_logp: np.ndarray, states: list[int], optional: list[bool], min_frames: int = PHONE_MIN_FRAMES
          ) -> np.ndarray:
    """Forced alignment: the state index of each frame for a left-to-right sequence of phone classes.

    Parameters
    ----------
    class_logp : ndarray
        ``[frames, classes]`` log-probabilities.
    states : list of int
        Class index of each state, in order.
    optional : list of bool
        States that may be skipped (pauses between words); they may be one frame long.
    min_frames : int
        Shortest a required state (a phone) may be, in frames, where the audio leaves room for it.
    """
    if len(states) > len(class_logp):
        raise ValueError(f"{len(states)} phones cannot fit in {len(class_logp)} frames")
    required = len(states) - sum(optional)
    m = max(1, min(min_frames, (len(class_logp) - sum(optional)) // max(required, 1)))
    lengths = np.array([1 if o else m for o in optional])
    owner = np.repeat(np.arange(len(states)), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    stay = np.zeros(len(owner), dtype=np.bool_)
    stay[first + lengths - 1] = True
    skip = np.zeros(len(owner), dtype=np.int64)
    for i in range(1, len(states)):
        if optional[i - 1]:  # the pause before state i may be left out
            skip[first[i]] = first[i] + 1 if i == 1 else first[i] - first[i - 2] - lengths[i - 2] + 1
    score, back = _align_left_to_right(np.ascontiguousarray(class_logp[:, np.asarray(states)[owner]],
                                                            dtype=np.float64), stay, skip)
    ends = [len(owner) - 1] + ([first[-1] - 1] if optional[-1] and len(states) > 1 else [])
    s = max(ends, key=lambda e: score[e])
    path = np.empty(len(class_logp), dtype=np.int64)
    for t in range(len(class_logp) - 1, -1, -1):
        path[t] = owner[s]
        s -= int(back[t, s])
    return path
