"""Unity ``.anim``: an AnimationClip (YAML) of ``blendShape.NAME`` curves on a SkinnedMeshRenderer.

Values are Unity's blend shape percent (0..100). Keys carry explicit slopes:
with LINEAR, each key's in and out slopes are those of its neighbouring
segments (tangent mode Linear, both sides), so Unity plays exactly the
piecewise-linear curve we computed; with STEP, Constant tangents. The path of
the renderer (relative to the Animator) is ``--unity-path``; names come from
the rig, or from ``--into``'s targets after retargeting. Facts:
``../shared/docs/FORMATS-REFERENCE.md`` §4.1.
"""

from __future__ import annotations

import zlib

import numpy as np

from visemes.curves import channel_keys
from visemes.lipsync import Lipsync

NAME = "unity"
SUFFIX = ".anim"
NEEDS = "curves"
DESCRIPTION = "Unity AnimationClip (YAML): blendShape.NAME curves, 0..100, on a SkinnedMeshRenderer"
# every frame of 52 channels makes megabytes of YAML that Unity imports slowly; keys within 0.5 % of the
# curve look the same and are about a ninth of the size
DEFAULT_ERROR = 0.005
MESH_TARGETS = True
SKINNED_MESH_RENDERER = 137
TANGENTS = {"LINEAR": 69, "STEP": 103}  # broken | left mode << 1 | right mode << 5 (Linear 2, Constant 3)


def _num(x: float) -> str:
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return f"{float(x):.7g}"


def _keys(t: np.ndarray, v: np.ndarray, interpolation: str) -> list[str]:
    if interpolation == "STEP":
        slopes_in = slopes_out = np.full(len(t), np.inf)
    else:
        seg = np.diff(v) / np.maximum(np.diff(t), 1e-9) if len(t) > 1 else np.zeros(0)
        slopes_in = np.r_[0.0, seg]
        slopes_out = np.r_[seg, 0.0]
    mode = TANGENTS[interpolation]
    lines = []
    for i in range(len(t)):
        lines += ["      - serializedVersion: 3", f"        time: {_num(t[i])}", f"        value: {_num(v[i])}",
                  f"        inSlope: {_num(slopes_in[i])}", f"        outSlope: {_num(slopes_out[i])}",
                  f"        tangentMode: {mode}", "        weightedMode: 0", "        inWeight: 0.33333334",
                  "        outWeight: 0.33333334"]
    return lines


def _curves(lipsync: Lipsync, options) -> list[tuple[str, np.ndarray, np.ndarray]]:
    c = lipsync.curves
    out = []
    for name in c.channels:
        y = c.channel(name).astype(np.float64)
        k = channel_keys(y, options.interpolation, DEFAULT_ERROR if options.keyframe_error is None
                         else options.keyframe_error)
        y = y * 100.0
        t, v = c.times[k], y[k]
        if lipsync.duration > t[-1] + 1e-6:
            t, v = np.r_[t, lipsync.duration], np.r_[v, v[-1]]
        out.append((name, t, v))
    return out


def _float_curves(curves, path: str, interpolation: str) -> list[str]:
    lines = []
    for name, t, v in curves:
        lines += ["  - curve:", "      serializedVersion: 2", "      m_Curve:", *_keys(t, v, interpolation),
                  "      m_PreInfinity: 2", "      m_PostInfinity: 2", "      m_RotationOrder: 4",
                  f"    attribute: blendShape.{name}", f"    path: {path}",
                  f"    classID: {SKINNED_MESH_RENDERER}", "    script: {fileID: 0}"]
    return lines


def render(lipsync: Lipsync, options) -> str:
    curves = _curves(lipsync, options)
    path = options.unity_path
    stop = _num(lipsync.duration)
    bindings = []
    for name, _, _ in curves:
        bindings += ["    - serializedVersion: 2", f"      path: {zlib.crc32(path.encode('utf-8'))}",
                     f"      attribute: {zlib.crc32(f'blendShape.{name}'.encode())}",
                     "      script: {fileID: 0}", f"      typeID: {SKINNED_MESH_RENDERER}", "      customType: 20",
                     "      isPPtrCurve: 0"]
    float_curves = _float_curves(curves, path, options.interpolation)
    lines = [
        "%YAML 1.1", "%TAG !u! tag:unity3d.com,2011:", "--- !u!74 &7400000", "AnimationClip:",
        "  m_ObjectHideFlags: 0", "  m_CorrespondingSourceObject: {fileID: 0}", "  m_PrefabInstance: {fileID: 0}",
        "  m_PrefabAsset: {fileID: 0}", f"  m_Name: {options.animation_name}", "  serializedVersion: 6",
        "  m_Legacy: 0", "  m_Compressed: 0", "  m_UseHighQualityCurve: 1", "  m_RotationCurves: []",
        "  m_CompressedRotationCurves: []", "  m_EulerCurves: []", "  m_PositionCurves: []", "  m_ScaleCurves: []",
        "  m_FloatCurves:", *float_curves, "  m_PPtrCurves: []", f"  m_SampleRate: {_num(lipsync.curves.fps)}",
        "  m_WrapMode: 0", "  m_Bounds:", "    m_Center: {x: 0, y: 0, z: 0}", "    m_Extent: {x: 0, y: 0, z: 0}",
        "  m_ClipBindingConstant:", "    genericBindings:", *bindings, "    pptrCurveMapping: []",
        "  m_AnimationClipSettings:", "    serializedVersion: 2", "    m_AdditiveReferencePoseClip: {fileID: 0}",
        "    m_AdditiveReferencePoseTime: 0", "    m_StartTime: 0", f"    m_StopTime: {stop}",
        "    m_OrientationOffsetY: 0", "    m_Level: 0", "    m_CycleOffset: 0",
        "    m_HasAdditiveReferencePose: 0", "    m_LoopTime: 0",
        "    m_LoopBlend: 0", "    m_LoopBlendOrientation: 0", "    m_LoopBlendPositionY: 0",
        "    m_LoopBlendPositionXZ: 0", "    m_KeepOriginalOrientation: 0", "    m_KeepOriginalPositionY: 1",
        "    m_KeepOriginalPositionXZ: 0", "    m_HeightFromFeet: 0", "    m_Mirror: 0",
        "  m_EditorCurves:", *float_curves, "  m_EulerEditorCurves: []", "  m_HasGenericRootTransform: 0",
        "  m_HasMotionFloatCurves: 0", "  m_Events: []",
    ]
    return "\n".join(lines) + "\n"
