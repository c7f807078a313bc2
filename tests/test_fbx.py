"""FBX output: read back by ufbx and by Blender with the same blend shapes and curve keys."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLES, run_cli
from fbx_tools import evaluate, read_blender, read_ufbx

from visemes.animate import AnimationParams
from visemes.bake import lipsync_from_timing
from visemes.exporters import ExportOptions, export, retarget
from visemes.exporters.fbx import encode_binary, scene
from visemes.rigs import load_rig
from visemes.rigs.head import sample_head

TIMING = SAMPLES / "hello.tsv"
STEP = 0  # ufbx's UFBX_INTERPOLATION_CONSTANT_PREV


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    """The sample head animated by the arkit rig: binary and ASCII, and curves only into the head."""
    d = tmp_path_factory.mktemp("fbx")
    rig = load_rig("arkit")
    ls = lipsync_from_timing(TIMING, rig, AnimationParams.for_rig(rig))
    out = {}
    for name, opts in {"binary": ExportOptions(), "ascii": ExportOptions(fbx_ascii=True),
                       "curves": ExportOptions(into=str(SAMPLES / "head.glb"), keyframe_error=0.005),
                       "step": ExportOptions(interpolation="STEP", keyframe_error=0.001)}.items():
        out[name] = d / f"{name}.fbx"
        export(retarget(ls, "fbx", opts), "fbx", out[name], opts)
    return ls, out


def test_ufbx_reads_the_head_its_shapes_and_every_curve_within_1e3(baked):
    ls, files = baked
    fbx = read_ufbx(files["binary"])
    assert fbx["fps"] == 60 and fbx["unit_meters"] == pytest.approx(1.0)
    parts = {p.name: p for p in sample_head()}
    assert set(fbx["meshes"]) == set(parts)
    head = fbx["meshes"]["head"]
    assert list(head["channels"]) == parts["head"].target_names
    jaw = head["channels"]["jawOpen"]
    np.testing.assert_allclose(np.array(jaw["offsets"]), parts["head"].targets["jawOpen"][jaw["indices"]], atol=1e-6)
    c = ls.curves
    for mesh in ("head", "teeth_lower", "tongue"):
        for name, ch in fbx["meshes"][mesh]["channels"].items():
            if name in c.channels:
                np.testing.assert_allclose(evaluate(ch["keys"], c.times, 100), c.channel(name), atol=1e-3)
            else:
                assert ch["keys"] is None  # the Oculus viseme shapes are not driven by the arkit rig
    last = head["channels"]["jawOpen"]["keys"][-1][0]
    assert last == pytest.approx(ls.duration, abs=1e-4)


def test_blender_imports_the_head_with_shape_keys_and_the_same_curves(baked):
    ls, files = baked
    blend = read_blender(files["binary"])
    head = blend["meshes"]["head"]
    assert head["shapes"] == ["Basis", *sample_head()[0].target_names]
    c = ls.curves
    assert set(head["curves"]) == set(load_rig("arkit").channels)
    for name, keys in head["curves"].items():
        np.testing.assert_allclose(evaluate(keys, c.times), c.channel(name), atol=1e-3)
    assert set(blend["meshes"]["tongue"]["curves"]) == {"jawOpen", "jawLeft", "jawRight", "jawForward", "tongueOut"}


def test_ascii_fbx_holds_the_same_scene(baked):
    _, files = baked
    text = files["ascii"].read_text()
    assert text.startswith("; FBX 7.4.0 project file") and 'Deformer: ' in text and '"SubDeformer::jawOpen"' in text
    a, b = read_ufbx(files["ascii"]), read_ufbx(files["binary"])
    assert a["meshes"].keys() == b["meshes"].keys()
    for mesh in a["meshes"]:
        for name, ch in a["meshes"][mesh]["channels"].items():
            other = b["meshes"][mesh]["channels"][name]
            assert (ch["keys"] is None) == (other["keys"] is None)
            if ch["keys"]:
                np.testing.assert_allclose(np.array(ch["keys"])[:, :2], np.array(other["keys"])[:, :2], atol=1e-6)


def test_curves_only_file_names_the_target_channels_and_stays_within_the_key_error(baked):
    ls, files = baked
    fbx = read_ufbx(files["curves"])
    assert fbx["meshes"] == {}
    assert set(fbx["channels"]) == set(load_rig("arkit").channels)
    c = ls.curves
    for name, keys in fbx["channels"].items():
        assert len(keys) < c.frames
        assert np.max(np.abs(evaluate(keys, c.times, 100) - c.channel(name))) <= 0.005 + 1e-3
    assert read_blender(files["curves"])["meshes"] == {}  # Blender opens it (and has no mesh to put it on)


def test_step_keys_are_constant_and_hold_each_value(baked):
    ls, files = baked
    fbx = read_ufbx(files["step"])
    keys = fbx["meshes"]["head"]["channels"]["jawOpen"]["keys"]
    assert {k[2] for k in keys} == {STEP}
    t = np.array([k[0] for k in keys])
    v = np.array([k[1] for k in keys]) / 100
    c = ls.curves
    held = v[np.clip(np.searchsorted(t, c.times + 1e-6, side="right") - 1, 0, len(t) - 1)]
    np.testing.assert_allclose(held, c.channel("jawOpen"), atol=1e-3)


def test_the_binary_layout_has_the_header_footer_and_fixed_ids():
    rig = load_rig("oculus")
    ls = lipsync_from_timing(TIMING, rig, AnimationParams.for_rig(rig))
    data = encode_binary(scene(ls.curves, None))
    assert data[:27] == b"Kaydara FBX Binary  \x00\x1a\x00" + (7400).to_bytes(4, "little")
    assert data.endswith(b"\xf8\x5a\x8c\x6a\xde\xf5\xd9\x7e\xec\xe9\x0c\xe3\x75\x8f\x29\x0b")
    assert (7400).to_bytes(4, "little") + bytes(120) in data[-140:]
    assert data == encode_binary(scene(ls.curves, None))  # reproducible, byte for byte


def test_into_an_fbx_takes_its_channel_names(tmp_path, baked):
    _, files = baked
    out = tmp_path / "curves.fbx"
    r = run_cli("bake", TIMING, "--rig", "oculus", "--format", "fbx", "--into", files["binary"], "-o", out)
    assert r.returncode == 0, r.stderr
    assert "15 of 15 channels matched" in r.stderr
    assert set(read_ufbx(out)["channels"]) == set(load_rig("oculus").channels)


def test_a_file_that_is_not_fbx_is_named_in_a_one_line_error(tmp_path):
    fake = tmp_path / "rig.fbx"
    fake.write_text("hello")
    out = tmp_path / "out.fbx"
    r = run_cli("bake", TIMING, "--format", "fbx", "--into", fake, "-o", out)
    assert r.returncode == 1 and r.stderr.strip() == f"error: {fake}: not an FBX file" and not out.exists()
