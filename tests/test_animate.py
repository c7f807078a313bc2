"""Animation: visemes -> curves that look right, for continuous and 2D rigs."""

import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from visemes.animate import CONTACT_VISEMES, AnimationParams, animate, contact_windows
from visemes.phones import VISEMES
from visemes.rigs import builtin_names, load_rig
from visemes.tracks import Segment, Track, merge_repeats

CONTINUOUS = [n for n in builtin_names() if not load_rig(n).discrete]


def make_track(items: list[tuple[str, float]], lead_in: float = 0.2) -> Track:
    """A viseme track from (label, duration) pairs, with silence before and enough after."""
    segs, t = [Segment(0.0, lead_in, "sil")], lead_in
    for label, dur in items:
        segs.append(Segment(t, t + dur, label))
        t += dur
    tail = 0.3 + 0.1 * sum(lab in CONTACT_VISEMES for lab, _ in items)  # room for every closure to be held
    segs.append(Segment(t, t + tail, "sil"))
    return Track(merge_repeats(segs))


speech = st.lists(st.tuples(st.sampled_from(VISEMES), st.floats(0.005, 0.4)), min_size=1, max_size=25)
fps_values = st.sampled_from([24.0, 30.0, 60.0, 120.0])


@settings(max_examples=150, deadline=None)
@given(speech, st.sampled_from(CONTINUOUS), fps_values)
def test_curves_stay_between_0_and_1(items, rig_name, fps):
    rig = load_rig(rig_name)
    loud = np.random.default_rng(len(items)).random(500)
    curves, _ = animate(make_track(items), rig, AnimationParams(fps=fps), loud)
    assert np.all(np.isfinite(curves.values))
    assert curves.values.min() >= 0.0 and curves.values.max() <= 1.0


@settings(max_examples=150, deadline=None)
@given(speech, st.sampled_from(CONTINUOUS), fps_values)
def test_closures_and_lip_teeth_contacts_are_never_dropped(items, rig_name, fps):
    rig = load_rig(rig_name)
    params = AnimationParams(fps=fps)
    track = make_track(items)
    curves, _ = animate(track, rig, params)
    contacts = [s for s in track.segments if s.label in CONTACT_VISEMES]
    windows = contact_windows(track, params)
    assert [v for _, _, v in windows] == [s.label for s in contacts]
    need = max(1, round(params.closure_min_s * fps))
    poses = rig.pose_matrix()
    for (first, last, v), seg in zip(windows, contacts, strict=True):
        assert last - first >= need, "a contact is held for at least closure_min_s"
        held = curves.values[first:last]
        assert np.allclose(held, poses[VISEMES.index(v)], atol=1e-5), "at full pose"
        assert first / fps <= seg.end + params.closure_min_s + 0.1 * len(contacts)


def test_an_isolated_short_closure_is_held_for_two_frames_at_30_fps():
    track = make_track([("aa", 0.2), ("PP", 0.012), ("aa", 0.2)])
    rig = load_rig("oculus")
    curves, _ = animate(track, rig, AnimationParams(fps=30))
    closed = np.flatnonzero(curves.channel("viseme_PP") > 0.999)
    assert len(closed) >= 2
    assert abs(closed.mean() / 30 - 0.406) < 0.1, "near the sound, anticipated"


@settings(max_examples=50, deadline=None)
@given(speech, st.sampled_from(builtin_names()))
def test_output_is_deterministic(items, rig_name):
    rig = load_rig(rig_name)
    a, cues_a = animate(make_track(items), rig)
    b, cues_b = animate(make_track(items), rig)
    assert a.values.tobytes() == b.values.tobytes()
    assert cues_a == cues_b


def test_lip_shapes_start_before_their_sound():
    track = make_track([("PP", 0.1), ("aa", 0.2)], lead_in=0.5)
    curves, _ = animate(track, load_rig("oculus"), AnimationParams(fps=100))
    pp = curves.channel("viseme_PP")
    assert pp[47] > 0.99, "closed 30 ms before the /p/ sound starts at 0.5 s"
    assert 0.2 < pp[44] < 0.99, "and closing before that"


def test_a_closure_is_held_until_its_release_and_the_vowel_before_it_stays_open():
    """Lips part when a p/b/m ends, not when the next vowel's anticipation begins; and a short vowel before a
    closure is still open in its middle ("name": the E of 0.1 s before the m)."""
    track = make_track([("nn", 0.08), ("E", 0.1), ("PP", 0.06), ("aa", 0.2)], lead_in=0.5)
    curves, _ = animate(track, load_rig("arkit"), AnimationParams(fps=100))
    close, jaw = curves.channel("mouthClose"), curves.channel("jawOpen")
    assert np.all(close[68:74] == close[68]) and close[68] > 0, "the closure pose holds to the release at 0.74 s"
    assert jaw[63] > 0.2, "the vowel's middle (0.63 s) is open"


def test_neighbours_blend_instead_of_flapping():
    track = make_track([("aa", 0.06), ("ih", 0.06), ("aa", 0.06), ("ih", 0.06), ("aa", 0.06)])
    curves, _ = animate(track, load_rig("oculus"), AnimationParams(fps=60))
    aa = curves.channel("viseme_aa")
    assert np.max(np.abs(np.diff(aa))) < 0.5
    assert 0.05 < aa[int(0.35 * 60)] < 0.95, "between two vowels the mouth is in between"


def test_silence_relaxes_smoothly_to_rest():
    track = make_track([("aa", 0.3)])
    curves, _ = animate(track, load_rig("arkit"), AnimationParams(fps=60))
    jaw = curves.channel("jawOpen")
    after = jaw[int(0.5 * 60):]
    assert np.all(np.diff(after) <= 1e-6), "never reopens"
    assert np.max(np.abs(np.diff(jaw))) < 0.25, "no jumps"
    assert after[-1] < 0.01, "ends at rest"


def test_jaw_opens_wider_when_louder():
    track = make_track([("aa", 0.4)])
    rig = load_rig("arkit")
    quiet, _ = animate(track, rig, loudness=np.full(200, 0.1))
    loud, _ = animate(track, rig, loudness=np.full(200, 0.9))
    mid = int(0.4 * 60)
    assert loud.channel("jawOpen")[mid] > quiet.channel("jawOpen")[mid] * 1.3
    assert np.allclose(loud.channel("mouthPucker"), quiet.channel("mouthPucker")), "only the jaw channels"


@settings(max_examples=300, deadline=None)
@given(speech)
@example([("aa", 0.03), ("PP", 0.01), ("ih", 0.03), ("E", 0.02)])
@example([("PP", 0.005), ("FF", 0.005), ("PP", 0.005), ("aa", 0.01)])
def test_2d_shapes_are_held_long_enough_and_keep_every_closure(items):
    rig = load_rig("rhubarb")
    params = AnimationParams.for_rig(rig)
    track = make_track(items)
    curves, cues = animate(track, rig, params)
    segs = cues.segments
    assert segs[0].start == 0 and abs(segs[-1].end - track.duration) < 1e-9
    assert all(abs(a.end - b.start) < 1e-9 for a, b in itertools.pairwise(segs))
    shortest = min(params.min_hold_s, params.tween_s) - 1e-9
    {rig.shapes[v] for v in CONTACT_VISEMES}
    assert all(s.duration >= shortest for s in segs)
    for seg in (s for s in track.segments if s.label == "PP"):
        assert any(c.label == "A" and c.start < seg.end + 0.05 and c.end > seg.start - 0.05 for c in segs)
    assert np.all(curves.values.sum(axis=1) == 1), "one shape at a time"


def test_2d_in_between_shape_eases_a_wide_jump():
    track = make_track([("PP", 0.1), ("aa", 0.3)])
    _, cues = animate(track, load_rig("rhubarb"))
    assert [c.label for c in cues.segments] == ["X", "A", "C", "D", "C", "X"]


def test_timing_parameters_come_from_defaults_then_rig_then_caller():
    rig = load_rig("rhubarb")
    assert AnimationParams.for_rig(rig).min_hold_s == rig.timing["min_hold_s"]
    assert AnimationParams.for_rig(rig, min_hold_s=0.1, fps=None).min_hold_s == 0.1
    assert AnimationParams.for_rig(load_rig("arkit")).fps == AnimationParams().fps


@pytest.mark.parametrize("rig_name", CONTINUOUS)
def test_every_continuous_rig_reaches_its_closure_pose(rig_name):
    rig = load_rig(rig_name)
    curves, _ = animate(make_track([("aa", 0.2), ("PP", 0.08), ("aa", 0.2)]), rig)
    pose = rig.pose_matrix()[VISEMES.index("PP")]
    assert np.any(np.all(np.abs(curves.values - pose) < 1e-5, axis=1))
