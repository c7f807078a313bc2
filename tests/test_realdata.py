"""Real recordings for training: labelled by aligning their known words, strung into utterances, masked."""

import itertools

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from visemes.audio import SAMPLE_RATE, resample
from visemes.corpus import IGNORE
from visemes.errors import VisemesError
from visemes.espeak import synthesize
from visemes.inventory import CLASS_INDEX
from visemes.realdata import DIGITS, aligned_phones, checked, digit_strings, grid_words, real_clips, real_utterances
from visemes.train import mask_spectra


def spoken(text: str, voice: str = "en-us") -> np.ndarray:
    utt = synthesize(text, voice)
    return resample(utt.samples.astype(np.float32) / 32768.0, utt.sample_rate, SAMPLE_RATE)


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    """A tiny fsdd-style folder: ``{digit}_{speaker}_{n}.wav`` at 8 kHz, spoken by espeak-ng voices."""
    folder = tmp_path_factory.mktemp("train") / "fsdd"
    folder.mkdir()
    for speaker, voice in (("robot", "en-us"), ("klatt", "en-us+klatt")):
        for d in (1, 5, 7, 9):
            x = resample(spoken(DIGITS[d], voice), SAMPLE_RATE, 8000)
            sf.write(folder / f"{d}_{speaker}_0.wav", x, 8000)
    return folder


def test_alignment_labels_the_phones_of_the_known_words_in_order():
    phones = [c for _, _, c in aligned_phones(spoken("seven"), "seven") if c != "sil"]
    assert phones[:3] == ["s", "ɛ", "v"] and phones[-1] == "n"


def test_real_utterances_carry_frame_labels_from_the_alignment(digits_folder):
    utts = real_utterances(real_clips(digits_folder.parent, seed=0, log=lambda _: None), seed=0, copies=2)
    labels = np.concatenate([u.labels for u in utts])
    assert len(utts) % 2 == 0 and all(len(u.feats) == len(u.labels) for u in utts)
    for cls in ("w", "f", "s", "n"):  # one, five, seven, nine
        assert CLASS_INDEX[cls] in labels
    assert np.mean(labels == IGNORE) < 0.05


def test_a_training_folder_without_recordings_is_a_clear_error(tmp_path):
    (tmp_path / "fsdd").mkdir()
    with pytest.raises(VisemesError, match="fsdd"):
        real_clips(tmp_path, seed=0)


def test_grid_file_names_spell_their_sentences():
    assert grid_words("bbaf2n") == "bin blue at f two now"
    assert grid_words("pwij3p") == "place white in j three please"
    assert grid_words("swwz0s") is None and grid_words("readme") is None


def test_clips_whose_words_do_not_match_the_audio_are_rejected():
    x = spoken("bin blue at f two now")
    segs = checked(x, "bin blue at f two now")
    assert segs is not None and [c for _, _, c in segs if c != "sil"][:3] == ["b", "ɪ", "n"]
    assert checked(x, "set white with p nine soon") is None
    assert checked(x, "bin blue at f two zyxwvut") is None, "a word missing from the dictionary rejects the clip"


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(1, 20), min_size=1, max_size=4), seed=st.integers(0, 1000))
def test_digit_strings_use_every_recording_once_and_keep_one_speaker(counts, seed):
    recs = []
    for s, count in enumerate(counts):
        for i in range(count):
            n = 800 + 10 * i
            recs.append((f"spk{s}", np.full(n, s + i / 100, np.float32), [(0.0, n / SAMPLE_RATE, "a")]))
    strings = digit_strings(recs, np.random.default_rng(seed))
    assert sum(len(segs) for _, segs in strings) == len(recs)
    for x, segs in strings:
        assert 1 <= len(segs) <= 8
        assert len({int(v) for v in x[x > 0]}) <= 1, "one speaker per string"
        assert all(a < b <= len(x) / SAMPLE_RATE + 1e-9 for a, b, _ in segs)
        assert all(prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(segs)), "digits in order, no overlap"


def test_spectral_masks_hide_bands_and_frames_without_touching_the_input():
    x = torch.arange(2 * 50 * 64, dtype=torch.float32).reshape(2, 50, 64)
    y = mask_spectra(x, np.random.default_rng(3), bands=8, frames=10, n=2)
    assert torch.equal(x, torch.arange(2 * 50 * 64, dtype=torch.float32).reshape(2, 50, 64))
    changed = (y != x).float().mean().item()
    assert y.shape == x.shape and 0 < changed < 0.5
    assert torch.all((y == x) | (y == x.mean(dim=(1, 2), keepdim=True)))


def test_training_mixes_real_recordings_into_the_crops(digits_folder, tmp_path):
    from visemes.model import ModelConfig
    from visemes.train import train

    lines = []
    result = train(hours=0.005, epochs=1, steps_per_epoch=2, batch=4, crop=100, work=tmp_path / "work",
                   out=tmp_path / "tiny.pt", eval_dir=None, workers=1, real_dir=digits_folder.parent,
                   config=ModelConfig(channels=16, dilations=(1, 2)), log=lines.append)
    assert result["recipe"]["real_share"] == 0.5
    assert any(line.startswith("real speech:") for line in lines)
    assert any(line.startswith("real speech, fsdd:") for line in lines), "clips kept are counted per source"
    assert list((tmp_path / "work").glob("real-v2-0-shared.npz")), "the labelled recordings are cached"
