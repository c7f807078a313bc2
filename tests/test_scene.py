"""Scenes with several speakers: one track per character, each mouth moving only while its speaker talks."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from visemes.errors import VisemesError
from visemes.scene import Turn, read_turns

SR = 16_000


def _make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory):
    """The sample dialogue made afresh (ann left, bob right, crosstalk 18 dB down, noise), as one stereo file,
    one file per speaker, and a mono mix with RTTM turns; and the truth: per speaker, the 10 ms frames where
    espeak-ng says a phone sounds."""
    d = tmp_path_factory.mktemp("dialogue")
    stereo, truth, turns = _make_samples().dialogue()
    sf.write(d / "dialogue.wav", stereo.T, SR)
    sf.write(d / "ann.wav", stereo[0], SR)
    sf.write(d / "bob.wav", stereo[1], SR)
    sf.write(d / "mix.wav", stereo.mean(axis=0), SR)
    (d / "mix.rttm").write_text("".join(f"SPEAKER mix 1 {a:.2f} {b - a:.2f} <NA> <NA> {who} <NA> <NA>\n"
                                        for a, b, who in turns))
    return d, truth


def test_the_bundled_dialogue_is_what_the_script_makes(tmp_path):
    r = subprocess.run([sys.executable, str(SAMPLES / "make_samples.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    bundled, made = sf.read(SAMPLES / "dialogue.wav")[0], sf.read(tmp_path / "dialogue.wav")[0]
    assert bundled.shape == made.shape and np.abs(bundled - made).max() < 2 / 32768
    assert (SAMPLES / "dialogue.rttm").read_text() == (tmp_path / "dialogue.rttm").read_text()


def scene(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visemes", "scene", *args], capture_output=True, text=True,
                          timeout=300)


def talking(track_json: Path, frames: int) -> np.ndarray:
    """Frames where the character's viseme track is not silence: where its mouth moves."""
    out = np.zeros(frames, bool)
    for s in json.loads(track_json.read_text())["visemes"]:
        if s["viseme"] != "sil":
            out[round(s["start"] * 100):round(s["end"] * 100)] = True
    return out


def test_a_stereo_dialogue_gives_each_speaker_their_own_mouth(dialogue, tmp_path):
    d, truth = dialogue
    r = scene(str(d / "dialogue.wav"), "--speaker", "ann=arkit", "--speaker", "bob=vrm", "-f", "json", "-f", "gltf",
              "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    index = json.loads((tmp_path / "out" / "scene.json").read_text())
    assert [(c["name"], c["rig"]) for c in index["characters"]] == [("ann", "arkit"), ("bob", "vrm")]
    for c in index["characters"]:
        moving = talking(tmp_path / "out" / c["files"]["json"], len(truth[c["name"]]))
        accuracy = float(np.mean(moving == truth[c["name"]]))
        assert accuracy >= 0.9, (c["name"], accuracy)
        assert (tmp_path / "out" / c["files"]["gltf"]).stat().st_size > 1000
    overlap = slice(735, 755)  # both talk here: both mouths move
    for c in index["characters"]:
        assert talking(tmp_path / "out" / c["files"]["json"], 1300)[overlap].mean() > 0.5


def test_one_file_per_speaker_is_the_same_scene(dialogue, tmp_path):
    d, truth = dialogue
    r = scene(str(d / "ann.wav"), str(d / "bob.wav"), "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for name in ("ann", "bob"):  # names from the files
        assert np.mean(talking(tmp_path / f"{name}.json", 1300) == truth[name]) >= 0.9


def test_a_mixed_track_follows_the_speaker_turns(dialogue, tmp_path):
    d, truth = dialogue
    r = scene(str(d / "mix.wav"), "--turns", str(d / "mix.rttm"), "--speaker", "bob=vrm", "-f", "json",
              "-f", "unity", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    index = json.loads((tmp_path / "scene.json").read_text())
    assert {c["name"]: c["rig"] for c in index["characters"]} == {"ann": "arkit", "bob": "vrm"}
    assert (tmp_path / "bob.anim").exists()
    for name in ("ann", "bob"):
        assert np.mean(talking(tmp_path / f"{name}.json", 1300) == truth[name]) >= 0.9


def test_scene_errors_are_one_line_and_write_nothing(dialogue, tmp_path):
    d, _ = dialogue
    out = tmp_path / "out"
    for args, problem in [
        ([str(d / "ann.wav")], "one speaker per channel"),
        ([str(d / "mix.wav"), "--turns", str(d / "mix.rttm"), "--speaker", "cat"], "no turns for speaker 'cat'"),
        ([str(d / "dialogue.wav"), "--speaker", "a", "--speaker", "b", "--speaker", "c"], "3 speakers named"),
        ([str(d / "dialogue.wav"), "--speaker", "ann=nope"], "unknown rig 'nope'"),
    ]:
        r = scene(*args, "-o", str(out))
        assert r.returncode == 1 and problem in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert not out.exists()


# ---- turn files ---------------------------------------------------------------------------------

names = st.sampled_from(["Ann", "bob", "Dr_Who", "Speaker 2", "Zoë"])
turn_lists = st.lists(st.tuples(st.integers(0, 500_000), st.integers(1, 20_000), names), min_size=1, max_size=12)


def _clock(ms: int, sep: str) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


@settings(max_examples=40, deadline=None)
@given(turn_lists, st.sampled_from(["rttm", "srt", "vtt", "tsv", "csv"]))
def test_turn_files_read_back_exactly(tmp_path_factory, rows, kind):
    path = tmp_path_factory.mktemp("turns") / f"t.{kind}"
    rttm_names = {n: n.replace(" ", "_") for _, _, n in rows}
    if kind == "rttm":
        text = "".join(f"SPEAKER f 1 {a / 1000:.3f} {d / 1000:.3f} <NA> <NA> {rttm_names[n]} <NA> <NA>\n"
                       for a, d, n in rows)
    elif kind == "srt":
        text = "".join(f"{i}\n{_clock(a, ',')} --> {_clock(a + d, ',')}\n{n}: words here\n\n"
                       for i, (a, d, n) in enumerate(rows, 1))
    elif kind == "vtt":
        text = "WEBVTT\n\n" + "".join(f"{_clock(a, '.')} --> {_clock(a + d, '.')}\n<v {n}>words</v>\n\n"
                                      for a, d, n in rows)
    else:
        sep = "\t" if kind == "tsv" else ","
        text = f"start{sep}end{sep}speaker\n" + "".join(f"{a / 1000}{sep}{(a + d) / 1000}{sep}{n}\n"
                                                        for a, d, n in rows)
    path.write_text(text, encoding="utf-8")
    got = read_turns(path)
    want = sorted(Turn(a / 1000, (a + d) / 1000, rttm_names[n] if kind == "rttm" else n) for a, d, n in rows)
    assert [t.speaker for t in got] == [t.speaker for t in want]
    assert np.allclose([t[:2] for t in got], [t[:2] for t in want], atol=1e-6)


@pytest.mark.parametrize("kind, text, problem", [
    ("srt", "1\n00:00:01,000 --> 00:00:02,000\njust words\n", "names no speaker"),
    ("srt", "1\n00:00:03,000 --> 00:00:02,000\nAnn: hi\n", "ends before it starts"),
    ("rttm", "SPEAKER f 1 abc 1.0 <NA> <NA> ann <NA> <NA>\n", "line 1"),
    ("tsv", "0.5\t0.2\tann\n", "start < end"),
    ("tsv", "", "no speaker turns"),
    ("txt2", "x", "must be .rttm"),
])
def test_bad_turn_files_name_the_file_and_line(tmp_path, kind, text, problem):
    path = tmp_path / f"turns.{kind}"
    path.write_text(text)
    with pytest.raises(VisemesError, match=problem) as e:
        read_turns(path)
    assert str(path) in str(e.value)
