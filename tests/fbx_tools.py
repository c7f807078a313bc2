"""Independent FBX readers: ufbx (PyPI ``ufbx``) and Blender in background mode, each in its own process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

# ufbx's Python bindings crash while tearing down at exit, so the reader prints and leaves with os._exit
UFBX_SCRIPT = r"""
import gc, json, os, sys
gc.disable()  # the bindings' objects crash the cycle collector
import ufbx
s = ufbx.load_file(sys.argv[1])
lay = s.anim_layers[0] if len(s.anim_layers) else None
out = {"fps": s.settings.frames_per_second, "unit_meters": s.settings.unit_meters, "meshes": {}, "channels": {}}
keep = []  # hold every wrapper: the bindings free scene memory when one is dropped
def curve(ch):
    p = lay.find_anim_prop(ch, "DeformPercent") if lay is not None else None
    keep.append(p)
    if not p:
        return None
    c = p.anim_value.curves[0]
    keys = c.keyframes
    keep.extend([c, keys])
    return [[keys[i].time, keys[i].value, int(keys[i].interpolation)] for i in range(len(keys))]
for i in range(len(s.meshes)):
    m = s.meshes[i]
    entry = {"vertices": len(m.vertices), "channels": {}}
    for d in m.blend_deformers:
        for j in range(len(d.channels)):
            ch = d.channels[j]
            sh = ch.target_shape
            pos = sh.position_offsets
            keep.extend([m, d, ch, sh, pos])
            offsets = [[pos[k].x, pos[k].y, pos[k].z] for k in range(len(pos))]
            entry["channels"][ch.name] = {"keys": curve(ch), "indices": list(sh.offset_vertices),
                                          "offsets": offsets}
    out["meshes"][m.instances[0].name] = entry
for i in range(len(s.blend_channels)):
    ch = s.blend_channels[i]
    out["channels"][ch.name] = curve(ch)
sys.stdout.write(json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""

BLENDER_SCRIPT = r"""
import bpy, json, sys
path = sys.argv[sys.argv.index("--") + 1]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.fbx(filepath=path)
scene = bpy.context.scene
fps = scene.render.fps / scene.render.fps_base
start = scene.frame_start  # the importer puts FBX time 0 on the scene's first frame
out = {"fps": fps, "start": start, "meshes": {}}
for ob in bpy.data.objects:
    if ob.type != "MESH":
        continue
    keys = ob.data.shape_keys
    entry = {"vertices": len(ob.data.vertices), "shapes": [], "curves": {}}
    if keys:
        entry["shapes"] = [k.name for k in keys.key_blocks]
        if keys.animation_data and keys.animation_data.action:
            for fc in keys.animation_data.action.fcurves:
                name = fc.data_path.split('"')[1]
                entry["curves"][name] = [[(p.co[0] - start) / fps, p.co[1]] for p in fc.keyframe_points]
    out["meshes"][ob.name] = entry
print("VISEMES-JSON" + json.dumps(out))
"""


def read_ufbx(path: Path) -> dict:
    r = subprocess.run([sys.executable, "-c", UFBX_SCRIPT, str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def read_blender(path: Path) -> dict:
    blender = shutil.which("blender")
    assert blender, "Blender is needed to check FBX files (apt-get install blender; .ci/run does)"
    r = subprocess.run([blender, "-b", "--factory-startup", "--python-expr", BLENDER_SCRIPT, "--", str(path)],
                       capture_output=True, text=True, timeout=300)
    line = next((x for x in r.stdout.splitlines() if x.startswith("VISEMES-JSON")), None)
    assert r.returncode == 0 and line, r.stdout[-2000:] + r.stderr[-2000:]
    return json.loads(line.removeprefix("VISEMES-JSON"))


def evaluate(keys: list, times: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Linear interpolation through ``[[time, value, ...], ...]`` keys, values divided by ``scale``."""
    k = np.asarray([row[:2] for row in keys], dtype=np.float64)
    return np.interp(times, k[:, 0], k[:, 1]) / scale
