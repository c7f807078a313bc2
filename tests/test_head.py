"""The sample head shows what the curves say: lips shut at rest and on p/b/m, a mouth that opens with the jaw.

Measured in rendered pictures (the preview's off-screen renderer, 360 px views): the lip gap is the longest
vertical run of mouth interior (teeth, tongue, the dark cavity) that shows between the lips."""

import numpy as np
import pytest
from conftest import SAMPLES, run_cli
from scipy.stats import spearmanr

from visemes.bake import Settings, bake_file
from visemes.phones import phone_to_viseme
from visemes.preview import lip_gaps, scene
from visemes.rigs.head import INTERIOR, sample_head
from visemes.timing import read_timing

FPS = 60  # the curves' own rate: the frame nearest a 17 ms closure's middle lies inside it
SIZE = 360
LINES = ("hello", "hola", "guten-tag")


def bake(source, rig: str = "arkit", audio=None):
    lipsync = bake_file(source, [], Settings(rig=rig), audio=audio)
    return lipsync, scene(lipsync, None, FPS, lipsync.duration)


def closure_middles(segments, viseme_of) -> list[float]:
    return [(s.start + s.end) / 2 for s in segments if viseme_of(s.label) == "PP"]


def frames_at(times) -> list[int]:
    return [round(t * FPS) for t in times]


@pytest.mark.parametrize("line", LINES)
def test_lips_are_shut_at_rest_and_in_every_closure_of_the_timing_files(line):
    track = read_timing(SAMPLES / f"{line}.tsv")
    middles = closure_middles(track.segments, lambda p: phone_to_viseme(p, track.phone_set))
    assert middles, "each sample says p, b or m"
    _, sc = bake(SAMPLES / f"{line}.tsv", audio=SAMPLES / f"{line}.wav")
    gaps = lip_gaps(sc, [0, *frames_at(middles)], INTERIOR, SIZE)
    assert gaps.tolist() == [0] * len(gaps), dict(zip(["rest", *middles], gaps.tolist(), strict=True))


@pytest.mark.parametrize("line", LINES)
def test_lips_are_shut_in_every_closure_the_audio_model_finds(line):
    lipsync, sc = bake(SAMPLES / f"{line}.wav")
    middles = closure_middles(lipsync.visemes.segments, lambda v: v)
    assert middles
    gaps = lip_gaps(sc, [0, *frames_at(middles)], INTERIOR, SIZE)
    assert gaps.tolist() == [0] * len(gaps), dict(zip(["rest", *middles], gaps.tolist(), strict=True))


@pytest.mark.parametrize("source,audio", [("hello.tsv", "hello.wav"), ("hello.wav", None)])
def test_the_mouth_opens_with_the_jaw_over_a_whole_line(source, audio):
    lipsync, sc = bake(SAMPLES / source, audio=SAMPLES / audio if audio else None)
    frames = range(len(sc.weights[0]))
    gaps = lip_gaps(sc, frames, INTERIOR, SIZE)
    curves = lipsync.curves.resample(FPS)
    jaw = curves.values[: len(gaps), curves.channels.index("jawOpen")]
    vowels = frames_at([(s.start + s.end) / 2 for s in lipsync.visemes.segments if s.label in ("aa", "E")])
    assert len(vowels) > 5 and np.all(gaps[vowels] > 0), "open vowels part the lips"
    rho = spearmanr(jaw[: len(gaps)], gaps).statistic
    assert rho >= 0.9, f"rank correlation of lip gap and jawOpen {rho:.2f}"


@pytest.mark.parametrize("viseme,opened", [("sil", False), ("PP", False), ("aa", True), ("E", True),
                                           ("oh", True), ("FF", True)])
def test_each_oculus_viseme_shape_shows_its_mouth(viseme, opened):
    """The head's own viseme targets, one at a time at full weight: closed for sil and PP, parted otherwise."""
    from visemes.preview import Scene

    parts = sample_head()
    weights = [np.array([[1.0 if name == f"viseme_{viseme}" else 0.0 for name in p.targets]]) for p in parts]
    everything = np.concatenate([p.positions for p in parts])
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    sc = Scene(parts, weights, (lo + hi) / 2, float(np.linalg.norm(hi - lo) / 2))
    gap = lip_gaps(sc, [0], INTERIOR, SIZE)[0]
    assert (gap > 0) == opened, gap


def test_every_rig_poses_the_head_through_the_same_shapes():
    """Closures on the oculus and vrm rigs shut the sample head's lips too (retargeted through its shapes;
    vrm has no closure channel, so its closures are the neutral face), and their open vowels part them."""
    track = read_timing(SAMPLES / "hello.tsv")
    middles = closure_middles(track.segments, lambda p: phone_to_viseme(p, track.phone_set))
    for rig in ("oculus", "vrm"):
        _, sc = bake(SAMPLES / "hello.tsv", rig=rig, audio=SAMPLES / "hello.wav")
        gaps = lip_gaps(sc, [*frames_at(middles), *frames_at([1.72])], INTERIOR, SIZE)  # 1.72 s: "Bob"'s vowel
        assert gaps[:-1].max() == 0 and gaps[-1] > 0, (rig, gaps)


@pytest.mark.parametrize("fmt", ["gltf", "fbx"])
def test_blender_shows_the_exported_head_shut_at_rest_and_in_a_closure_and_open_on_a_vowel(fmt, tmp_path):
    from blender_tools import interior_masks

    from visemes.preview import lip_gap

    out = tmp_path / f"hello.{'glb' if fmt == 'gltf' else 'fbx'}"
    r = run_cli("bake", SAMPLES / "hello.tsv", "--audio", SAMPLES / "hello.wav", "-f", fmt, "-o", out)
    assert r.returncode == 0, r.stderr
    track = read_timing(SAMPLES / "hello.tsv")
    middles = closure_middles(track.segments, lambda p: phone_to_viseme(p, track.phone_set))
    masks = interior_masks(out, [0.05, *middles, 1.72], INTERIOR, tmp_path / "renders")
    gaps = [lip_gap(m) for m in masks]
    assert gaps[:-1] == [0] * (len(gaps) - 1) and gaps[-1] > 0, gaps
