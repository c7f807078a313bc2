"""VRM Animation (.vrma, ``VRMC_vrm_animation`` 1.0): the rig's channels as VRM 1.0 expression tracks.

VRM runtimes compute morph weights from expressions every frame, so for VRM 1.0 avatars an expression
animation is what plays: each expression gets a node whose translation X is its weight (0..1). Channels named
like a VRM 1.0 preset (``aa ih ou ee oh``, ``blink``, ``happy``...; the ``vrm`` rig) become preset tracks, other
names custom ones. The humanoid part holds only a ``hips`` node, as the format requires one. Facts:
``../shared/docs/FORMATS-REFERENCE.md`` §2.1.
"""

from __future__ import annotations

import numpy as np

from visemes.lipsync import Lipsync

from .gltf import Gltf, add_accessor, serialise

NAME = "vrma"
SUFFIX = ".vrma"
NEEDS = "curves"
DESCRIPTION = "VRM Animation 1.0: expression tracks (aa ih ou ee oh...) for VRM 1.0 avatars"
PRESETS = ("happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft",
           "blinkRight", "lookUp", "lookDown", "lookLeft", "lookRight", "neutral")


def render(lipsync: Lipsync, options) -> bytes:
    c = lipsync.curves
    g = Gltf({"asset": {"version": "2.0", "generator": "visemes"}, "extensionsUsed": ["VRMC_vrm_animation"],
              "scene": 0, "scenes": [{"nodes": [0]}],
              "nodes": [{"name": "hips", "children": list(range(1, len(c.channels) + 1))}]}, bytearray())
    expressions: dict[str, dict] = {"preset": {}, "custom": {}}
    times = c.times
    values = c.values
    if lipsync.duration > times[-1] + 1e-6:
        times, values = np.r_[times, lipsync.duration], np.vstack([values, values[-1:]])
    inp = add_accessor(g, times.astype(np.float32), bounds=True)
    channels, samplers = [], []
    for i, name in enumerate(c.channels):
        g.doc["nodes"].append({"name": name})
        node = len(g.doc["nodes"]) - 1
        expressions["preset" if name in PRESETS else "custom"][name] = {"node": node}
        xyz = np.zeros((len(times), 3), np.float32)
        xyz[:, 0] = values[:, i]
        samplers.append({"input": inp, "output": add_accessor(g, xyz, "VEC3"),
                         "interpolation": options.interpolation})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": "translation"}})
    g.doc["animations"] = [{"name": options.animation_name, "channels": channels, "samplers": samplers}]
    g.doc["extensions"] = {"VRMC_vrm_animation": {
        "specVersion": "1.0", "humanoid": {"humanBones": {"hips": {"node": 0}}},
        "expressions": {k: v for k, v in expressions.items() if v}}}
    return serialise(g)
