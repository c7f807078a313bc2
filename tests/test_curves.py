"""Curves: resampling to any frame rate and keyframe reduction under a stated error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from visemes.curves import Curves, channel_keys, reduce_keys, step_keys

values = st.integers(2, 200).flatmap(
    lambda n: arrays(np.float32, (n, 3), elements=st.floats(0, 1, width=32)))


@settings(max_examples=200, deadline=None)
@given(values, st.floats(0.0005, 0.2))
def test_keyframes_stay_within_the_stated_error_at_every_frame(v, err):
    c = Curves(30.0, ["a", "b", "c"], v)
    for (times, keys), col in zip(c.keyframes(err), v.T, strict=True):
        assert times[0] == 0.0 and times[-1] == c.times[-1]
        assert np.all(np.diff(times) > 0)
        assert np.max(np.abs(np.interp(c.times, times, keys) - col)) <= err + 1e-6


@settings(max_examples=100, deadline=None)
@given(values)
def test_keyframe_reduction_keeps_everything_when_the_error_is_zero(v):
    for c in range(v.shape[1]):
        keep = reduce_keys(v[:, c], 0.0)
        assert np.allclose(np.interp(np.arange(len(v)), keep, v[keep, c]), v[:, c], atol=1e-6)


def test_keyframes_of_a_straight_ramp_are_its_two_ends():
    ramp = np.linspace(0, 1, 61, dtype=np.float32)[:, None]
    (times, keys), = Curves(60, ["jaw"], ramp).keyframes(1e-4)
    assert list(times) == [0.0, 1.0] and list(keys) == [0.0, 1.0]


@settings(max_examples=100, deadline=None)
@given(values, st.sampled_from([24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 60.0, 90.0, 120.0]))
def test_resampling_keeps_duration_range_and_channels(v, fps):
    c = Curves(30.0, ["a", "b", "c"], v)
    r = c.resample(fps)
    assert r.channels == c.channels and r.fps == fps
    assert abs(r.duration - c.duration) <= 1.0 / fps
    assert r.values.min() >= v.min() - 1e-6 and r.values.max() <= v.max() + 1e-6


def test_resampling_to_double_rate_passes_through_the_original_samples():
    v = np.random.default_rng(0).random((50, 2)).astype(np.float32)
    r = Curves(30, ["a", "b"], v).resample(60)
    assert np.allclose(r.values[::2], v, atol=1e-6)


def test_curves_refuse_values_that_do_not_match_the_channels():
    with pytest.raises(ValueError):
        Curves(30, ["a", "b"], np.zeros((10, 3)))


@given(st.lists(st.sampled_from([0.0, 0.25, 1.0]), min_size=1, max_size=60),
       st.integers(min_value=1, max_value=3))
def test_held_step_keys_reproduce_every_frame(values, columns):
    y = np.tile(np.array(values, dtype=np.float32)[:, None], (1, columns))
    y[:, -1] = y[::-1, 0]
    keys = step_keys(y)
    held = y[keys][np.searchsorted(keys, np.arange(len(y)), side="right") - 1]
    np.testing.assert_array_equal(held, y)
    assert keys[0] == 0 and keys[-1] == len(y) - 1
    np.testing.assert_array_equal(channel_keys(y[:, 0], "STEP", 0.01), step_keys(y[:, 0]))
    np.testing.assert_array_equal(channel_keys(y[:, 0]), np.arange(len(y)))
