"""glTF/GLB/VRM output: valid for the Khronos validator, read back the same by another reader, and
kind to the user's file (everything else in it is kept)."""

from __future__ import annotations

import copy
import json
import shutil
import struct

import numpy as np
import pytest
from conftest import SAMPLES, run_cli
from gltf_tools import animation, errors, sample, validate

from visemes.animate import AnimationParams
from visemes.bake import lipsync_from_timing
from visemes.exporters import ExportOptions, export, retarget
from visemes.exporters.gltf import head_gltf, read_gltf, serialise, to_glb
from visemes.mesh import MeshPart
from visemes.rigs import load_rig
from visemes.rigs.head import sample_head

TIMING = SAMPLES / "hello.tsv"


def lipsync(rig: str):
    r = load_rig(rig)
    return lipsync_from_timing(TIMING, r, AnimationParams.for_rig(r))


def bake(tmp_path, rig="arkit", name="out.glb", **options):
    opts = ExportOptions(**options)
    ls = retarget(lipsync(rig), "gltf", opts)
    out = tmp_path / name
    export(ls, "gltf", out, opts)
    return out, ls


def assert_valid(path):
    report = validate(path)
    assert errors(report) == []
    return report


# ---------------------------------------------------------------- the sample head

def test_sample_head_carries_the_arkit_and_oculus_targets():
    parts = {p.name: p for p in sample_head()}
    head = parts["head"]
    assert set(load_rig("arkit").channels) | set(load_rig("oculus").channels) == set(head.targets)
    assert {"jawOpen", "tongueOut"} <= set(parts["tongue"].targets)
    assert "jawOpen" in parts["teeth_lower"].targets and not parts["teeth_upper"].targets


def _lip_gap(head: MeshPart, weights: dict[str, float]) -> float:
    """Vertical opening between the middle of the upper and lower lip (negative: pressed into each other)."""
    p = head.posed(weights)
    front = np.argsort(-head.positions[:, 2])
    mouth_y = head.positions[front[:40], 1]
    rest = head.positions
    # the two vertices at the mouth centre share a rest position (upper and lower lip copies)
    centre = np.flatnonzero((np.abs(rest[:, 0]) < 1e-6) & (rest[:, 2] > 0.05) & (np.abs(rest[:, 1] - np.median(mouth_y))
                                                                              < 0.05))
    same = [(a, b) for a in centre for b in centre if a < b and np.allclose(rest[a], rest[b])]
    assert len(same) == 1
    a, b = same[0]
    return float(p[a, 1] - p[b, 1])  # the upper lip is the original vertex, the lower lip its later copy


def test_the_sample_head_opens_closes_and_smiles_on_the_right_side():
    head = sample_head()[0]
    assert _lip_gap(head, {}) == 0
    assert _lip_gap(head, {"viseme_aa": 1}) > 0.008
    assert _lip_gap(head, {"jawOpen": 1}) > 0.015
    assert abs(_lip_gap(head, {"jawOpen": 1, "mouthClose": 1})) < 0.002
    assert -0.003 < _lip_gap(head, {"viseme_PP": 1}) < 0.0005
    smile = head.targets["mouthSmileLeft"]
    left, right = head.positions[:, 0] > 0.02, head.positions[:, 0] < -0.02
    assert smile[left, 1].max() > 0.005 and smile[right, 1].max() < 0.001  # the subject's left is +X


def test_bundled_head_glb_is_valid_and_matches_its_generator(tmp_path):
    assert_valid(SAMPLES / "head.glb")
    fresh = read_gltf(SAMPLES / "head.glb").doc
    made = head_gltf(sample_head()).doc
    assert fresh["meshes"] == made["meshes"] and fresh["nodes"] == made["nodes"]


# ---------------------------------------------------------------- animation on the sample head

def test_standalone_head_animation_is_valid_and_reads_back_within_1e4(tmp_path):
    out, ls = bake(tmp_path, "arkit")
    report = assert_valid(out)
    assert report["issues"]["numWarnings"] == 0
    anim = animation(out)
    t, w, names, interp = anim["head"]
    c = ls.curves
    assert interp == "LINEAR" and len(t) >= c.frames
    assert t[-1] == pytest.approx(ls.duration, abs=1e-4)
    got = sample(c.times, t, w, interp)
    for ch in c.channels:
        np.testing.assert_allclose(got[:, names.index(ch)], c.channel(ch), atol=1e-4)
    tj, wj, nj, _ = anim["teeth_lower"]
    np.testing.assert_allclose(sample(c.times, tj, wj, "LINEAR")[:, nj.index("jawOpen")], c.channel("jawOpen"),
                               atol=1e-4)


def test_keyframe_reduction_stays_within_the_error_and_step_keys_hold(tmp_path):
    full, ls = bake(tmp_path, "oculus", "full.glb")
    reduced, _ = bake(tmp_path, "oculus", "reduced.glb", keyframe_error=0.01)
    step, _ = bake(tmp_path, "oculus", "step.glb", keyframe_error=0.01, interpolation="STEP")
    for path in (reduced, step):
        assert_valid(path)
    c = ls.curves
    t, w, names, _ = animation(reduced)["head"]
    assert len(t) < 0.8 * len(animation(full)["head"][0])
    got = sample(c.times, t, w, "LINEAR")
    for ch in c.channels:
        assert np.max(np.abs(got[:, names.index(ch)] - c.channel(ch))) <= 0.01 + 1e-4
    t, w, names, interp = animation(step)["head"]
    assert interp == "STEP"
    got = sample(c.times, t, w, "STEP")
    for ch in c.channels:
        np.testing.assert_allclose(got[:, names.index(ch)], c.channel(ch), atol=1e-4)


# ---------------------------------------------------------------- into the user's file

def test_adding_to_a_glb_keeps_everything_that_was_there(tmp_path):
    into = tmp_path / "character.glb"
    shutil.copy(SAMPLES / "head.glb", into)
    before = read_gltf(into)
    out, ls = bake(tmp_path, "arkit", into=str(into))
    assert_valid(out)
    after = read_gltf(out)
    assert after.blob[:len(before.blob)] == before.blob  # existing binary data untouched, only appended
    for key, value in before.doc.items():
        if key in ("bufferViews", "accessors"):
            assert after.doc[key][:len(value)] == value
        elif key != "buffers":
            assert after.doc[key] == value, key
    assert [a["name"] for a in after.doc["animations"]] == ["speech"]
    t, w, names, _ = animation(out)["head"]
    np.testing.assert_allclose(sample(ls.curves.times, t, w, "LINEAR")[:, names.index("jawOpen")],
                               ls.curves.channel("jawOpen"), atol=1e-4)


def test_a_gltf_with_an_external_buffer_gives_a_self_contained_gltf(tmp_path):
    g = read_gltf(SAMPLES / "head.glb")
    src = tmp_path / "src"
    src.mkdir()
    (src / "head.bin").write_bytes(bytes(g.blob))
    g.doc["buffers"][0]["uri"] = "head.bin"
    (src / "head.gltf").write_text(json.dumps(g.doc))
    outdir = tmp_path / "elsewhere"
    outdir.mkdir()
    out, ls = bake(outdir, "oculus", "talking.gltf", into=str(src / "head.gltf"))
    assert_valid(out)
    doc = json.loads(out.read_text())
    assert all(b["uri"].startswith("data:") for b in doc["buffers"])
    t, w, names, _ = animation(out)["head"]
    np.testing.assert_allclose(sample(ls.curves.times, t, w, "LINEAR")[:, names.index("viseme_aa")],
                               ls.curves.channel("viseme_aa"), atol=1e-4)


def _vrm(tmp_path, version: str):
    """A VRM built from the sample head: lip expressions bound to its viseme targets, an MToon material."""
    g = head_gltf(sample_head())
    doc = g.doc
    head_node = next(i for i, n in enumerate(doc["nodes"]) if n.get("name") == "head")
    head_mesh = doc["nodes"][head_node]["mesh"]
    names = doc["meshes"][head_mesh]["extras"]["targetNames"]
    lips = {"aa": "viseme_aa", "ih": "viseme_ih", "ou": "viseme_ou", "ee": "viseme_E", "oh": "viseme_oh"}
    if version == "1.0":
        doc["materials"][0]["extensions"] = {"VRMC_materials_mtoon": {"specVersion": "1.0",
                                                                      "shadeColorFactor": [1, 0, 0]}}
        doc["extensionsUsed"] = ["VRMC_vrm", "VRMC_materials_mtoon"]
        doc["extensions"] = {"VRMC_vrm": {
            "specVersion": "1.0", "meta": {"name": "test head", "authors": ["visemes tests"],
                                           "licenseUrl": "https://vrm.dev/licenses/1.0/"},
            "humanoid": {"humanBones": {"head": {"node": 0}}},
            "expressions": {"preset": {
                k: {"morphTargetBinds": [{"node": head_node, "index": names.index(v), "weight": 1.0}],
                    "isBinary": False, "overrideMouth": "none"} for k, v in lips.items()},
                "custom": {"smirk": {"morphTargetBinds": [
                    {"node": head_node, "index": names.index("mouthSmileLeft"), "weight": 0.5}]}}}}}
    else:
        doc["extensionsUsed"] = ["VRM"]
        doc["extensions"] = {"VRM": {"exporterVersion": "tests", "specVersion": "0.0",
                                     "materialProperties": [{"name": "head", "shader": "VRM/MToon"}],
                                     "blendShapeMaster": {
            "blendShapeGroups": [{"name": k.upper()[0] if k != "ee" else "E", "presetName": k[0] if k != "ee" else "e",
                                  "binds": [{"mesh": head_mesh, "index": names.index(v), "weight": 100}]}
                                 for k, v in lips.items()]}}}
    path = tmp_path / f"avatar{version}.vrm"
    path.write_bytes(to_glb(doc, bytes(g.blob)))
    return path


@pytest.mark.parametrize("version, rig", [("1.0", "vrm"), ("0.x", "vrm0")])
def test_vrm_lip_expressions_are_driven_and_every_extension_is_kept(tmp_path, version, rig):
    into = _vrm(tmp_path, version)
    before = copy.deepcopy(read_gltf(into).doc)
    out, ls = bake(tmp_path, rig, "talking.vrm", into=str(into))
    assert_valid(out)
    after = read_gltf(out).doc
    assert after["extensions"] == before["extensions"]
    assert after["extensionsUsed"] == before["extensionsUsed"]
    assert after["materials"] == before["materials"]
    t, w, names, _ = animation(out)["head"]
    got = sample(ls.curves.times, t, w, "LINEAR")
    rig_aa = ls.curves.channels[0]
    np.testing.assert_allclose(got[:, names.index("viseme_aa")], ls.curves.channel(rig_aa), atol=1e-4)
    assert got[:, names.index("viseme_aa")].max() > 0.5


def test_arkit_shapes_and_vrm_lip_expressions_together(tmp_path):
    into = _vrm(tmp_path, "1.0")
    out = tmp_path / "both.vrm"
    r = run_cli("bake", TIMING, "--rig", "arkit", "--add-rig", "vrm", "--format", "gltf", "--into", into, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "57 of 57 channels matched" in r.stderr
    assert_valid(out)
    arkit, vrm = lipsync("arkit").curves, lipsync("vrm").curves
    t, w, names, _ = animation(out)["head"]
    got = sample(arkit.times, t, w, "LINEAR")
    np.testing.assert_allclose(got[:, names.index("jawOpen")], arkit.channel("jawOpen"), atol=1e-4)
    np.testing.assert_allclose(got[:, names.index("viseme_aa")], vrm.channel("aa"), atol=1e-4)


def test_cc_style_names_are_retargeted_and_the_report_lists_what_did_not_match(tmp_path):
    head = sample_head()[0]
    cc = {"Mouth_Smile_L": "mouthSmileLeft", "Mouth_Smile_R": "mouthSmileRight", "Jaw_Open": "jawOpen",
          "Mouth_Close": "mouthClose", "Mouth_Pucker_Up_L": "mouthPucker", "Mouth_Pucker_Up_R": "mouthPucker",
          "Eye_Blink_L": "eyeBlinkLeft", "V_Open": "viseme_aa", "V_Explosive": "viseme_PP", "Custom_Thing": "cheekPuff"}
    part = MeshPart("cc_head", head.positions, head.triangles, head.colors,
                    {k: head.targets[v] for k, v in cc.items()})
    into = tmp_path / "cc.glb"
    into.write_bytes(serialise(head_gltf([part])))
    out = tmp_path / "out.glb"
    r = run_cli("bake", TIMING, "--rig", "arkit", "--format", "gltf", "--into", into, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "retarget: 6 of 52 channels matched" in r.stderr
    assert "mouthSmileLeft -> Mouth_Smile_L" in r.stderr and "mouthPucker -> Mouth_Pucker_Up_L, Mouth_Pucker_Up_R" \
        in r.stderr
    assert "unmatched channels:" in r.stderr and "mouthFunnel" in r.stderr.split("unmatched channels:")[1]
    assert_valid(out)
    ls = lipsync("arkit")
    t, w, names, _ = animation(out)["cc_head"]
    got = sample(ls.curves.times, t, w, "LINEAR")
    np.testing.assert_allclose(got[:, names.index("Mouth_Pucker_Up_R")], ls.curves.channel("mouthPucker"), atol=1e-4)
    assert np.all(got[:, names.index("Custom_Thing")] == 0)


def test_a_mapping_file_overrides_and_a_bad_mapping_is_named(tmp_path):
    into = tmp_path / "head.glb"
    shutil.copy(SAMPLES / "head.glb", into)
    mapping = tmp_path / "map.csv"
    mapping.write_text("aa,jawOpen\nih,mouthSmileLeft\nih,mouthSmileRight\n")
    out = tmp_path / "out.glb"
    r = run_cli("bake", TIMING, "--rig", "vrm", "--format", "gltf", "--into", into, "--map", mapping, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "5 of 5 channels matched" in r.stderr  # the mapping for two, the Oculus viseme aliases for the rest
    assert "aa -> jawOpen; ih -> mouthSmileLeft, mouthSmileRight; ou -> viseme_ou" in r.stderr
    mapping.write_text('{"aa": "noSuchTarget"}')
    r = run_cli("bake", TIMING, "--rig", "vrm", "--format", "gltf", "--into", into, "--map", mapping, "-o",
                tmp_path / "bad.glb")
    assert r.returncode == 1 and "noSuchTarget" in r.stderr and not (tmp_path / "bad.glb").exists()


# ---------------------------------------------------------------- bad input

def _no_targets(tmp_path):
    g = head_gltf([MeshPart("plain", *(lambda p: (p.positions, p.triangles))(sample_head()[0]))])
    path = tmp_path / "plain.glb"
    path.write_bytes(serialise(g))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda d: d.joinpath("cut.glb").write_bytes((SAMPLES / "head.glb").read_bytes()[:5000]), "truncated GLB"),
    (lambda d: d.joinpath("pic.glb").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)), "not a glTF file"),
    (lambda d: d.joinpath("v1.glb").write_bytes(b"glTF" + struct.pack("<II", 1, 40) + bytes(28)), "version 1"),
    (_no_targets, "has no meshes with morph targets"),
])
def test_bad_meshes_give_one_line_errors_and_no_output(tmp_path, make, message):
    make(tmp_path)
    into = next(p for p in tmp_path.iterdir() if p.suffix == ".glb")
    out = tmp_path / "out" / "result.glb"
    out.parent.mkdir()
    r = run_cli("bake", TIMING, "--format", "gltf", "--into", into, "-o", out)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr and str(into) in r.stderr
    assert list(out.parent.iterdir()) == []


def test_an_unwritable_output_gives_an_error_and_no_partial_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("bake", TIMING, "--format", "gltf", "-o", blocker / "out.glb")
    assert r.returncode == 1 and "error:" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_vrm_animation_carries_each_lip_expression_as_a_node_track(tmp_path):
    from gltf_tools import accessor, buffers, load

    out = tmp_path / "speech.vrma"
    r = run_cli("bake", TIMING, "--rig", "vrm", "--format", "vrma", "-o", out)
    assert r.returncode == 0, r.stderr
    assert_valid(out)
    g = load(out)
    ext = g.extensions["VRMC_vrm_animation"]
    assert g.extensionsUsed == ["VRMC_vrm_animation"] and ext["specVersion"] == "1.0"
    assert g.nodes[ext["humanoid"]["humanBones"]["hips"]["node"]].name == "hips"
    presets = ext["expressions"]["preset"]
    assert set(presets) == {"aa", "ih", "ou", "ee", "oh"}
    bufs = buffers(g, out)
    curves = lipsync("vrm").curves
    anim = g.animations[0]
    for ch in anim.channels:
        name = g.nodes[ch.target.node].name
        assert ch.target.path == "translation" and presets[name]["node"] == ch.target.node
        s = anim.samplers[ch.sampler]
        t, xyz = accessor(g, bufs, s.input), accessor(g, bufs, s.output)
        np.testing.assert_allclose(np.interp(curves.times, t, xyz[:, 0]), curves.channel(name), atol=1e-4)
        assert np.all(xyz[:, 1:] == 0)
