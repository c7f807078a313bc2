"""The bundled samples are made by code in the repo from espeak-ng, with exact phone timings."""

import subprocess
import sys

import numpy as np
import soundfile as sf
from conftest import ROOT, SAMPLES

from visemes.espeak import split_compound, synthesize
from visemes.features import frame_rms_db
from visemes.phones import VISEMES
from visemes.timing import read_timing
from visemes.tracks import Segment, phones_to_visemes


def test_the_samples_script_makes_speech_words_and_timings(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "samples" / "make_samples.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("hello", "hola", "guten-tag"):
        audio, rate = sf.read(tmp_path / f"{name}.wav")
        track = read_timing(tmp_path / f"{name}.tsv")
        assert abs(track.duration - len(audio) / rate) < 0.01
        assert (tmp_path / f"{name}.txt").read_text().strip()
        assert track.phone_set == "ipa" and len(track.segments) > 20
    tour = read_timing(tmp_path / "visemes.tsv")  # the contact sheet's input: every viseme, in order
    assert [s.label for s in tour.segments] == list(VISEMES)
    assert (tmp_path / "visemes.tsv").read_text() == (SAMPLES / "visemes.tsv").read_text()


def test_bundled_samples_are_present():
    for name in ("hello", "hola", "guten-tag"):
        for ext in ("wav", "txt", "tsv"):
            assert (SAMPLES / f"{name}.{ext}").is_file()


def test_phone_timings_match_the_sound():
    """Silence in the timings is quiet in the audio, and speech is loud."""
    utt = synthesize("Bob, a big bad bear. Then silence.", "en-us")
    x = utt.samples.astype(np.float32) / 32768
    from visemes.audio import resample

    db = frame_rms_db(resample(x, utt.sample_rate, 16000))
    visemes = phones_to_visemes(utt.phones)
    sil = [s for s in visemes.segments if s.label == "sil" and s.duration > 0.05]
    assert sil, "clause pauses are marked"
    for s in sil:
        frames = db[int(s.start * 100) + 2:int(s.end * 100) - 2]
        assert frames.size == 0 or np.median(frames) < db.max() - 35
    speech = [s for s in visemes.segments if s.label in ("aa", "E") and s.duration > 0.05]
    assert all(np.median(db[int(s.start * 100):int(s.end * 100)]) > db.max() - 20 for s in speech)


def test_espeak_speaks_many_languages_with_ipa_phones():
    for voice in ("en-us", "de", "fr", "es", "it", "pt", "ja"):
        utt = synthesize("a", voice) if voice != "ja" else synthesize("こんにちは", voice)
        assert utt.duration > 0.1 and utt.phones.phone_set == "ipa"


def test_r_coloured_vowels_are_a_vowel_then_r():
    """espeak-ng names "four" /foːɹ/ as one phoneme; the timings give the vowel, then the r, as aligners do."""
    labels = [s.label for s in synthesize("four words here", "en-us").phones.segments]
    assert labels[labels.index("oː") + 1] == "ɹ" and "ɝ" in labels, labels
    assert "ɜː" in [s.label for s in synthesize("four words here", "en-gb-x-rp").phones.segments]


def test_a_compound_phoneme_splits_where_the_vowel_takes_the_larger_share():
    first, second = split_compound(Segment(1.0, 2.0, "ɑːɹ", 0.5))
    assert first == Segment(1.0, 1.6, "ɑː", 0.5) and second == Segment(1.6, 2.0, "ɹ", 0.5)
    assert [s.label for s in split_compound(Segment(0.0, 1.0, "əl"))] == ["ə", "l"]
    for whole in ("ɹ", "ll", "tʃ", "aɪ", "(en)"):
        assert split_compound(Segment(0.0, 1.0, whole)) == [Segment(0.0, 1.0, whole)]
