"""Hostile and broken files: one clear line and exit 1, nothing read that should not be, nothing hangs.

Each test reproduces one finding of a review that fed the tool files from the internet.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SAMPLES, run_cli
from fuzz_targets import TRIANGLE, tiny_gltf
from timing_fixtures import make_timing_files

import visemes.batch as batch
from visemes.errors import VisemesError
from visemes.fileio import atomic_write, read_input
from visemes.timing import read_timing

PHONES = "0.0\t0.2\tsil\n0.2\t0.3\tm\n0.3\t0.5\taa\n0.5\t0.7\tsil\n"


def one_error_line(r: subprocess.CompletedProcess, *names: str) -> str:
    """The run failed with exit 1 and one ``error:`` line naming each of ``names``; no traceback."""
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    for name in names:
        assert name in errors[0], errors[0]
    return errors[0]


# ---------------------------------------------------------------- outputs that are not regular files

def test_output_into_a_fifo_is_written_through_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    with atomic_write(fifo) as f:
        f.write('{"ok": true}')
    reader.join(timeout=60)
    assert got == [b'{"ok": true}']
    assert fifo.is_fifo(), "the FIFO was replaced by an ordinary file"


def test_output_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real" / "out.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    with atomic_write(link) as f:
        f.write("new")
    assert link.is_symlink() and target.read_text() == "new"


def test_an_output_name_of_251_bytes_can_be_written(tmp_path):
    out = tmp_path / ("n" * 246 + ".json")
    (tmp_path / "a.tsv").write_text(PHONES)
    r = run_cli("bake", tmp_path / "a.tsv", "-o", out)
    assert r.returncode == 0, r.stderr
    json.loads(out.read_text())
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_inputs_that_are_devices_or_fifos_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "never-written.tsv"
    os.mkfifo(fifo)
    with pytest.raises(VisemesError, match="not a regular file"):
        read_input(fifo, "timing file")
    with pytest.raises(VisemesError, match="not a regular file"):
        read_input("/dev/zero", "glTF model")
    r = run_cli("bake", fifo, "-o", tmp_path / "x.json", timeout=120)
    one_error_line(r, "never-written.tsv", "regular file")


# ---------------------------------------------------------------- glTF resources: no local file leaks

def gltf_with_buffer(folder: Path, uri: str) -> Path:
    """A tiny valid glTF whose one buffer has ``uri``, with its buffer beside it as mesh.bin."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mesh.bin").write_bytes(TRIANGLE)
    path = folder / "model.gltf"
    path.write_text(json.dumps(tiny_gltf(uri)))
    return path


@pytest.mark.parametrize("uri", ["/etc/passwd", "../secret.bin", "/proc/self/environ", "file:///etc/passwd",
                                 "%2e%2e/secret.bin", "sub/../../secret.bin", "/dev/zero"])
def test_gltf_resources_outside_the_models_folder_are_never_read(tmp_path, uri):
    (tmp_path / "secret.bin").write_bytes(b"TOP-SECRET" * 8)
    model = gltf_with_buffer(tmp_path / "model", uri)
    out = tmp_path / "out.gltf"
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "gltf", "--into", model, "-o", out, timeout=120)
    one_error_line(r, "model.gltf")
    assert not out.exists()


def test_a_symlink_leading_out_of_the_models_folder_is_refused(tmp_path):
    (tmp_path / "secret.bin").write_bytes(b"\0" * 72)
    model = gltf_with_buffer(tmp_path / "model", "link.bin")
    (tmp_path / "model" / "link.bin").symlink_to(tmp_path / "secret.bin")
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "gltf", "--into", model, "-o", tmp_path / "o.gltf")
    one_error_line(r, "model.gltf", "out of the model's folder")


def test_a_fifo_named_as_a_resource_does_not_hang(tmp_path):
    model = gltf_with_buffer(tmp_path / "model", "pipe.bin")
    os.mkfifo(tmp_path / "model" / "pipe.bin")
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "gltf", "--into", model, "-o", tmp_path / "o.gltf", timeout=120)
    one_error_line(r, "model.gltf", "regular file")


def test_relative_resources_and_data_uris_inside_the_model_are_embedded(tmp_path):
    for uri in ("mesh.bin", "data:application/octet-stream;base64,"
                + base64.b64encode(np.zeros(18, np.float32).tobytes()).decode()):
        model = gltf_with_buffer(tmp_path / "m", uri)
        out = tmp_path / "out.gltf"
        r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "gltf", "--into", model, "-o", out)
        assert r.returncode == 0, r.stderr
        doc = json.loads(out.read_text())
        assert all(b["uri"].startswith("data:") for b in doc["buffers"])


def test_a_malformed_data_uri_is_refused(tmp_path):
    model = gltf_with_buffer(tmp_path / "m", "data:application/octet-stream;base64,@@@not base64@@@")
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "gltf", "--into", model, "-o", tmp_path / "o.gltf")
    one_error_line(r, "model.gltf", "base64")


def test_a_glb_whose_header_is_shorter_than_the_file_is_refused(tmp_path):
    data = bytearray((SAMPLES / "head.glb").read_bytes())
    struct.pack_into("<I", data, 8, len(data) // 10)
    bad = tmp_path / "short.glb"
    bad.write_bytes(bytes(data))
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "gltf", "--into", bad, "-o", tmp_path / "o.glb")
    one_error_line(r, "short.glb", "header says")
    assert not (tmp_path / "o.glb").exists()


@pytest.mark.parametrize("doc", [
    {"asset": {"version": "2.0"}, "nodes": [{"mesh": 5}], "meshes": []},
    {"asset": {"version": "2.0"}, "nodes": [{"mesh": 0}], "meshes": [{"primitives": "x"}]},
    {"asset": {"version": "2.0"}, "nodes": "nope"},
    {"asset": {"version": "2.0"}, "nodes": [{"mesh": 0}], "meshes": [{"primitives": [{"targets": [{}]}],
                                                                        "extras": {"targetNames": 3}}]},
    {"asset": "2.0"},
])
def test_structurally_broken_gltf_blames_the_model(tmp_path, doc):
    bad = tmp_path / "broken.gltf"
    bad.write_text(json.dumps(doc))
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "gltf", "--into", bad, "-o", tmp_path / "o.gltf")
    line = one_error_line(r, "broken.gltf")
    assert "hello.tsv" not in line


# ---------------------------------------------------------------- FBX

def test_an_fbx_record_pointing_back_at_itself_is_damaged_not_an_endless_loop(tmp_path):
    record = struct.pack("<IIIB", 27, 0, 0, 1) + b"A"
    bad = tmp_path / "loop.fbx"
    bad.write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00" + struct.pack("<I", 7400) + record + bytes(40))
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "fbx", "--into", bad, "-o", tmp_path / "o.fbx", timeout=120)
    one_error_line(r, "loop.fbx", "damaged")


def test_ascii_fbx_keeps_the_braces_of_the_animation_layer(tmp_path):
    out = tmp_path / "a.fbx"
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "fbx", "--ascii", "-o", out)
    assert r.returncode == 0, r.stderr
    layer = [ln.strip() for ln in out.read_text().splitlines() if ln.strip().startswith("AnimationLayer:")]
    assert layer and all(ln.endswith("{") for ln in layer), layer


# ---------------------------------------------------------------- timing files

def test_a_textgrid_of_unclosed_brackets_parses_in_linear_time(tmp_path):
    # quadratic scanning took 40 s for 160 KB; 2 MB would take hours. The ceiling is generous on purpose.
    bad = tmp_path / "brackets.TextGrid"
    bad.write_text('File type = "ooTextFile"\nObject class = "TextGrid"\n' + "[" * 2_000_000)
    r = run_cli("bake", bad, "-o", tmp_path / "o.json", timeout=120)
    one_error_line(r, "brackets.TextGrid")


@pytest.mark.parametrize("text", [
    "0\t0.5\tsil\n0.5\t1000000\tm\n",
    "0\t0.5\tsil\n0.5\t1e9\tm\n",
    '{"mouthCues": [{"start": 0, "end": 1e9, "value": "A"}]}',
])
def test_implausibly_long_timings_are_refused_with_the_limit_named(tmp_path, text):
    path = tmp_path / "long.tsv"
    path.write_text(text)
    with pytest.raises(VisemesError, match=r"long.tsv: .*limit .*--max-duration"):
        read_timing(path)


def test_the_duration_limit_can_be_raised(tmp_path, monkeypatch):
    path = tmp_path / "day.tsv"
    path.write_text("0\t0.5\tsil\n0.5\t30000\tm\n")
    with pytest.raises(VisemesError, match="limit"):
        read_timing(path)
    monkeypatch.setenv("VISEMES_MAX_DURATION", "40000")
    assert read_timing(path).duration == pytest.approx(30000)


@pytest.mark.parametrize("name, text", [
    ("nan.tsv", "0\t0.5\tsil\nnan\t1.0\tm\n"),
    ("nan.json", '{"mouthCues": [{"start": 0, "end": NaN, "value": "A"}]}'),
    ("nan.xml", '<rhubarbResult><mouthCues><mouthCue start="0" end="nan">A</mouthCue></mouthCues></rhubarbResult>'),
    ("inf.tsv", "0\tinf\tm\n"),
])
def test_times_that_are_not_numbers_are_refused(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    r = run_cli("bake", tmp_path / name, "-o", tmp_path / "o.json")
    one_error_line(r, name)
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("text", ['{"time": 0, "type": "viseme", "value": "p"}\n[1,2,3]\n',
                                  "[" * 100_000 + "]" * 100_000])
def test_polly_lines_of_the_wrong_shape_and_deep_nesting_are_one_error(tmp_path, text):
    (tmp_path / "marks.json").write_text(text)
    with pytest.raises(VisemesError, match=r"marks\.json"):
        read_timing(tmp_path / "marks.json")


# ---------------------------------------------------------------- audio headers and samples

def wav_header(rate: int, frames: int) -> bytes:
    data = frames * 2
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", data)


def test_a_wav_header_of_1_hz_is_refused_before_memory_is_asked_for(tmp_path):
    bad = tmp_path / "one-hz.wav"
    bad.write_bytes(wav_header(1, 200_000) + bytes(400_000))
    r = run_cli("bake", bad, "-o", tmp_path / "o.json")
    one_error_line(r, "one-hz.wav", "limit")


def test_float_audio_far_outside_plus_minus_one_is_refused(tmp_path):
    x = np.full(16000, 1e30, np.float32)
    sf.write(tmp_path / "huge.wav", x, 16000, subtype="FLOAT")
    r = run_cli("bake", tmp_path / "huge.wav", "-o", tmp_path / "o.json")
    one_error_line(r, "huge.wav", "sample values")


# ---------------------------------------------------------------- speaker turns

def test_nan_speaker_turns_are_refused(tmp_path):
    turns = tmp_path / "turns.tsv"
    turns.write_text("start\tend\tspeaker\n0\tnan\tAda\n")
    from visemes.scene import read_turns

    with pytest.raises(VisemesError, match=r"turns\.tsv: line 2"):
        read_turns(turns)


# ---------------------------------------------------------------- outputs never overwrite inputs

def test_an_output_that_is_the_audio_input_is_refused(tmp_path):
    audio = tmp_path / "a.wav"
    audio.write_bytes((SAMPLES / "hello.wav").read_bytes())
    before = audio.read_bytes()
    r = run_cli("bake", SAMPLES / "hello.tsv", "--audio", audio, "-f", "segments", "-o", audio)
    one_error_line(r, "overwrite")
    assert audio.read_bytes() == before


def test_a_manifest_row_cannot_overwrite_another_rows_input(tmp_path):
    make_timing_files(tmp_path / "lines", 2)
    manifest = tmp_path / "m.csv"
    manifest.write_text("timing,output\nlines/line0000.tsv,lines/line0001.tsv\nlines/line0001.tsv,b.json\n")
    r = run_cli("bake", "--manifest", manifest, "-f", "segments")
    one_error_line(r, "overwrite", "line0001.tsv")


def test_manifest_outputs_stay_inside_the_output_folder_unless_allowed(tmp_path):
    make_timing_files(tmp_path / "lines", 1)
    manifest = tmp_path / "m.csv"
    manifest.write_text("timing,output\nlines/line0000.tsv,../escaped.json\n")
    r = run_cli("bake", "--manifest", manifest, "-f", "json")
    one_error_line(r, "outside", "--allow-outside")
    assert not (tmp_path.parent / "escaped.json").exists()
    r = run_cli("bake", "--manifest", manifest, "-f", "json", "--allow-outside")
    assert r.returncode == 0, r.stderr
    assert (tmp_path.parent / "escaped.json").exists()
    (tmp_path.parent / "escaped.json").unlink()


@pytest.mark.parametrize("name, text", [("deep.json", "[" * 50_000 + "]" * 50_000),
                                        ("notlist.json", '[{"input": "x.tsv"}, 3]')])
def test_a_broken_manifest_is_one_line(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    r = run_cli("bake", "--manifest", tmp_path / name, "-f", "json", "-o", tmp_path / "out")
    one_error_line(r, name)


@pytest.mark.parametrize("flag, name", [("--map", "map.json"), ("--rig", "rig.json")])
def test_deeply_nested_map_and_rig_files_are_one_line(tmp_path, flag, name):
    (tmp_path / name).write_text("{" + '"a":{' * 30_000 + "}" * 30_001)
    args = ["-f", "gltf"] if flag == "--map" else []
    r = run_cli("bake", SAMPLES / "hello.tsv", flag, tmp_path / name, *args, "-o", tmp_path / "o.glb")
    one_error_line(r, name)


# ---------------------------------------------------------------- batches

def test_hostile_lines_among_good_ones_cost_only_themselves(tmp_path):
    make_timing_files(tmp_path / "in", 30)
    (tmp_path / "in" / "polly.json").write_text('{"time": 0, "type": "viseme", "value": "p"}\n[1,2,3]\n')
    (tmp_path / "in" / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "in" / "long.tsv").write_text("0\t0.5\tsil\n0.5\t1e9\tm\n")
    r = run_cli("bake", tmp_path / "in", "-f", "json", "-o", tmp_path / "out", "--jobs", "2")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "30 baked, 3 failed" in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3 and {e.split(":")[1].strip().rsplit("/", 1)[-1] for e in errors} == {
        "polly.json", "deep.json", "long.tsv"}
    assert len(list((tmp_path / "out").glob("line*.json"))) == 30


def test_a_stale_temporary_beside_an_up_to_date_output_is_removed(tmp_path):
    make_timing_files(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert run_cli("bake", tmp_path / "in", "-o", out).returncode == 0
    stale = out / ".line0000.json.abc123.tmp"
    stale.write_text("half")
    r = run_cli("bake", tmp_path / "in", "-o", out)
    assert "2 up to date" in r.stderr
    assert not stale.exists()


_real_work = batch._work


def _dies_once(item):
    """A worker that dies (as the OOM killer would kill it) the first time it meets line0003."""
    marker = Path(os.environ["DIE_MARKER"])
    if item[0].source.name == "line0003.tsv" and not marker.exists():
        marker.write_text("x")
        os._exit(9)
    return _real_work(item)


def test_a_killed_workers_lines_are_run_again(tmp_path, monkeypatch):
    make_timing_files(tmp_path / "in", 6)
    marker = tmp_path / "died-once"
    monkeypatch.setenv("DIE_MARKER", str(marker))
    monkeypatch.setattr(batch, "_work", _dies_once)
    jobs = batch.plan([tmp_path / "in"], ["json"], tmp_path / "out")
    report = batch.run(jobs, batch.Settings(), workers=2)
    assert marker.exists(), "a worker did die"
    assert not report.failed and len(report.done) == 6
    assert len(list((tmp_path / "out").glob("*.json"))) == 6


def test_killing_the_parent_leaves_no_worker_behind(tmp_path):
    make_timing_files(tmp_path / "in", 3000, seed=4)
    cmd = [sys.executable, "-m", "visemes", "bake", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-j", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    while proc.poll() is None and len(workers) < 2:  # wait for the pool to start (an event, not a clock)
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                  text=True).stdout.split()]
        time.sleep(0.05)
    assert len(workers) == 2, "the batch finished before its workers were seen"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60  # a ceiling only: the kernel kills them at once
    while time.monotonic() < deadline and any(running(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(running(pid) for pid in workers)


def running(pid: int) -> bool:
    """Whether ``pid`` is alive and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state.rsplit(") ", 1)[1][0] not in "ZX"


def test_a_file_name_that_is_not_utf8_bakes(tmp_path):
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    with open(folder + b"/a\xffb.tsv", "wb") as f:
        f.write(PHONES.encode())
    r = run_cli("bake", tmp_path / "in", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    (out,) = os.listdir(os.fsencode(tmp_path / "out"))
    assert out == b"a\xffb.json"
    assert json.loads((tmp_path / "out" / os.fsdecode(out)).read_text())["source"] == "a\ufffdb.tsv"


@pytest.mark.parametrize("change, message", [
    (lambda d: d["accessors"][0].update(count=10**12), "accessor 0 needs"),
    (lambda d: d["bufferViews"][1].update(byteOffset=60), "bufferView 1 lies outside"),
    (lambda d: d["accessors"][1].update(byteOffset=-4), "accessor 1 needs"),
])
def test_accessors_that_point_past_their_data_are_refused_not_copied_on(tmp_path, change, message):
    doc = tiny_gltf("mesh.bin")
    change(doc)
    (tmp_path / "mesh.bin").write_bytes(TRIANGLE)
    (tmp_path / "bad.gltf").write_text(json.dumps(doc))
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "gltf", "--into", tmp_path / "bad.gltf", "-o", tmp_path / "o.gltf")
    one_error_line(r, "bad.gltf", message)
    assert not (tmp_path / "o.gltf").exists()


def test_output_to_dev_stdout_through_a_pipe_reaches_the_pipe(tmp_path):
    r = run_cli("bake", SAMPLES / "hello.tsv", "-f", "segments", "-o", "/dev/stdout")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split("\t")[2] == "sil"


def test_output_to_a_character_device_keeps_the_device(tmp_path):
    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a private /dev/null
    except PermissionError:
        null = Path("/dev/null")  # without the right to make one, the real one (it is only written into)
    r = run_cli("bake", SAMPLES / "hello.tsv", "-o", null)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISCHR(null.stat().st_mode), "the device was replaced by an ordinary file"
