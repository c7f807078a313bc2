"""glTF 2.0 (.glb, .gltf, .vrm): a morph-target ``weights`` animation.

Two uses. With ``--into FILE`` the animation is added to an existing glTF, GLB
or VRM: its JSON is kept as it is (extensions, VRM expressions, materials,
images) and only new bufferViews, accessors and one animation are appended; the
binary chunk grows at its end, so existing offsets stay valid. Without it the
output is the sample head (:mod:`visemes.rigs.head`) with the animation.

Curves arrive named after the file's targets (see :mod:`visemes.rigs.retarget`).
A target name is a morph target (``mesh.extras.targetNames``) or, in a VRM, an
expression (1.0 ``aa ih ou ee oh``..., 0.x ``A I U E O``...), which is baked
through its binds into the morph weights it stands for.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import struct
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from visemes.curves import shared_keys, step_keys
from visemes.errors import VisemesError, file_error
from visemes.fileio import read_input
from visemes.lipsync import Lipsync
from visemes.mesh import MeshPart

NAME = "gltf"
SUFFIX = ".glb"
NEEDS = "curves"
DESCRIPTION = "glTF 2.0 morph weights animation, added --into a .glb/.gltf/.vrm or on the sample head"
MESH_TARGETS = True
SAMPLE_HEAD = True
HEAD_ROTATION = True

MAX_RESOURCE_BYTES = 1 << 30
MAX_ACCESSOR_COUNT = 1 << 26  # values of an accessor with no data of its own (all zero, sparse on top)
MAX_MODEL_BYTES = 2 << 30
GLB_MAGIC, JSON_CHUNK, BIN_CHUNK = 0x46546C67, 0x4E4F534A, 0x004E4942
FLOAT, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass
class Gltf:
    """A glTF document: its JSON, the GLB binary chunk (``None`` for .gltf) and where it came from."""

    doc: dict
    blob: bytearray | None
    path: Path | None = None
    new_buffer: bytearray = field(default_factory=bytearray)

    @property
    def binary(self) -> bool:
        return self.blob is not None


# ---------------------------------------------------------------- reading and writing

def read_gltf(path: str | Path) -> Gltf:
    """Parse a .glb/.vrm (binary) or .gltf (JSON) file.

    Raises
    ------
    VisemesError
        Naming the file, when it is not glTF 2.0 or is damaged.
    """
    path = Path(path)
    data = read_input(path, "glTF model", MAX_MODEL_BYTES)
    if data[:4] == b"glTF":
        doc, blob = _parse_glb(path, data)
    else:
        try:
            doc, blob = json.loads(data.decode("utf-8-sig")), None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise file_error(path, "not a glTF file (neither GLB nor glTF JSON)") from None
    asset = doc.get("asset") if isinstance(doc, dict) else None
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2"):
        raise file_error(path, "not a glTF 2.0 file (asset.version is not 2.x)")
    return Gltf(doc, blob, path)


@contextlib.contextmanager
def damaged(path: str | Path | None) -> Iterator[None]:
    """Turn the errors that a structurally broken document raises while we walk it (a mesh index past
    the end, a list where an object belongs) into one line that blames the model, not the timing file."""
    try:
        yield
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError, RecursionError) as e:
        what = f"missing {e.args[0]!r}" if isinstance(e, KeyError) else str(e).splitlines()[0][:120] or type(e).__name__
        raise file_error(path or "sample head", f"damaged glTF structure ({what})") from None


def _parse_glb(path: Path, data: bytes) -> tuple[dict, bytearray]:
    if len(data) < 20:
        raise file_error(path, "truncated GLB (shorter than its header)")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise file_error(path, f"GLB version {version}; only glTF 2.0 is supported")
    if length > len(data):
        raise file_error(path, f"truncated GLB ({len(data)} of {length} bytes)")
    if length < len(data):
        raise file_error(path, f"damaged GLB: its header says {length} bytes but the file holds {len(data)}")
    doc, blob, pos = None, bytearray(), 12
    while pos + 8 <= length:
        size, kind = struct.unpack_from("<II", data, pos)
        chunk = data[pos + 8: pos + 8 + size]
        if len(chunk) != size:
            raise file_error(path, "truncated GLB chunk")
        if kind == JSON_CHUNK and doc is None:
            try:
                doc = json.loads(chunk.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
                why = "nested too deeply" if isinstance(e, RecursionError) else e
                raise file_error(path, f"GLB JSON chunk is not valid JSON ({why})") from None
        elif kind == BIN_CHUNK and not blob:
            blob = bytearray(chunk)
        pos += 8 + size
    if doc is None:
        raise file_error(path, "GLB without a JSON chunk")
    return doc, blob


def _pad(b: bytearray, fill: bytes = b"\0") -> None:
    b.extend(fill * (-len(b) % 4))


def to_glb(doc: dict, blob: bytes) -> bytes:
    """A GLB container: the JSON chunk (space-padded) and one BIN chunk (zero-padded)."""
    js = bytearray(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    _pad(js, b" ")
    body = bytearray(blob)
    _pad(body)
    chunks = struct.pack("<II", len(js), JSON_CHUNK) + js
    if body:
        chunks += struct.pack("<II", len(body), BIN_CHUNK) + body
    return struct.pack("<III", GLB_MAGIC, 2, 12 + len(chunks)) + chunks


def serialise(g: Gltf) -> bytes | str:
    """The document in its own container: GLB bytes, or self-contained glTF JSON text."""
    if g.binary:
        return to_glb(g.doc, bytes(g.blob))
    _embed_resources(g)
    return json.dumps(g.doc, ensure_ascii=False, indent=1) + "\n"


def _embed_resources(g: Gltf) -> None:
    """Turn relative buffer and image URIs into data URIs, so the output can live anywhere."""
    for kind, mime in (("buffers", "application/octet-stream"), ("images", None)):
        for item in g.doc.get(kind, []):
            uri = item.get("uri")
            if not uri:
                continue
            raw = read_resource(g, uri)  # data: URIs too: a malformed one is not copied on
            if uri.startswith("data:"):
                continue
            typ = mime or item.get("mimeType") or ("image/png" if uri.lower().endswith(".png") else "image/jpeg")
            item["uri"] = f"data:{typ};base64," + base64.b64encode(raw).decode("ascii")


_DATA_URI = re.compile(r"data:[\w.+-]*(?:/[\w.+-]+)?(?:;[\w.+-]+=[^;,]*)*;base64,", re.IGNORECASE)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


def read_resource(g: Gltf, uri: object) -> bytes:
    """The bytes a buffer or image ``uri`` of ``g`` names: a base64 ``data:`` URI, or a file given by a
    relative path inside the model's own folder.

    A model from the internet must not make us read other files: absolute paths, ``..``, other schemes,
    symbolic links that lead out of the folder, devices and FIFOs are refused, and files are size-bounded.

    Raises
    ------
    VisemesError
        Naming the model and the URI.
    """
    if not isinstance(uri, str):
        raise file_error(g.path, f"a buffer or image uri is not a string ({uri!r:.40})")
    shown = uri if len(uri) < 80 else uri[:77] + "..."
    if uri.startswith("data:"):
        m = _DATA_URI.match(uri)
        if m is None:
            raise file_error(g.path, f"the data URI {shown} is not base64 data")
        try:
            return base64.b64decode(uri[m.end():], validate=True)
        except binascii.Error:
            raise file_error(g.path, f"the data URI {shown} holds invalid base64") from None
    rel = urllib.parse.unquote(uri)
    parts = PurePosixPath(rel.replace("\\", "/")).parts
    if g.path is None or _SCHEME.match(rel) or rel.startswith(("/", "\\")) or ".." in parts or "\0" in rel:
        raise file_error(g.path, f"its resource {shown} is not a relative path inside the model's folder; "
                                 "only those and data: URIs are read")
    base = g.path.parent.resolve()
    src = (base / rel).resolve()
    if not src.is_relative_to(base):
        raise file_error(g.path, f"its resource {shown} leads out of the model's folder")
    try:
        return read_input(src, "glTF resource", MAX_RESOURCE_BYTES)
    except VisemesError as e:
        raise file_error(g.path, f"its resource {shown}: {str(e).removeprefix(f'{src}: ')}") from None


# ---------------------------------------------------------------- appending data

def _add_view(g: Gltf, raw: bytes, target: int | None = None) -> int:
    """Append bytes as a new bufferView (4-byte aligned) and return its index."""
    doc = g.doc
    if g.binary:
        buffers = doc.setdefault("buffers", [])
        if not buffers:
            buffers.append({"byteLength": 0})
        if "uri" in buffers[0]:
            raise file_error(g.path, "GLB whose first buffer is an external file; not supported")
        _pad(g.blob)
        offset, buffer = len(g.blob), 0
        g.blob.extend(raw)
        buffers[0]["byteLength"] = len(g.blob)
    else:
        if not g.new_buffer:
            doc.setdefault("buffers", []).append({"byteLength": 0})
        _pad(g.new_buffer)
        offset, buffer = len(g.new_buffer), len(doc["buffers"]) - 1
        g.new_buffer.extend(raw)
        doc["buffers"][buffer].update(byteLength=len(g.new_buffer), uri="data:application/octet-stream;base64,"
                                      + base64.b64encode(bytes(g.new_buffer)).decode("ascii"))
    view = {"buffer": buffer, "byteOffset": offset, "byteLength": len(raw)}
    if target is not None:
        view["target"] = target
    doc.setdefault("bufferViews", []).append(view)
    return len(doc["bufferViews"]) - 1


def add_accessor(g: Gltf, array: np.ndarray, kind: str = "SCALAR", target: int | None = None,
                 bounds: bool = False) -> int:
    """Append a float32 / uint16 / uint32 array as an accessor; ``bounds`` writes its min and max."""
    array = np.ascontiguousarray(array, dtype=np.float32 if array.dtype.kind == "f" else array.dtype)
    component = {np.dtype("float32"): FLOAT, np.dtype("uint16"): UNSIGNED_SHORT,
                 np.dtype("uint32"): UNSIGNED_INT}[array.dtype]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[kind]
    acc = {"bufferView": _add_view(g, array.astype(array.dtype.newbyteorder("<")).tobytes(), target),
           "componentType": component, "count": int(array.size // width), "type": kind}
    if bounds:
        flat = array.reshape(-1, width)
        acc["min"] = [float(x) for x in flat.min(axis=0)]
        acc["max"] = [float(x) for x in flat.max(axis=0)]
    g.doc.setdefault("accessors", []).append(acc)
    return len(g.doc["accessors"]) - 1


# ---------------------------------------------------------------- targets in a file

def morph_nodes(doc: dict) -> list[tuple[int, int, list[str]]]:
    """``(node, mesh, target names)`` for every node whose mesh has named morph targets."""
    out = []
    for n, node in enumerate(doc.get("nodes", [])):
        if "mesh" not in node:
            continue
        mesh = doc["meshes"][node["mesh"]]
        prims = mesh.get("primitives", [])
        count = len(prims[0].get("targets", [])) if prims else 0
        if not count:
            continue
        names = mesh.get("extras", {}).get("targetNames") or prims[0].get("extras", {}).get("targetNames") or []
        if len(names) != count:
            names = [f"target{i}" for i in range(count)]  # unnamed targets: only a mapping file can use them
        out.append((n, node["mesh"], [str(x) for x in names]))
    return out


def expressions(doc: dict) -> dict[str, list[tuple[int, int, float]]]:
    """VRM expressions: name -> ``(node, target index, weight 0..1)`` binds (VRM 1.0 and 0.x)."""
    ext = doc.get("extensions", {})
    out: dict[str, list[tuple[int, int, float]]] = {}
    vrm1 = ext.get("VRMC_vrm", {}).get("expressions", {})
    for group in ("preset", "custom"):
        for name, e in vrm1.get(group, {}).items():
            out[name] = [(b["node"], b["index"], float(b.get("weight", 1.0))) for b in e.get("morphTargetBinds", [])]
    nodes_of = {}
    for n, node in enumerate(doc.get("nodes", [])):
        if "mesh" in node:
            nodes_of.setdefault(node["mesh"], []).append(n)
    for g in ext.get("VRM", {}).get("blendShapeMaster", {}).get("blendShapeGroups", []):
        binds = [(n, b["index"], float(b.get("weight", 100)) / 100.0)
                 for b in g.get("binds", []) for n in nodes_of.get(b["mesh"], [])]
        preset = g.get("presetName")
        name = preset if preset and preset != "unknown" else g.get("name")
        if name:
            out.setdefault(name, binds)
    return out


def target_binds(doc: dict, use_expressions: bool = True) -> dict[str, list[tuple[int, int, float]]]:
    """Every name a curve may drive -> the morph weights it moves; expressions win over same-named targets."""
    out: dict[str, list[tuple[int, int, float]]] = {}
    for node, _, names in morph_nodes(doc):
        for i, name in enumerate(names):
            out.setdefault(name, []).append((node, i, 1.0))
    if use_expressions:
        out.update({k: v for k, v in expressions(doc).items() if v})
    return out


def target_names(path: str | Path, use_expressions: bool = True) -> list[str]:
    """Names in ``path`` that curves can drive (for :func:`visemes.rigs.retarget.match`).

    Raises
    ------
    VisemesError
        When the file has no morph targets.
    """
    g = read_gltf(path)
    with damaged(path):
        names = list(target_binds(g.doc, use_expressions))
    if not names:
        raise file_error(path, "has no meshes with morph targets to animate")
    return names


# ---------------------------------------------------------------- the animation

def node_weights(doc: dict, names: list[str], values: np.ndarray,
                 use_expressions: bool = True) -> dict[int, np.ndarray]:
    """Per animated node, ``[frames, targets]`` weights.

    Targets that no curve drives keep their rest weight; driven ones are the sum of
    what drives them (as VRM runtimes add expressions), clipped to 0..1.
    """
    binds = target_binds(doc, use_expressions)
    nodes = {n: (m, len(t)) for n, m, t in morph_nodes(doc)}
    out: dict[int, np.ndarray] = {}
    driven: set[tuple[int, int]] = set()
    for c, name in enumerate(names):
        for node, index, weight in binds.get(name, []):
            if node not in nodes:
                continue
            if node not in out:
                mesh, count = nodes[node]
                rest = doc["nodes"][node].get("weights") or doc["meshes"][mesh].get("weights") or [0.0] * count
                out[node] = np.tile(np.asarray(rest, dtype=np.float64), (len(values), 1))
            if (node, index) not in driven:
                out[node][:, index] = 0.0
                driven.add((node, index))
            out[node][:, index] += weight * values[:, c]
    return {n: np.clip(w, 0.0, 1.0) for n, w in out.items()}


def add_animation(g: Gltf, name: str, times: np.ndarray, weights: dict[int, np.ndarray],
                  interpolation: str = "LINEAR", max_error: float | None = None, end: float | None = None,
                  rotations: dict[int, np.ndarray] | None = None) -> int:
    """Append one animation with a ``weights`` channel per node (and a ``rotation`` channel per node of
    ``rotations``, ``[frames, 4]`` quaternions x, y, z, w); returns its index.

    ``times`` are the seconds of the rows of every array. With ``max_error`` the
    keys are reduced (LINEAR: within that error; STEP: repeated rows dropped).
    ``end`` adds a last key holding the final pose until then.
    """
    tracks = [(n, "weights", weights[n]) for n in sorted(weights)]
    tracks += [(n, "rotation", q) for n, q in sorted((rotations or {}).items())]
    table = np.concatenate([a for _, _, a in tracks], axis=1)
    keep = np.arange(len(times))
    if max_error is not None and interpolation == "LINEAR":
        keep, table = shared_keys(table, max_error)
    elif max_error is not None:
        keep = step_keys(table)
        table = table[keep]
    t = np.asarray(times, dtype=np.float64)[keep]
    if end is not None and end > t[-1] + 1e-6:
        t, table = np.r_[t, end], np.vstack([table, table[-1:]])
    inp = add_accessor(g, t.astype(np.float32), bounds=True)
    channels, samplers, col = [], [], 0
    for n, path, a in tracks:
        k = a.shape[1]
        block = table[:, col:col + k]
        if path == "rotation":  # keys reduced component-wise: make them unit quaternions again
            block = block / np.linalg.norm(block, axis=1, keepdims=True)
        out = add_accessor(g, block.astype(np.float32), "VEC4" if path == "rotation" else "SCALAR")
        col += k
        samplers.append({"input": inp, "output": out, "interpolation": interpolation})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": n, "path": path}})
    g.doc.setdefault("animations", []).append({"name": name, "channels": channels, "samplers": samplers})
    return len(g.doc["animations"]) - 1


def head_node(doc: dict) -> int | None:
    """The node that turns the head: a VRM humanoid head bone, a node named like a head bone, or the
    sample head's root."""
    for ext in ("VRMC_vrm", "VRM"):
        bones = doc.get("extensions", {}).get(ext, {}).get("humanoid", {}).get("humanBones")
        if isinstance(bones, dict) and isinstance(bones.get("head"), dict) and "node" in bones["head"]:
            return int(bones["head"]["node"])
        if isinstance(bones, list):  # VRM 0.x lists {bone, node}
            for b in bones:
                if b.get("bone") == "head" and "node" in b:
                    return int(b["node"])
    names = [str(n.get("name", "")).lower() for n in doc.get("nodes", [])]
    for i, name in enumerate(names):
        if name == "sample_head" or name == "head" or name.endswith(("_head", ":head", ".head")):
            return i
    return None


def head_rotations(lipsync: Lipsync, rest: list[float] | None = None) -> np.ndarray | None:
    """``[frames, 4]`` glTF rotations (x, y, z, w) of the head from the curves' head angle channels.

    glTF assets face +Z with +X on their left and +Y up (right-handed): turning to
    the left is a positive Y rotation, chin up a negative X one, tilting to the left
    a negative Z one. The turn is applied after the node's ``rest`` rotation.
    """
    from scipy.spatial.transform import Rotation

    from visemes.expression import head_angles

    c = lipsync.curves
    angles = head_angles(c.values, c.channels, lipsync.rig.ranges)
    if angles is None:
        return None
    yaw, pitch, roll = angles.T[:, :, None]  # one rotation per frame
    turn = (Rotation.from_euler("y", yaw, degrees=True) * Rotation.from_euler("x", -pitch, degrees=True)
            * Rotation.from_euler("z", -roll, degrees=True))
    return (Rotation.from_quat(rest if rest is not None else [0.0, 0.0, 0.0, 1.0]) * turn).as_quat()


# ---------------------------------------------------------------- the sample head

def head_gltf(parts: list[MeshPart]) -> Gltf:
    """A GLB document of the sample head: a root node with one node and mesh per part."""
    g = Gltf({"asset": {"version": "2.0", "generator": "visemes sample head"}, "scene": 0,
              "scenes": [{"name": "sample_head", "nodes": [0]}],
              "nodes": [{"name": "sample_head", "children": list(range(1, len(parts) + 1))}],
              "meshes": [], "materials": []}, bytearray())
    for part in parts:
        g.doc["materials"].append({"name": part.name, "doubleSided": part.name == "mouth",
                                   "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0,
                                                            "roughnessFactor": 0.7}})
        attributes = {"POSITION": add_accessor(g, part.positions, "VEC3", ARRAY_BUFFER, bounds=True),
                      "NORMAL": add_accessor(g, part.normals(), "VEC3", ARRAY_BUFFER)}
        if part.colors is not None:
            attributes["COLOR_0"] = add_accessor(g, part.colors, "VEC3", ARRAY_BUFFER)
        index_type = np.uint16 if len(part.positions) < 65535 else np.uint32
        prim = {"attributes": attributes, "material": len(g.doc["materials"]) - 1, "mode": 4,
                "indices": add_accessor(g, part.triangles.astype(index_type).ravel(), target=ELEMENT_ARRAY_BUFFER)}
        mesh: dict = {"name": part.name, "primitives": [prim]}
        if part.targets:
            prim["targets"] = [{"POSITION": add_accessor(g, d, "VEC3", ARRAY_BUFFER, bounds=True)}
                               for d in part.targets.values()]
            mesh["weights"] = [0.0] * len(part.targets)
            mesh["extras"] = {"targetNames": part.target_names}
        g.doc["meshes"].append(mesh)
        g.doc["nodes"].append({"name": part.name, "mesh": len(g.doc["meshes"]) - 1})
    return g


def render(lipsync: Lipsync, options) -> bytes | str:
    from visemes.rigs.head import sample_head

    g = read_gltf(options.into) if options.into else head_gltf(sample_head())
    if options.into:
        check_accessors(g)
    c = lipsync.curves
    with damaged(options.into):
        weights = node_weights(g.doc, c.channels, c.values, options.vrm_expressions)
        if not weights:
            raise file_error(options.into or "sample head", "none of the curves drives a morph target in it")
        rotations = {}
        node = head_node(g.doc)
        if node is not None:
            q = head_rotations(lipsync, g.doc["nodes"][node].get("rotation"))
            if q is not None:
                rotations[node] = q
        add_animation(g, options.animation_name, c.times, weights, options.interpolation, options.keyframe_error,
                      end=lipsync.duration, rotations=rotations)
        return serialise(g)


# ---------------------------------------------------------------- reading meshes (for previews)

_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def _buffer(g: Gltf, index: int) -> bytes:
    uri = g.doc["buffers"][index].get("uri")
    return bytes(g.blob or b"") if uri is None else read_resource(g, uri)


def check_accessors(g: Gltf) -> None:
    """Refuse a document whose buffers, views or accessors point past the data they describe, before an
    output copies them on or a reader allocates what their counts ask for.

    Raises
    ------
    VisemesError
        Naming the file and the first damaged accessor, view or buffer.
    """
    doc = g.doc
    with damaged(g.path):
        buffers = [int(b["byteLength"]) for b in doc.get("buffers", [])]
        if g.binary and buffers and "uri" not in doc["buffers"][0] and buffers[0] > len(g.blob):
            raise file_error(g.path, f"buffer 0 says {buffers[0]} bytes but the GLB holds {len(g.blob)}")
        views = doc.get("bufferViews", [])
        for i, v in enumerate(views):
            end = int(v.get("byteOffset", 0)) + int(v["byteLength"])
            if not 0 <= int(v.get("byteOffset", 0)) <= end <= buffers[v["buffer"]]:
                raise file_error(g.path, f"bufferView {i} lies outside buffer {v['buffer']}")
        for i, acc in enumerate(doc.get("accessors", [])):
            size = np.dtype(_COMPONENTS[acc["componentType"]]).itemsize * _WIDTHS[acc["type"]]
            count = int(acc["count"])
            if count < 1:
                raise file_error(g.path, f"accessor {i} has count {count}")
            if "bufferView" in acc:
                view = views[acc["bufferView"]]
                stride = int(view.get("byteStride") or size)
                need = int(acc.get("byteOffset", 0)) + stride * (count - 1) + size
                if acc.get("byteOffset", 0) < 0 or need > int(view["byteLength"]):
                    raise file_error(g.path, f"accessor {i} needs {need} bytes of bufferView {acc['bufferView']}, "
                                             f"which has {view['byteLength']}")
            elif count > MAX_ACCESSOR_COUNT:
                raise file_error(g.path, f"accessor {i} asks for {count} values without data")


def read_accessor(g: Gltf, index: int) -> np.ndarray:
    """An accessor's values as ``float32 [count, width]`` (dense, sparse and normalized integers handled)."""
    acc = g.doc["accessors"][index]
    dtype, width, count = np.dtype(_COMPONENTS[acc["componentType"]]), _WIDTHS[acc["type"]], acc["count"]
    out = np.zeros((count, width), dtype=np.float64)
    if "bufferView" in acc:
        view = g.doc["bufferViews"][acc["bufferView"]]
        data = _buffer(g, view["buffer"])
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        stride = view.get("byteStride") or dtype.itemsize * width
        rows = np.ndarray((count, width), dtype=dtype.newbyteorder("<"), buffer=data, offset=start,
                          strides=(stride, dtype.itemsize))
        out[:] = rows
    if "sparse" in acc:
        sp = acc["sparse"]
        iv, vv = g.doc["bufferViews"][sp["indices"]["bufferView"]], g.doc["bufferViews"][sp["values"]["bufferView"]]
        idt = np.dtype(_COMPONENTS[sp["indices"]["componentType"]])
        idx = np.frombuffer(_buffer(g, iv["buffer"]), idt.newbyteorder("<"), sp["count"],
                            iv.get("byteOffset", 0) + sp["indices"].get("byteOffset", 0))
        vals = np.frombuffer(_buffer(g, vv["buffer"]), dtype.newbyteorder("<"), sp["count"] * width,
                             vv.get("byteOffset", 0) + sp["values"].get("byteOffset", 0))
        out[idx.astype(np.int64)] = vals.reshape(-1, width)
    if acc.get("normalized") and dtype.kind in "iu":
        out = np.maximum(out / np.iinfo(dtype).max, -1.0)
    return out.astype(np.float32)


def _local_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T
    t = np.eye(4)
    t[:3, 3] = node.get("translation", [0, 0, 0])
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    r = np.eye(4)
    r[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    s = np.diag([*node.get("scale", [1, 1, 1]), 1.0])
    return t @ r @ s


def scene_parts(g: Gltf) -> list[tuple[int, MeshPart]]:
    """Every triangle primitive of the default scene as ``(node, MeshPart)`` in world space (rest pose; skins are
    not applied). Colours come from ``COLOR_0`` or the material's base colour; targets keep the mesh's order."""
    check_accessors(g)
    with damaged(g.path):
        return _scene_parts(g)


def _scene_parts(g: Gltf) -> list[tuple[int, MeshPart]]:
    doc = g.doc
    nodes = doc.get("nodes", [])
    scenes = doc.get("scenes") or [{"nodes": [i for i in range(len(nodes))
                                              if not any(i in n.get("children", []) for n in nodes)]}]
    out: list[tuple[int, MeshPart]] = []
    stack = [(n, np.eye(4)) for n in scenes[doc.get("scene", 0)].get("nodes", [])]
    seen: set[int] = set()
    while stack:
        n, parent = stack.pop()
        if n in seen:  # a node is in one place of a tree; a cycle in a damaged file must not loop
            continue
        seen.add(n)
        world = parent @ _local_matrix(nodes[n])
        stack += [(c, world) for c in nodes[n].get("children", [])]
        if "mesh" not in nodes[n]:
            continue
        mesh = doc["meshes"][nodes[n]["mesh"]]
        names = dict(enumerate(mesh.get("extras", {}).get("targetNames", [])))
        for k, prim in enumerate(mesh.get("primitives", [])):
            if prim.get("mode", 4) != 4 or "POSITION" not in prim["attributes"]:
                continue
            out.append((n, _part(g, prim, world, f"{nodes[n].get('name', n)}.{k}", names)))
    return out


def _part(g: Gltf, prim: dict, world: np.ndarray, name: str, names: dict[int, str]) -> MeshPart:
    pos = read_accessor(g, prim["attributes"]["POSITION"]).astype(np.float64)
    pos = pos @ world[:3, :3].T + world[:3, 3]
    if "indices" in prim:
        tris = read_accessor(g, prim["indices"]).astype(np.uint32).reshape(-1, 3)
    else:
        tris = np.arange(len(pos) - len(pos) % 3, dtype=np.uint32).reshape(-1, 3)
    if "COLOR_0" in prim["attributes"]:
        colors = read_accessor(g, prim["attributes"]["COLOR_0"])[:, :3]
    else:
        mat = g.doc.get("materials", [{}])[prim["material"]] if "material" in prim else {}
        base = mat.get("pbrMetallicRoughness", {}).get("baseColorFactor", [0.8, 0.8, 0.8, 1])[:3]
        colors = np.tile(np.asarray(base, dtype=np.float32), (len(pos), 1))
    targets = {names.get(i, f"target{i}"): read_accessor(g, t["POSITION"]) @ world[:3, :3].T.astype(np.float32)
               for i, t in enumerate(prim.get("targets", [])) if "POSITION" in t}
    return MeshPart(name, pos, tris, colors, targets)
