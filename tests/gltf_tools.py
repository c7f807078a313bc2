"""Independent checks of glTF files: the Khronos validator (node) and pygltflib as a second reader."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
from pygltflib import GLTF2

VALIDATOR = Path(__file__).parent / "js" / "validate_gltf.js"
DTYPES = {5126: np.float32, 5123: np.uint16, 5125: np.uint32, 5121: np.uint8}
WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}


def validate(path: Path) -> dict:
    """The Khronos glTF-Validator's report for ``path`` (fails loudly when it cannot run)."""
    node = shutil.which("node")
    assert node, "node is needed for the glTF validator (apt-get install nodejs)"
    assert (VALIDATOR.parent / "node_modules" / "gltf-validator").is_dir(), \
        "run 'npm ci --prefix tests/js' (.ci/run does) to get gltf-validator"
    r = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def errors(report: dict) -> list[str]:
    return [f"{m['code']} {m.get('pointer', '')}: {m['message']}" for m in report["issues"]["messages"]
            if m["severity"] == 0]


def load(path: Path) -> GLTF2:
    g = GLTF2().load_binary(str(path)) if path.suffix in (".glb", ".vrm", ".vrma") else GLTF2().load(str(path))
    return g


def buffers(g: GLTF2, path: Path) -> list[bytes]:
    out = []
    for i, b in enumerate(g.buffers):
        if b.uri is None:
            assert i == 0
            out.append(g.binary_blob())
        elif b.uri.startswith("data:"):
            out.append(base64.b64decode(b.uri.split(",", 1)[1]))
        else:
            out.append((path.parent / b.uri).read_bytes())
    return out


def accessor(g: GLTF2, bufs: list[bytes], index: int) -> np.ndarray:
    a = g.accessors[index]
    view = g.bufferViews[a.bufferView]
    width = WIDTH[a.type]
    start = (view.byteOffset or 0) + (a.byteOffset or 0)
    data = np.frombuffer(bufs[view.buffer], dtype=DTYPES[a.componentType], count=a.count * width, offset=start)
    return data.reshape(a.count, width) if width > 1 else data


def animation(path: Path, name: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray, list[str], str]]:
    """Per animated node name: key times, ``[keys, targets]`` weights, target names, interpolation."""
    g = load(path)
    bufs = buffers(g, path)
    anim = next(a for a in reversed(g.animations) if name is None or a.name == name)
    out = {}
    for ch in anim.channels:
        if ch.target.path != "weights":  # the head's rotation: see rotations()
            continue
        s = anim.samplers[ch.sampler]
        node = g.nodes[ch.target.node]
        mesh = g.meshes[node.mesh]
        names = (mesh.extras or {}).get("targetNames", [])
        t = accessor(g, bufs, s.input)
        w = accessor(g, bufs, s.output).reshape(len(t), -1)
        out[node.name] = (t, w, names, s.interpolation)
    return out


def rotations(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per node name with a rotation channel in the last animation: key times and ``[keys, 4]`` quaternions."""
    g = load(path)
    bufs = buffers(g, path)
    anim = g.animations[-1]
    return {g.nodes[ch.target.node].name: (accessor(g, bufs, anim.samplers[ch.sampler].input),
                                           accessor(g, bufs, anim.samplers[ch.sampler].output))
            for ch in anim.channels if ch.target.path == "rotation"}


def sample(times: np.ndarray, keys: np.ndarray, values: np.ndarray, interpolation: str) -> np.ndarray:
    """Evaluate a sampled channel at ``times`` the way glTF players do."""
    if interpolation == "STEP":
        i = np.clip(np.searchsorted(keys, times + 1e-5, side="right") - 1, 0, len(keys) - 1)
        return values[i]
    return np.stack([np.interp(times, keys, values[:, k]) for k in range(values.shape[1])], axis=1)
