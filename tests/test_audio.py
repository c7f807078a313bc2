"""Audio in: any common format, rate and channel count becomes 16 kHz mono; bad files are named."""

import numpy as np
import pytest
import soundfile as sf

from visemes.audio import is_audio, load_audio
from visemes.errors import VisemesError
from visemes.features import frame_rms_db, loudness


def tone(seconds=0.5, rate=44100, channels=1, freq=220.0):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize(("suffix", "subtype"), [(".wav", "PCM_16"), (".wav", "FLOAT"), (".flac", "PCM_24"),
                                                 (".ogg", "VORBIS"), (".mp3", "MPEG_LAYER_III")])
@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (44100, 2), (48000, 6)])
def test_common_files_load_as_16k_mono(tmp_path, suffix, subtype, rate, channels):
    if suffix == ".mp3" and channels > 2:
        channels = 2  # MP3 carries at most two channels
    p = tmp_path / f"a{suffix}"
    sf.write(p, tone(0.5, rate, channels), rate, subtype=subtype)
    x = load_audio(p)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 8000) < 0.03 * 16000  # codecs may pad a little
    peak = np.abs(np.fft.rfft(x[1000:7000])).argmax() * 16000 / 6000
    assert abs(peak - 220) < 10, "the content survives resampling"


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "cannot decode audio"), (b"RIFF\x24\x00\x00\x00WAVEfmt ", "cannot decode audio"),
    (b"this is text, not sound", "cannot decode audio")])
def test_broken_audio_is_named(tmp_path, data, problem):
    p = tmp_path / "broken.wav"
    p.write_bytes(data)
    with pytest.raises(VisemesError, match=problem) as e:
        load_audio(p)
    assert str(e.value).startswith(str(p))


def test_missing_audio_file(tmp_path):
    with pytest.raises(VisemesError, match="no such audio file"):
        load_audio(tmp_path / "nope.wav")


def test_audio_is_recognised_by_name_or_by_its_first_bytes(tmp_path):
    p = tmp_path / "speech.bin"
    sf.write(p, tone(), 16000, format="WAV")
    q = tmp_path / "notes.tsv"
    q.write_text("0 1 sil\n")
    assert is_audio(p) and is_audio(tmp_path / "x.mp3") and not is_audio(q)


def test_levels_and_loudness_per_10_ms():
    levels = [0.0, 0.5, 0.15, 0.05]  # silence, loud, typical, quiet
    x = np.concatenate([lv * np.ones(8000) for lv in levels]).astype(np.float32)
    db = frame_rms_db(x)
    assert len(db) == 200
    assert db[75] == pytest.approx(20 * np.log10(0.5), abs=0.1)
    loud = loudness(x)
    assert loud[20] == 0 and loud[75] > loud[125] > loud[175] > 0 and loud.max() <= 1
    assert loud[125] == pytest.approx(0.5, abs=0.02), "typical speech level is the middle"
