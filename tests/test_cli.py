"""The command line as users meet it: help, the bundled sample, the accuracy bar, and bad input."""

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import SAMPLES, real_speech_alignments, run_cli, score


@pytest.mark.parametrize("args", [[], ["bake"], ["rigs"], ["formats"], ["train"]])
def test_every_command_explains_itself(args):
    r = run_cli(*args, "--help")
    assert r.returncode == 0
    assert "usage: visemes" in r.stdout and len(r.stdout.splitlines()) > 4


def test_bake_help_names_the_formats_rigs_and_examples():
    out = run_cli("bake", "--help").stdout
    for word in ("rhubarb-tsv", "moho-dat", "arkit", "--manifest", "examples:", "textgrid", "azure", "polly"):
        assert word in out


def test_bake_writes_every_format_from_the_bundled_timing_sample(tmp_path):
    formats = ["json", "csv", "segments", "rhubarb-tsv", "rhubarb-json", "rhubarb-xml", "moho-dat"]
    r = run_cli("bake", SAMPLES / "hello.tsv", *[f"--format={f}" for f in formats], "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["hello.csv", "hello.dat", "hello.json", "hello.rhubarb.json", "hello.rhubarb.tsv",
                     "hello.tsv", "hello.xml"]
    assert json.loads((tmp_path / "hello.json").read_text())["rig"]["name"] == "arkit"


def test_rhubarb_tsv_from_the_sample_timing_matches_its_phones(tmp_path):
    out = tmp_path / "hello.rhubarb.tsv"
    assert run_cli("bake", SAMPLES / "hello.tsv", "-f", "rhubarb-tsv", "-o", out).returncode == 0
    assert score(SAMPLES / "hello.tsv", out)["acc6"] >= 0.95


def test_rhubarb_tsv_from_real_speech_alignments_keeps_their_timing(tmp_path):
    refs = real_speech_alignments()
    accs = []
    for ref in refs:
        out = tmp_path / ref.name
        assert run_cli("bake", ref, "-f", "rhubarb-tsv", "-o", out).returncode == 0
        accs.append(score(ref, out)["acc6"])
    assert min(accs) >= 0.85 and np.mean(accs) >= 0.95


def test_standard_output_for_pipes():
    r = run_cli("bake", SAMPLES / "hola.tsv", "-f", "rhubarb-tsv", "-o", "-")
    assert r.returncode == 0 and r.stdout.startswith("0.00\tX\n") and r.stderr == ""


def test_rigs_lists_and_shows_profiles():
    listing = run_cli("rigs").stdout
    assert all(name in listing for name in ("arkit", "oculus", "vrm", "rhubarb", "live2d", "vtubestudio"))
    shown = json.loads(run_cli("rigs", "show", "vrm").stdout)
    assert shown["channels"] == ["aa", "ih", "ou", "ee", "oh"]


def test_jaw_follows_the_loudness_of_the_audio(tmp_path):
    quiet = tmp_path / "quiet.wav"
    x, sr = sf.read(SAMPLES / "hello.wav")
    sf.write(quiet, x * np.linspace(1.0, 0.05, len(x)), sr)  # fades out
    for audio, name in ((SAMPLES / "hello.wav", "a.csv"), (quiet, "b.csv")):
        run_cli("bake", SAMPLES / "hello.tsv", "--audio", audio, "-f", "csv", "-r", "arkit", "-o", tmp_path / name)
    a, b = (np.genfromtxt(tmp_path / n, delimiter=",", names=True) for n in ("a.csv", "b.csv"))
    late = a["time"] > 5.5  # faded to about -14 dB
    assert b["jawOpen"][late].mean() < 0.8 * a["jawOpen"][late].mean()


def write_bad(tmp_path, kind):
    if kind == "empty file":
        p = tmp_path / "empty.tsv"
        p.write_text("")
    elif kind == "wrong format":
        p = tmp_path / "notes.json"
        p.write_text('{"title": "my notes"}')
    elif kind == "truncated audio":
        p = tmp_path / "cut.wav"
        p.write_bytes((SAMPLES / "hello.wav").read_bytes()[:30])
    else:
        p = tmp_path / "missing.tsv"
    return p


@pytest.mark.parametrize(("kind", "args", "message"), [
    ("empty file", [], "empty file"),
    ("wrong format", [], "not a timing file"),
    ("truncated audio", [], "cut.wav:"),
    ("missing file", [], "no such file"),
])
def test_bad_input_gives_one_line_naming_the_file(tmp_path, kind, args, message):
    src = write_bad(tmp_path, kind)
    out = tmp_path / "out" / "result.json"
    r = run_cli("bake", src, *args, "-o", out)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].count(str(src.name)) == 1
    assert "Traceback" not in r.stderr
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_truncated_audio_beside_a_timing_file_is_named(tmp_path):
    cut = write_bad(tmp_path, "truncated audio")
    out = tmp_path / "x.json"
    r = run_cli("bake", SAMPLES / "hello.tsv", "--audio", cut, "-o", out)
    assert r.returncode == 1 and "cut.wav: cannot decode audio" in r.stderr and not out.exists()
    assert len(r.stderr.strip().splitlines()) == 1


def test_unknown_rig_and_profile_typo(tmp_path):
    out = tmp_path / "x.json"
    r = run_cli("bake", SAMPLES / "hello.tsv", "--rig", "arkt", "-o", out)
    assert r.returncode == 1 and "unknown rig 'arkt'" in r.stderr and not out.exists()
    profile = json.loads(run_cli("rigs", "show", "vrm").stdout)
    profile["poses"]["aa"] = {"aaa": 1.0}
    bad = tmp_path / "myrig.json"
    bad.write_text(json.dumps(profile))
    r = run_cli("bake", SAMPLES / "hello.tsv", "--rig", bad, "-o", out)
    assert r.returncode == 1 and not out.exists() and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"error: {bad}: poses.aa.aaa: not one of the profile's channels (did you mean 'aa'?)"


def test_a_failed_bake_leaves_an_existing_output_untouched(tmp_path):
    out = tmp_path / "x.json"
    out.write_text("previous result")
    r = run_cli("bake", write_bad(tmp_path, "empty file"), "-o", out)
    assert r.returncode == 1 and out.read_text() == "previous result"


def test_usage_errors(tmp_path):
    assert run_cli("bake", SAMPLES / "hello.tsv").returncode == 1  # no -o
    assert run_cli("bake", SAMPLES / "hello.tsv", "-f", "gif", "-o", tmp_path / "x").returncode == 1
    assert run_cli("bake", SAMPLES / "hello.tsv", "--fps", "-5", "-o", tmp_path / "x").returncode == 1
    assert run_cli("frobnicate").returncode == 2
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "segments", "-o", SAMPLES)
    assert r.returncode == 1 and "overwrite the input" in r.stderr
