"""The audio front end: log-mel at 100 frames/s, the same chunk by chunk as in one pass."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from visemes.features import HOP, N_MELS, MelStream, log_mel, mel_filterbank


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8000), st.lists(st.integers(1, 3000), min_size=1, max_size=30), st.integers(0, 2**31))
def test_streaming_features_equal_one_pass(n, chunk_sizes, seed):
    x = np.random.default_rng(seed).standard_normal(n).astype(np.float32) * 0.1
    stream, parts, i, k = MelStream(), [], 0, 0
    while i < n:
        size = chunk_sizes[k % len(chunk_sizes)]
        parts.append(stream.push(x[i:i + size]))
        i, k = i + size, k + 1
    parts.append(stream.flush())
    streamed = np.concatenate(parts)
    whole = log_mel(x)
    assert streamed.shape == whole.shape == (-(-n // HOP), N_MELS)
    assert np.allclose(streamed, whole, atol=1e-4)


def test_a_tone_lights_up_the_mel_band_of_its_frequency():
    t = np.arange(16000) / 16000
    feats = log_mel((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    fb = mel_filterbank()
    expected = int(np.argmax(fb[:, round(1000 / (16000 / 512))]))
    assert abs(int(np.argmax(feats[50])) - expected) <= 1


def test_frame_count_is_ceil_of_samples_over_hop():
    assert log_mel(np.zeros(1, np.float32)).shape[0] == 1
    assert log_mel(np.zeros(160, np.float32)).shape[0] == 1
    assert log_mel(np.zeros(161, np.float32)).shape[0] == 2
