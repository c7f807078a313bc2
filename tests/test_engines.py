"""Audio in: the engines on real and synthetic speech, transcripts, and awkward audio."""

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import REAL_SPEECH, SAMPLES, real_speech_alignments, run_cli, score

from visemes import engines
from visemes.engines import analyse, phonemise
from visemes.phones import VISEMES


def test_bake_speech_to_arkit_json_end_to_end(tmp_path):
    out = tmp_path / "hello.json"
    r = run_cli("bake", SAMPLES / "hello.wav", "--rig", "arkit", "--format", "json", "-o", out)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["engine"] == "neural-offline" and doc["duration"] == pytest.approx(6.56, abs=0.05)
    assert {v["viseme"] for v in doc["visemes"]} >= {"sil", "PP", "aa"}
    jaw = np.array(doc["curves"]["values"])[:, doc["rig"]["channels"].index("jawOpen")]
    assert jaw.max() > 0.3 and jaw[:10].max() < 0.05, "the mouth opens for speech and rests in the lead-in"


def test_every_validation_recording_bakes(tmp_path):
    wavs = [ref.with_suffix(".wav") for ref in real_speech_alignments()]
    r = run_cli("bake", *wavs, "--rig", "arkit", "--format", "json", "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(list(tmp_path.glob("*.json"))) == len(wavs)


def test_audio_only_finds_the_mouth_shapes_of_the_sample(tmp_path):
    out = tmp_path / "h.tsv"
    assert run_cli("bake", SAMPLES / "hello.wav", "-f", "segments", "-o", out).returncode == 0
    result = score(SAMPLES / "hello.tsv", out)
    assert result["acc6"] >= 0.7 and result["close_f1"] >= 0.7


def test_a_transcript_aligns_the_sample_closely(tmp_path):
    out = tmp_path / "h.tsv"
    r = run_cli("bake", SAMPLES / "hello.wav", "--transcript", SAMPLES / "hello.txt", "--language", "en", "-f",
                "segments", "-o", out)
    assert r.returncode == 0, r.stderr
    result = score(SAMPLES / "hello.tsv", out)
    assert result["acc6"] >= 0.85 and result["close_f1"] >= 0.9


def test_the_causal_mode_runs_from_the_same_weights(tmp_path):
    out = tmp_path / "h.tsv"
    assert run_cli("bake", SAMPLES / "hola.wav", "--mode", "causal", "-f", "segments", "-o", out).returncode == 0
    assert score(SAMPLES / "hola.tsv", out)["acc6"] >= 0.6


def test_words_that_cannot_be_phonemised_are_reported():
    words, missing = phonemise("hello ⟁⟁⟁ world", "en")
    assert len(words) == 2 and missing == ["⟁⟁⟁"]


def _japanese_speech(kana: str) -> np.ndarray:
    from visemes.audio import resample
    from visemes.espeak import synthesize

    utt = synthesize(kana, "ja")
    return resample(utt.samples.astype(np.float32) / 32768, utt.sample_rate, 16000)


def test_kanji_are_read_as_the_word_around_them_says():
    """買 is "ka" in 買わ and 水 is "mizu": janome's dictionary gives the reading, espeak-ng the phones."""
    words, missing = phonemise("水を買わない", "ja")
    assert missing == []
    assert [p for w in words for p in w][:4] == ["m", "i", "z", "ɯᵝ"]
    assert "k" in [p for w in words for p in w]
    x = _japanese_speech("みずをください")
    result = analyse(x, transcript="水をください", language="ja")
    assert result.warnings == []
    assert next(s.label for s in result.visemes.segments if s.label != "sil") == "PP", "the m of mizu closes the lips"


def test_particles_take_their_spoken_form():
    words, _ = phonemise("今日は", "ja")
    assert [p for w in words for p in w][-2:] == ["w", "ä"]


def test_without_janome_kanji_are_reported_with_the_fix_and_left_to_the_audio(monkeypatch):
    """espeak-ng alone reads kanji as English letter names; those are not the word's sounds."""
    monkeypatch.setattr(engines, "_japanese_tokenizer", lambda: None)
    x = _japanese_speech("みずをください")
    result = analyse(x, transcript="水をください", language="ja")
    assert result.warnings == ["could not phonemise: 水 (install janome to read kanji: pip install 'visemes[ja]')"]
    assert result.visemes.segments[-1].end == pytest.approx(len(x) / 16000, abs=0.011)
    assert "ɪŋ" not in {s.label for s in result.phones.segments}
    assert {"PP", "kk", "DD"} <= {s.label for s in result.visemes.segments}, "the kana after it still align"
    words, missing = phonemise("東京 です", "ja")
    assert missing == ["東京"] and words == [["*"], ["d", "e̞", "s", "ɯᵝ"]]


def test_japanese_r_is_a_tap_of_the_tongue_tip():
    from visemes.phones import phone_to_viseme

    words, _ = phonemise("マレーシア", "ja")
    taps = [p for w in words for p in w if phone_to_viseme(p, "ipa") == "DD"]
    assert taps, "espeak-ng writes Japanese r as ɽ, a flap like the t of American 'water'"


def test_pocketsphinx_baseline_gives_visemes():
    x, rate = sf.read(SAMPLES / "hello.wav", dtype="float32")
    from visemes.audio import resample

    result = analyse(resample(x, rate, 16000), engine="pocketsphinx")
    assert result.phones.phone_set == "arpabet"
    assert {s.label for s in result.visemes.segments} <= set(VISEMES) and len(result.visemes.segments) > 10


def test_allosaurus_without_a_model_says_what_to_do(tmp_path):
    r = run_cli("bake", SAMPLES / "hello.wav", "--engine", "allosaurus", "-o", tmp_path / "x.json")
    assert r.returncode == 1 and "hello.wav: the allosaurus engine needs a model you provide" in r.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(("name", "make"), [
    ("silence.wav", lambda: (np.zeros(16000 * 2, np.float32), 16000)),
    ("short.wav", lambda: (np.random.default_rng(0).standard_normal(1600).astype(np.float32) * 0.1, 16000)),
    ("stereo48k.flac", lambda: (np.random.default_rng(1).standard_normal((48000, 2)).astype(np.float32) * 0.05,
                                48000)),
    ("speech8k.ogg", None),
])
def test_awkward_audio_gives_correct_output(tmp_path, name, make):
    src = tmp_path / name
    if make is None:
        x, rate = sf.read(SAMPLES / "hola.wav", dtype="float32")
        from visemes.audio import resample

        sf.write(src, resample(x, rate, 8000), 8000)
    else:
        x, rate = make()
        sf.write(src, x, rate)
    out = tmp_path / "out.tsv"
    r = run_cli("bake", src, "-f", "segments", "-o", out)
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert float(rows[-1][1]) == pytest.approx(sf.info(src).duration, abs=0.02)
    if name == "silence.wav":
        assert [r[2] for r in rows] == ["sil"]


def test_corrupt_audio_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + bytes(range(200)))
    r = run_cli("bake", bad, "-o", tmp_path / "x.json")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "bad.mp3" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "x.json").exists()


def test_a_two_hour_file(tmp_path):
    long = tmp_path / "two-hours.wav"
    x, rate = sf.read(SAMPLES / "hello.wav", dtype="int16")
    gap = np.zeros(rate * 4, np.int16)
    with sf.SoundFile(long, "w", rate, 1, "PCM_16") as f:
        for _ in range(int(7200 / (len(x) / rate + 4)) + 1):
            f.write(x)
            f.write(gap)
    out = tmp_path / "out.tsv"
    r = run_cli("bake", long, "-f", "segments", "-o", out, timeout=900)
    assert r.returncode == 0, r.stderr
    rows = out.read_text().splitlines()
    assert float(rows[-1].split("\t")[1]) >= 7200 and len(rows) > 10000



def test_hanzi_read_as_their_pinyin():
    """espeak-ng 1.51 reads 报 as English letter names; through pypinyin it is b + ao, and context picks the
    reading of a heteronym (行 is xing in 不行)."""
    from visemes import mandarin

    assert mandarin.read("报") == [["p", "a"]]
    assert mandarin.read("不行") == [["p", "u"], ["ɕ", "i"]]
    assert mandarin.read("绿女") == [["l", "y"], ["n", "y"]]
    assert mandarin.read("我们的") == [["o"], ["m", "ə"], ["t", "ə"]]
    words, missing = phonemise("这绝对不行", "zh")
    assert words == [["ʈʂ", "ə"], ["tɕ", "e"], ["t", "e"], ["p", "u"], ["ɕ", "i"]] and missing == []


def test_without_pypinyin_hanzi_are_reported_with_the_remedy(monkeypatch):
    from visemes import mandarin

    monkeypatch.setattr(mandarin, "_pinyin", lambda: None)
    words, missing = phonemise("报告", "zh")
    assert words == [[engines.UNREAD]] and missing == ["报告"]
    assert "pip install 'visemes[zh]'" in engines._hint("zh", missing)


def test_a_mandarin_transcript_beats_audio_alone_on_real_speech(tmp_path):
    wav = REAL_SPEECH / "zh_aishell3_SSB16240001.wav"
    ref = wav.with_suffix(".tsv")
    alone, written = tmp_path / "alone.tsv", tmp_path / "text.tsv"
    assert run_cli("bake", wav, "-f", "segments", "-o", alone).returncode == 0
    r = run_cli("bake", wav, "--transcript", wav.with_suffix(".txt"), "--language", "zh", "-f", "segments",
                "-o", written)
    assert r.returncode == 0 and "could not phonemise" not in r.stderr, r.stderr
    with_text, without = score(ref, written), score(ref, alone)
    assert with_text["acc6"] >= without["acc6"] and with_text["close_f1"] >= 0.9, (with_text, without)


@pytest.mark.parametrize("text", [
    "Printing, in the only sense with which we are at present concerned, differs from most if not from all the arts",
    "especially as no more time is occupied, or cost incurred, in casting, setting, or printing beautiful letters",
    "And it was a matter of course that in the Middle Ages, when the craftsmen took care",
])
def test_words_espeak_merges_into_a_neighbour_are_not_reported(text):
    """espeak-ng folds "the", "a", "more" into the next word's sounds: their phones are there, so no warning
    (sentences from LJ Speech, public domain)."""
    words, missing = phonemise(text, "en")
    assert missing == [] and len(words) >= len(text.split()) - 4


@pytest.mark.shared
def test_no_warning_on_any_lj_speech_transcript():
    from conftest import shared_folder

    rows = (shared_folder() / "train" / "ljspeech" / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
    noisy = [(name, phonemise(text, "en")[1]) for name, text in (r.split("\t", 1) for r in rows)]
    assert [x for x in noisy if x[1]] == [] and len(noisy) > 300
