"""Decoding: class posteriors -> visemes without flicker, and forced alignment to a phone sequence."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from visemes.decoding import MIN_FRAMES, align, viseme_posteriors, viterbi_segments
from visemes.inventory import CLASS_INDEX, CLASSES
from visemes.phones import VISEMES
from visemes.tracks import Posteriors


def onehot_runs(runs: list[tuple[str, int]], floor: float = 0.01) -> np.ndarray:
    rows = []
    for v, n in runs:
        p = np.full(15, floor)
        p[VISEMES.index(v)] = 1.0
        rows += [p / p.sum()] * n
    return np.array(rows, dtype=np.float32)


def test_clear_evidence_is_followed_exactly():
    probs = onehot_runs([("sil", 10), ("PP", 3), ("aa", 12), ("FF", 4), ("sil", 10)])
    track = viterbi_segments(Posteriors(probs))
    assert [(round(s.start, 2), round(s.end, 2), s.label) for s in track.segments] == [
        (0, 0.1, "sil"), (0.1, 0.13, "PP"), (0.13, 0.25, "aa"), (0.25, 0.29, "FF"), (0.29, 0.39, "sil")]
    assert all(s.confidence > 0.8 for s in track.segments)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.integers(5, 400))
def test_segments_are_contiguous_and_never_shorter_than_their_minimum(seed, n):
    probs = np.random.default_rng(seed).dirichlet(np.full(15, 0.3), size=n).astype(np.float32)
    segs = viterbi_segments(Posteriors(probs)).segments
    assert segs[0].start == 0 and abs(segs[-1].end - n / 100) < 1e-9
    assert all(abs(a.end - b.start) < 1e-9 and a.label != b.label for a, b in itertools.pairwise(segs))
    inner = segs[1:-1] if len(segs) > 2 else []
    assert all(round(s.duration * 100) >= MIN_FRAMES.get(s.label, 2) for s in inner)


def test_class_probabilities_fold_onto_visemes_without_h():
    probs = np.zeros((2, len(CLASSES)), dtype=np.float32)
    probs[0, CLASS_INDEX["m"]], probs[0, CLASS_INDEX["b"]], probs[0, CLASS_INDEX["h"]] = 0.4, 0.4, 0.2
    probs[1, CLASS_INDEX["u"]], probs[1, CLASS_INDEX["w"]] = 0.5, 0.5
    v = viseme_posteriors(probs)
    assert v.probs[0, VISEMES.index("PP")] == np.float32(1.0)
    assert v.probs[1, VISEMES.index("ou")] == np.float32(1.0)


def test_forced_alignment_follows_the_phone_order_and_skips_unused_pauses():
    logp = np.log(np.full((30, len(CLASSES)), 1e-3))
    for a, b, c in ((0, 5, "sil"), (5, 9, "m"), (9, 20, "a"), (20, 30, "sil")):
        logp[a:b, CLASS_INDEX[c]] = 0.0
    states = [CLASS_INDEX[c] for c in ("sil", "m", "a", "sil", "p", "sil")]
    optional = [True, False, False, True, False, True]
    path = align(logp, states, optional)
    assert np.all(np.diff(path) >= 0), "monotonic"
    assert path[0] == 0 and path[7] == 1 and path[15] == 2
    assert 4 in path, "every non-optional phone gets at least one frame"


def test_forced_alignment_gives_every_phone_at_least_the_minimum_duration():
    logp = np.log(np.full((40, len(CLASSES)), 1e-3))
    for a, b, c in ((0, 10, "sil"), (10, 11, "p"), (11, 30, "a"), (30, 40, "sil")):
        logp[a:b, CLASS_INDEX[c]] = 0.0
    states = [CLASS_INDEX[c] for c in ("sil", "p", "a", "sil")]
    path = align(logp, states, [True, False, False, True], min_frames=3)
    assert np.sum(path == 1) == 3 and path[10] == 1, "a one-frame burst is held for 30 ms"
    assert 8 <= np.sum(path == 0) <= 10 and 17 <= np.sum(path == 2) <= 19, "borrowed from its neighbours"


def test_forced_alignment_shortens_phones_when_the_audio_is_too_short_for_the_minimum():
    logp = np.log(np.full((5, len(CLASSES)), 0.5))
    states = [CLASS_INDEX[c] for c in ("sil", "m", "a", "p", "sil")]
    path = align(logp, states, [True, False, False, False, True], min_frames=3)
    assert set(path.tolist()) >= {1, 2, 3} and np.all(np.diff(path) >= 0)
