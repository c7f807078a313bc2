"""Pictures of our exported files as Blender (from Debian, in background mode) shows them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

# Imports a .glb/.fbx, paints the mouth-interior objects green and the rest red (flat, unlit Workbench), puts a
# camera in front of the head and renders the animation at the given times (seconds after its first key).
RENDER_SCRIPT = r"""
import bpy, json, sys
import numpy
numpy.bool = bool  # Debian's Blender 3.4 glTF importer still uses an alias that NumPy 1.24 removed
from mathutils import Vector
args = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
if args["path"].endswith(".fbx"):
    bpy.ops.import_scene.fbx(filepath=args["path"])
else:
    bpy.ops.import_scene.gltf(filepath=args["path"])
scene = bpy.context.scene
fps = scene.render.fps / scene.render.fps_base
meshes = [ob for ob in bpy.data.objects if ob.type == "MESH"]
first = min(fc.keyframe_points[0].co[0] for ob in meshes
            if ob.data.shape_keys and ob.data.shape_keys.animation_data
            for fc in ob.data.shape_keys.animation_data.action.fcurves)
head = next(ob for ob in meshes if ob.name.startswith("head"))
corners = [head.matrix_world @ Vector(c) for c in head.bound_box]
lo = Vector([min(c[i] for c in corners) for i in range(3)])
hi = Vector([max(c[i] for c in corners) for i in range(3)])
scene.render.engine = "BLENDER_WORKBENCH"
scene.display.shading.light = "FLAT"
scene.display.shading.color_type = "OBJECT"
scene.view_settings.view_transform = "Standard"
scene.world = bpy.data.worlds.new("black")
scene.world.color = (0, 0, 0)
scene.render.resolution_x = scene.render.resolution_y = args["size"]
for ob in meshes:
    ob.color = (0, 1, 0, 1) if ob.name.split(".")[0] in args["interior"] else (1, 0, 0, 1)
cam = bpy.data.cameras.new("front")
cam.angle = 0.5236  # 30 degrees, as the preview
camera = bpy.data.objects.new("front", cam)
scene.collection.objects.link(camera)
scene.camera = camera
camera.location = (lo + hi) / 2 + Vector((0, -(hi - lo).length / 2 / 0.2679 * 1.05, 0))  # the face looks along -Y
camera.rotation_euler = (1.5708, 0, 0)
for k, t in enumerate(args["times"]):
    f = first + t * fps
    scene.frame_set(int(f), subframe=f - int(f))
    scene.render.filepath = f"{args['out']}/{k:03d}.png"
    bpy.ops.render.render(write_still=True)
"""


def interior_masks(path: Path, times: list[float], interior: tuple[str, ...], out: Path,
                   size: int = 360) -> list[np.ndarray]:
    """Where the mouth's inside shows, ``bool [size, size]`` per time, in Blender's render of ``path``."""
    from matplotlib import image

    blender = shutil.which("blender")
    assert blender, "Blender is needed (apt-get install blender python3-numpy; .ci/run does)"
    out.mkdir(parents=True, exist_ok=True)
    args = {"path": str(path), "times": times, "interior": list(interior), "size": size, "out": str(out)}
    # Blender's embedded Python takes its prefix from the first python3 on PATH: keep it on the system one, whose
    # packages (Debian's python3-numpy) its glTF importer needs, not this test's interpreter or virtualenv
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    env.pop("PYTHONHOME", None)
    r = subprocess.run([blender, "-b", "--factory-startup", "--python-expr", RENDER_SCRIPT, "--", json.dumps(args)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0 and "Traceback" not in r.stdout + r.stderr, r.stdout[-2000:] + r.stderr[-2000:]
    masks = []
    for k in range(len(times)):
        rgb = image.imread(out / f"{k:03d}.png")[..., :3]
        masks.append((rgb[..., 1] > 0.16) & (rgb[..., 0] < 0.08))
    return masks
