"""Segment tracks and frame probabilities, the core types between the model and animation."""

import numpy as np
import pytest

from visemes.phones import VISEMES
from visemes.tracks import Posteriors, Segment, Track, make_contiguous, merge_repeats, phones_to_visemes


def test_gaps_are_filled_with_silence_and_overlaps_clipped():
    segs = make_contiguous([Segment(0.2, 0.3, "a"), Segment(0.25, 0.5, "b"), Segment(0.6, 0.7, "c")], duration=1)
    assert [(s.start, s.end, s.label) for s in segs] == [
        (0, 0.2, "sil"), (0.2, 0.3, "a"), (0.3, 0.5, "b"), (0.5, 0.6, "sil"), (0.6, 0.7, "c"), (0.7, 1, "sil")]


def test_repeats_merge_with_duration_weighted_confidence():
    merged = merge_repeats([Segment(0, 0.1, "PP", 1.0), Segment(0.1, 0.4, "PP", 0.6), Segment(0.4, 0.5, "aa")])
    assert merged[0] == Segment(0, 0.4, "PP", pytest.approx(0.7))
    assert len(merged) == 2


def test_phones_without_lip_shape_take_the_previous_viseme():
    t = Track([Segment(0, 0.1, "AA1"), Segment(0.1, 0.2, "HH"), Segment(0.2, 0.3, "M")], "phones", "arpabet")
    v = phones_to_visemes(t)
    assert [(s.start, s.end, s.label) for s in v.segments] == [(0, 0.2, "aa"), (0.2, 0.3, "PP")]


def test_posteriors_best_path_gives_timed_segments_with_confidence():
    probs = np.full((30, 15), 0.01, dtype=np.float32)
    probs[:10, VISEMES.index("sil")] = 0.86
    probs[10:14, VISEMES.index("PP")] = 0.7
    probs[14:, VISEMES.index("aa")] = 0.9
    track = Posteriors(probs).best_path()
    assert [(s.start, s.end, s.label) for s in track.segments] == [(0, 0.1, "sil"), (0.1, 0.14, "PP"),
                                                                   (0.14, 0.3, "aa")]
    assert track.segments[1].confidence == pytest.approx(0.7)
    assert Posteriors(probs).duration == pytest.approx(0.3)


def test_posteriors_refuse_the_wrong_number_of_classes():
    with pytest.raises(ValueError):
        Posteriors(np.zeros((5, 3)))


def test_labels_at_times_follow_the_frame_convention():
    t = Track([Segment(0, 0.1, "sil"), Segment(0.1, 0.2, "PP")])
    assert t.labels_at(np.array([0.0, 0.0999, 0.1, 0.15, 0.2])) == ["sil", "sil", "PP", "PP", "PP"]
