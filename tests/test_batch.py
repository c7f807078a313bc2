"""Batches: many files on every core, one bad file does not stop the rest, and re-runs resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import SAMPLES, run_cli
from timing_fixtures import make_timing_files


def test_a_folder_batch_in_several_formats(tmp_path):
    make_timing_files(tmp_path / "in" / "act1", 3)
    make_timing_files(tmp_path / "in" / "act2", 2, seed=1)
    r = run_cli("bake", tmp_path / "in", "-f", "json", "-f", "rhubarb-tsv", "-o", tmp_path / "out", "-j", "2")
    assert r.returncode == 0, r.stderr
    assert "5 baked" in r.stderr
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")) == [
        f"act{a}/line{i:04d}.{ext}" for a, n in ((1, 3), (2, 2)) for i in range(n) for ext in ("json", "rhubarb.tsv")]


def test_one_corrupt_file_among_a_thousand(tmp_path):
    make_timing_files(tmp_path / "in", 1000, corrupt={"line0500.tsv"})
    r = run_cli("bake", tmp_path / "in", "-f", "json", "-r", "vrm", "-o", tmp_path / "out", "--jobs", "2")
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "line0500.tsv" in errors[0]
    assert "999 baked, 1 failed" in r.stderr
    outputs = sorted((tmp_path / "out").iterdir())
    assert len(outputs) == 999 and "line0500.json" not in {p.name for p in outputs}


def test_a_killed_batch_redoes_only_what_is_missing(tmp_path):
    make_timing_files(tmp_path / "in", 1000, seed=2, corrupt={"line0007.tsv"})
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "visemes", "bake", str(tmp_path / "in"), "-o", str(out), "-j", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while proc.poll() is None and len(list(out.glob("*.json"))) < 300:  # an event: 300 lines written
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.name for p in out.glob("*.json")}
    assert 300 <= len(done) < 999, "killed part way"
    for p in out.glob("*.json"):
        json.loads(p.read_text())  # every output present is whole
    r = run_cli(*cmd[3:])
    assert f"{999 - len(done)} baked, {len(done)} up to date, 1 failed" in r.stderr
    assert len(list(out.glob("*.json"))) == 999
    assert not list(out.glob(".*.tmp")), "no temporary files left behind"


def test_manifest_batch_with_rig_and_audio_columns(tmp_path):
    make_timing_files(tmp_path / "lines", 2)
    manifest = tmp_path / "lines.csv"
    manifest.write_text("timing,audio,rig,output\n"
                        "lines/line0000.tsv,,vrm,baked/a.json\n"
                        f"lines/line0001.tsv,{SAMPLES / 'hello.wav'},oculus,baked/b.json\n")
    r = run_cli("bake", "--manifest", manifest, "-f", "json")
    assert r.returncode == 0, r.stderr
    a, b = (json.loads((tmp_path / "baked" / n).read_text()) for n in ("a.json", "b.json"))
    assert a["rig"]["name"] == "vrm" and b["rig"]["name"] == "oculus"
    assert b["duration"] == pytest.approx(6.6, abs=0.1), "the audio sets the duration"


def test_json_manifest_and_its_errors(tmp_path):
    make_timing_files(tmp_path, 1)
    good = tmp_path / "m.json"
    good.write_text(json.dumps([{"input": "line0000.tsv", "output": "o/x.csv"}]))
    assert run_cli("bake", "--manifest", good, "-f", "csv").returncode == 0
    assert (tmp_path / "o" / "x.csv").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("input,colour\nline0000.tsv,red\n")
    r = run_cli("bake", "--manifest", bad, "-o", tmp_path / "o2")
    assert r.returncode == 1 and "bad.csv: row 2: unknown column 'colour'" in r.stderr


def test_up_to_date_outputs_are_skipped_and_force_redoes_them(tmp_path):
    make_timing_files(tmp_path / "in", 3)
    args = ["bake", tmp_path / "in", "-o", tmp_path / "out"]
    assert "3 baked" in run_cli(*args).stderr
    assert "0 baked, 3 up to date" in run_cli(*args).stderr
    (tmp_path / "in" / "line0001.tsv").touch()
    os.utime(tmp_path / "in" / "line0001.tsv", (time.time() + 5, time.time() + 5))
    assert "1 baked, 2 up to date" in run_cli(*args).stderr
    assert "3 baked" in run_cli(*args, "--force").stderr


def test_two_inputs_that_would_write_the_same_output_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "x.tsv").write_text("0 0.1 sil\n")
    r = run_cli("bake", tmp_path / "a" / "x.tsv", tmp_path / "b" / "x.tsv", "-o", tmp_path / "out")
    assert r.returncode == 1 and "would both write" in r.stderr


def test_a_line_that_hits_a_passing_io_error_is_retried_then_reported(monkeypatch, tmp_path):
    from visemes import batch

    calls = []

    def flaky(source, *args, **kwargs):
        calls.append(source)
        if len(calls) < 3:
            raise OSError("connection reset")

    monkeypatch.setattr(batch, "bake_file", flaky)
    job = batch.Job(SAMPLES / "hello.tsv", (("json", tmp_path / "a.json"),))
    assert batch._work((job, batch.Settings())) is None and len(calls) == 3
    calls.clear()

    def broken(source, *args, **kwargs):
        calls.append(source)
        raise OSError("gone")

    monkeypatch.setattr(batch, "bake_file", broken)
    err = batch._work((job, batch.Settings()))
    assert len(calls) == batch.RETRIES + 1 and err == f"{job.source}: failed 3 times (OSError: gone)"


def test_outputs_can_go_to_an_fsspec_uri_and_are_then_up_to_date(tmp_path):
    folder = tmp_path / "remote"
    uri = "file://" + str(folder) + "/"
    r = run_cli("bake", SAMPLES / "hello.tsv", SAMPLES / "hola.tsv", "-f", "json", "-f", "csv", "-o", uri)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["hello.csv", "hello.json", "hola.csv", "hola.json"]
    again = run_cli("bake", SAMPLES / "hello.tsv", SAMPLES / "hola.tsv", "-f", "json", "-f", "csv", "-o", uri)
    assert again.returncode == 0 and "0 baked, 2 up to date" in again.stderr


def test_a_folder_pairs_timing_with_its_audio_and_audio_with_its_transcript(tmp_path):
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("hello.wav", "hello.tsv", "hola.wav", "hola.txt"):
        shutil.copy(SAMPLES / name, folder / name)
    r = run_cli("bake", folder, "-f", "json", "-f", "segments", "-o", tmp_path / "out", "--language", "es")
    assert r.returncode == 0, r.stderr
    assert "hello.tsv with hello.wav" in r.stderr and "transcript beside them, read as 'es'" in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "hello.json", "hello.tsv", "hola.json", "hola.tsv"]
    hello = json.loads((tmp_path / "out" / "hello.json").read_text())
    assert hello["source"] == "hello.tsv"
    hola = json.loads((tmp_path / "out" / "hola.json").read_text())
    assert hola["language"] == "es" and hola["engine"].startswith("neural"), "aligned to its transcript"
