"""Unity .anim and Unreal curve table CSV: the documented structure, golden files, and the same motion."""

from __future__ import annotations

import re
import shutil
import zlib

import numpy as np
import pytest
import yaml
from conftest import ROOT, SAMPLES, run_cli

from visemes.animate import AnimationParams
from visemes.bake import lipsync_from_timing
from visemes.rigs import load_rig

GOLDEN = ROOT / "tests" / "golden"
TIMING = SAMPLES / "hello.tsv"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def curves(rig="vrm"):
    r = load_rig(rig)
    return lipsync_from_timing(TIMING, r, AnimationParams.for_rig(r)).curves


def assert_same_text(made: str, golden: str) -> None:
    """Equal line by line, numbers within 1e-4 (last-digit rounding may differ between machines)."""
    a, b = made.splitlines(), golden.splitlines()
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert NUMBER.sub("#", x) == NUMBER.sub("#", y), (x, y)
        nx, ny = [float(v) for v in NUMBER.findall(x)], [float(v) for v in NUMBER.findall(y)]
        np.testing.assert_allclose(nx, ny, atol=1e-4, rtol=1e-6)


def unity_yaml(text: str) -> dict:
    """Parse a Unity YAML asset (its !u! tags stripped) into plain data."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith(("%", "--- ")))
    return yaml.safe_load(body)


@pytest.fixture(scope="module")
def unity(tmp_path_factory):
    out = tmp_path_factory.mktemp("unity") / "hello.anim"
    r = run_cli("bake", TIMING, "--rig", "vrm", "--format", "unity", "--unity-path", "Body", "--keyframes", "0.01",
                "-o", out)
    assert r.returncode == 0, r.stderr
    return out.read_text()


def test_unity_clip_matches_its_golden_file(unity):
    assert_same_text(unity, (GOLDEN / "hello-vrm.anim").read_text())


def test_unity_clip_has_the_documented_structure(unity):
    assert unity.startswith("%YAML 1.1\n%TAG !u! tag:unity3d.com,2011:\n--- !u!74 &7400000\nAnimationClip:\n")
    clip = unity_yaml(unity)["AnimationClip"]
    assert clip["m_Name"] == "hello" and clip["m_SampleRate"] == 60 and clip["m_Legacy"] == 0
    assert clip["m_EditorCurves"] == clip["m_FloatCurves"]
    names = [c["attribute"] for c in clip["m_FloatCurves"]]
    assert names == [f"blendShape.{n}" for n in load_rig("vrm").channels]
    for c in clip["m_FloatCurves"]:
        assert c["path"] == "Body" and c["classID"] == 137 and c["script"] == {"fileID": 0}
        assert c["curve"]["m_PreInfinity"] == 2 and c["curve"]["m_PostInfinity"] == 2
    bindings = clip["m_ClipBindingConstant"]["genericBindings"]
    assert [b["attribute"] for b in bindings] == [zlib.crc32(n.encode()) for n in names]
    assert all(b["path"] == zlib.crc32(b"Body") and b["typeID"] == 137 for b in bindings)
    assert clip["m_AnimationClipSettings"]["m_StopTime"] == pytest.approx(6.5635)


def _hermite(keys: list[dict], t: np.ndarray) -> np.ndarray:
    """Unity's curve evaluation: cubic Hermite between keys with their out/in slopes."""
    kt = np.array([k["time"] for k in keys])
    i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(keys) - 2)
    a, b = [keys[j] for j in i], [keys[j + 1] for j in i]
    dt = np.array([y["time"] - x["time"] for x, y in zip(a, b, strict=True)])
    s = np.clip((t - kt[i]) / dt, 0, 1)
    p0, p1 = np.array([x["value"] for x in a]), np.array([y["value"] for y in b])
    m0, m1 = np.array([x["outSlope"] for x in a]) * dt, np.array([y["inSlope"] for y in b]) * dt
    h = (2 * s**3 - 3 * s**2 + 1) * p0 + (s**3 - 2 * s**2 + s) * m0 + (-2 * s**3 + 3 * s**2) * p1 + (s**3 - s**2) * m1
    return h


def test_unity_linear_tangents_play_back_our_curves(unity):
    """With slopes equal to the segments', Unity's Hermite evaluation is our linear curve (values in percent)."""
    c = curves()
    clip = unity_yaml(unity)["AnimationClip"]
    for entry in clip["m_FloatCurves"]:
        keys = entry["curve"]["m_Curve"]
        assert all(k["tangentMode"] == 69 for k in keys)
        name = entry["attribute"].removeprefix("blendShape.")
        played = _hermite(keys, c.times) / 100
        assert np.max(np.abs(played - c.channel(name))) <= 0.01 + 1e-4


def test_unity_step_keys_use_constant_tangents(tmp_path):
    out = tmp_path / "step.anim"
    r = run_cli("bake", TIMING, "--rig", "vrm", "--format", "unity", "--interpolation", "step", "-o", out)
    assert r.returncode == 0, r.stderr
    keys = unity_yaml(out.read_text())["AnimationClip"]["m_FloatCurves"][0]["curve"]["m_Curve"]
    assert all(k["tangentMode"] == 103 and k["outSlope"] == "Infinity" for k in keys)  # as Unity writes it


def test_unreal_curve_table_matches_its_golden_file_and_the_curves(tmp_path):
    out = tmp_path / "hello.csv"
    r = run_cli("bake", TIMING, "--rig", "vrm", "--format", "unreal", "--keyframes", "0.01", "-o", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert_same_text(text, (GOLDEN / "hello-vrm.unreal.csv").read_text())
    rows = [line.split(",") for line in text.splitlines()]
    assert rows[0][0] == "Name" and [r[0] for r in rows[1:]] == list(load_rig("vrm").channels)
    times = np.array(rows[0][1:], dtype=float)
    assert np.all(np.diff(times) > 0) and all(len(r) == len(rows[0]) for r in rows)
    c = curves()
    for row in rows[1:]:
        played = np.interp(c.times, times, np.array(row[1:], dtype=float))
        assert np.max(np.abs(played - c.channel(row[0]))) <= 0.01 + 1e-4


def test_unity_and_unreal_take_the_names_of_the_mesh_given_with_into(tmp_path):
    from visemes.exporters.gltf import head_gltf, serialise
    from visemes.mesh import MeshPart
    from visemes.rigs.head import sample_head

    head = sample_head()[0]
    part = MeshPart("Body", head.positions, head.triangles, targets={
        "Fcl_MTH_A": head.targets["viseme_aa"], "Fcl_MTH_O": head.targets["viseme_oh"]})
    into = tmp_path / "vroid.glb"
    into.write_bytes(serialise(head_gltf([part])))
    for fmt, suffix in (("unity", ".anim"), ("unreal", ".csv")):
        out = tmp_path / f"out{suffix}"
        r = run_cli("bake", TIMING, "--rig", "vrm", "--format", fmt, "--into", into, "-o", out)
        assert r.returncode == 0, r.stderr
        assert "2 of 5 channels matched" in r.stderr and "unmatched channels: ih, ou, ee" in r.stderr
        text = out.read_text()
        assert "Fcl_MTH_A" in text and "Fcl_MTH_O" in text and "\nih," not in text and "blendShape.ih" not in text


def test_unity_clips_are_named_after_their_input_and_reduced_by_default(tmp_path):
    shutil.copy(TIMING, tmp_path / "greeting.tsv")
    out = tmp_path / "greeting.anim"
    r = run_cli("bake", tmp_path / "greeting.tsv", "--rig", "arkit", "--format", "unity", "-o", out)
    assert r.returncode == 0, r.stderr
    clip = unity_yaml(out.read_text())["AnimationClip"]
    assert clip["m_Name"] == "greeting", "clips from different lines do not collide when combined"
    frames = round(6.6 * 60)
    keys = [len(c["curve"]["m_Curve"]) for c in clip["m_FloatCurves"]]
    assert sum(keys) < 0.25 * frames * len(keys), "keys within 0.005 of the curve, not every frame"
