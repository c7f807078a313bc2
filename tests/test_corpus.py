"""The synthetic training corpus: labels follow the sound, and held sounds stay what they are."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from visemes import corpus
from visemes.corpus import frame_labels, hold_sound
from visemes.espeak import Utterance
from visemes.inventory import CLASS_INDEX, CLASSES, VOWELS
from visemes.tracks import Segment, Track

runs = st.lists(st.tuples(st.sampled_from(["sil", "m", "a", "t", "s", "i"]), st.integers(1, 30)), min_size=1,
                max_size=12)


@settings(max_examples=60, deadline=None)
@given(runs, st.integers(0, 2**32 - 1))
def test_a_held_sound_is_an_m_or_a_vowel_made_longer_in_the_middle(spec, seed):
    labels = np.concatenate([np.full(n, CLASS_INDEX[c], np.int16) for c, n in spec])
    feats = np.random.default_rng(0).normal(size=(len(labels), 8)).astype(np.float32)
    new_feats, new_labels = hold_sound(feats, labels, np.random.default_rng(seed))
    assert len(new_feats) == len(new_labels) >= len(labels)
    extra = len(new_labels) - len(labels)
    if extra == 0:
        return
    assert 10 <= extra <= 60
    changed = np.flatnonzero((new_feats[:len(feats)] != feats).any(axis=1))
    at = changed[0] if len(changed) else len(feats)  # where the held frames go in
    held = new_labels[at]
    assert CLASSES[held] == "m" or CLASSES[held] in VOWELS
    assert (new_labels[at:at + extra] == held).all() and labels[max(0, at - 1)] == held
    np.testing.assert_array_equal(np.delete(new_labels, np.arange(at, at + extra)), labels)
    np.testing.assert_array_equal(np.delete(new_feats, np.arange(at, at + extra), axis=0), feats)

def test_labels_cover_their_frames_and_leave_unknown_phones_out():
    labels = frame_labels([(0.0, 0.1, "sil"), (0.1, 0.25, "m"), (0.25, 0.3, None), (0.3, 0.5, "a")], 50)
    assert [CLASSES[c] if c >= 0 else None for c in labels[[0, 9, 10, 24, 25, 29, 30, 49]]] == [
        "sil", "sil", "m", "m", None, None, "a", "a"]


def test_espeak_labels_are_moved_earlier_by_its_lag(monkeypatch):
    phones = Track([Segment(0.0, 0.005, "sil"), Segment(0.005, 0.1, "m"), Segment(0.1, 0.3, "a")], "phones", "ipa")
    fixed = Utterance(np.zeros(4800, np.int16), 16000, phones, [])
    monkeypatch.setattr(corpus, "synthesize", lambda *args, **kwargs: fixed)
    _, segs = corpus.speak_espeak("ma", "en-us", np.random.default_rng(0))
    assert segs == [(0.0, 0.0, "sil"), (0.0, pytest.approx(0.092), "m"), (pytest.approx(0.092), 0.292, "a")]
