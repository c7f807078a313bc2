"""FBX 7.4 (binary, or ASCII on request): blend shape channel animation.

Without ``--into`` the file holds the sample head (mesh, blend shapes) and its
animation, which Unity, Unreal and Blender import as a talking head. With
``--into MESH`` (.fbx, .glb, .gltf or .vrm) it is curves only: one
``BlendShapeChannel`` per target of that mesh the curves drive, each with a
``DeformPercent`` curve (0..100), for tools that bind curves to an existing rig
by channel name. Unreal needs the mesh with its shapes (write the head, or use
Live Link); Unity users with their own mesh are better served by ``unity``.

Encoding facts (record layout, property codes, footer, fixed FileId and time,
1 s = 46,186,158,000 ticks) are in ``../shared/docs/FORMATS-REFERENCE.md`` §3.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from visemes.curves import Curves, channel_keys
from visemes.errors import file_error
from visemes.fileio import read_input
from visemes.lipsync import Lipsync
from visemes.mesh import MeshPart

NAME = "fbx"
SUFFIX = ".fbx"
NEEDS = "curves"
DESCRIPTION = "FBX 7.4 blend shape animation: the sample head, or curves only for --into's channel names"
MESH_TARGETS = True
SAMPLE_HEAD = True

VERSION = 7400
KTIME_PER_SECOND = 46_186_158_000
MAX_MODEL_BYTES = 2 << 30
HEAD_MAGIC = b"Kaydara FBX Binary\x20\x20\x00\x1a\x00"
FILE_ID = b"\x28\xb3\x2a\xeb\xb6\x24\xcc\xc2\xbf\xc8\xb0\x2a\xa9\x2b\xfc\xf1"
CREATION_TIME = "1970-01-01 10:00:00:000"  # fixed, with FILE_ID: the pair the Autodesk SDK accepts
FOOT_ID = b"\xfa\xbc\xab\x09\xd0\xc8\xd4\x66\xb1\x76\xfb\x83\x1c\xf7\x26\x7e"
FOOT_MAGIC = b"\xf8\x5a\x8c\x6a\xde\xf5\xd9\x7e\xec\xe9\x0c\xe3\x75\x8f\x29\x0b"
ALWAYS_SENTINEL = {"AnimationStack", "AnimationLayer"}
TIME_MODES = {120.0: 1, 100.0: 2, 60.0: 3, 50.0: 4, 48.0: 5, 30.0: 6, 25.0: 10, 24.0: 11}
INTERPOLATION_FLAGS = {"LINEAR": 0x4, "STEP": 0x2}
LINEAR_KEY_DATA = np.array([0.0, 0.0, 9.419963346924634e-30, 0.0], dtype=np.float32)


class Obj(NamedTuple):
    """An object's name and class: ``Name\\x00\\x01Class`` in binary, ``"Class::Name"`` in ASCII."""

    name: str
    cls: str


@dataclass
class Node:
    """One FBX record: a name, its properties and nested records.

    Property types follow the Python value: ``bool`` C, ``int`` I, ``np.int64`` L,
    ``float`` D, ``np.float32`` F, ``str``/:class:`Obj` S, ``bytes`` R, and numpy
    arrays of int32/int64/float32/float64 the array codes i/l/f/d.
    """

    name: str
    props: list = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def add(self, name: str, *props, children: list[Node] | None = None) -> Node:
        node = Node(name, list(props), children or [])
        self.children.append(node)
        return node


# ---------------------------------------------------------------- binary encoding

_ARRAY_CODES = {np.dtype("int32"): b"i", np.dtype("int64"): b"l", np.dtype("float32"): b"f",
                np.dtype("float64"): b"d"}


def _prop(p) -> bytes:
    if isinstance(p, bool):
        return b"C" + struct.pack("<?", p)
    if isinstance(p, np.int64):
        return b"L" + struct.pack("<q", int(p))
    if isinstance(p, int):
        return b"I" + struct.pack("<i", p)
    if isinstance(p, np.float32):
        return b"F" + struct.pack("<f", float(p))
    if isinstance(p, float):
        return b"D" + struct.pack("<d", p)
    if isinstance(p, Obj):
        raw = p.name.encode("utf-8") + b"\x00\x01" + p.cls.encode("utf-8")
        return b"S" + struct.pack("<I", len(raw)) + raw
    if isinstance(p, str):
        raw = p.encode("utf-8")
        return b"S" + struct.pack("<I", len(raw)) + raw
    if isinstance(p, bytes):
        return b"R" + struct.pack("<I", len(p)) + p
    if isinstance(p, np.ndarray):
        data = np.ascontiguousarray(p).astype(p.dtype.newbyteorder("<")).tobytes()
        encoding = 0
        if len(data) > 128:  # as the SDK does: deflate larger arrays
            data, encoding = zlib.compress(data, 1), 1
        return _ARRAY_CODES[p.dtype] + struct.pack("<III", len(p), encoding, len(data)) + data
    raise TypeError(f"no FBX property type for {type(p).__name__}")


def _record(node: Node, offset: int) -> bytes:
    props = b"".join(_prop(p) for p in node.props)
    name = node.name.encode("ascii")
    start = offset + 13 + len(name) + len(props)
    body = bytearray()
    for child in node.children:
        body += _record(child, start + len(body))
    if node.children or not node.props or node.name in ALWAYS_SENTINEL:
        body += bytes(13)
    end = start + len(body)
    return struct.pack("<IIIB", end, len(node.props), len(props), len(name)) + name + props + bytes(body)


def encode_binary(nodes: list[Node]) -> bytes:
    """A binary FBX 7.4 file: header, records, the top-level sentinel and the footer."""
    out = bytearray(HEAD_MAGIC + struct.pack("<I", VERSION))
    for node in nodes:
        out += _record(node, len(out))
    out += bytes(13)
    out += FOOT_ID + bytes(4)
    out += bytes(-len(out) % 16 or 16)
    out += struct.pack("<I", VERSION) + bytes(120) + FOOT_MAGIC
    return bytes(out)


# ---------------------------------------------------------------- ASCII encoding

def _ascii_prop(p) -> str:
    if isinstance(p, bool):
        return "T" if p else "F"
    if isinstance(p, (int, np.integer)):
        return str(int(p))
    if isinstance(p, (float, np.floating)):
        return repr(float(p)) if float(p) != int(p) else str(int(p))
    if isinstance(p, Obj):
        return f'"{p.cls}::{p.name}"'
    if isinstance(p, str):
        return '"' + p.replace('"', "&quot;") + '"'
    raise TypeError(f"no ASCII FBX form for {type(p).__name__}")


def _ascii_array(a: np.ndarray) -> str:
    values = ",".join(f"{float(x):.9g}" for x in a) if a.dtype.kind == "f" else ",".join(str(int(x)) for x in a)
    return f"*{len(a)} {{\n\ta: {values}\n}}"


def _ascii_node(node: Node, depth: int) -> list[str]:
    pad = "\t" * depth
    if len(node.props) == 1 and isinstance(node.props[0], np.ndarray):
        inner = _ascii_array(node.props[0]).replace("\n", "\n" + pad)
        return [f"{pad}{node.name}: {inner}"]
    props = ", ".join(_ascii_prop(p) for p in node.props if not isinstance(p, bytes))
    head = f"{pad}{node.name}: {props}".rstrip()
    if not node.children and node.props and node.name not in ALWAYS_SENTINEL:
        return [head]  # objects such as AnimationLayer keep their (empty) braces, or readers skip them
    lines = [head + " {"]
    for child in node.children:
        lines += _ascii_node(child, depth + 1)
    return [*lines, pad + "}"]


def encode_ascii(nodes: list[Node]) -> str:
    """An ASCII FBX 7.4 file (read by the Autodesk SDK, so Unity and Unreal; not by Blender)."""
    lines = ["; FBX 7.4.0 project file", "; Created by visemes", "; " + "-" * 52, ""]
    for node in nodes:
        if node.name == "FileId":  # raw bytes: binary files only
            continue
        lines += _ascii_node(node, 0)
        lines.append("")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the scene

class _Ids:
    """Unique int64 object ids, stable from run to run (files are reproducible)."""

    def __init__(self) -> None:
        self.next = 1_000_000

    def __call__(self) -> np.int64:
        self.next += 1
        return np.int64(self.next)


def _p70(*entries: tuple) -> Node:
    return Node("Properties70", [], [Node("P", list(e)) for e in entries])


def _ktime(seconds) -> np.int64:
    return np.int64(round(float(seconds) * KTIME_PER_SECOND))


def _header(fps: float, duration: float) -> list[Node]:
    ext = Node("FBXHeaderExtension")
    ext.add("FBXHeaderVersion", 1003)
    ext.add("FBXVersion", VERSION)
    ext.add("EncryptionType", 0)
    stamp = ext.add("CreationTimeStamp")
    for k, v in (("Version", 1000), ("Year", 1970), ("Month", 1), ("Day", 1), ("Hour", 10), ("Minute", 0),
                 ("Second", 0), ("Millisecond", 0)):
        stamp.add(k, v)
    ext.add("Creator", "visemes")
    mode = TIME_MODES.get(float(fps), 14)
    settings = Node("GlobalSettings", [], [Node("Version", [1000]), _p70(
        ("UpAxis", "int", "Integer", "", 1), ("UpAxisSign", "int", "Integer", "", 1),
        ("FrontAxis", "int", "Integer", "", 2), ("FrontAxisSign", "int", "Integer", "", 1),
        ("CoordAxis", "int", "Integer", "", 0), ("CoordAxisSign", "int", "Integer", "", 1),
        ("OriginalUpAxis", "int", "Integer", "", 1), ("OriginalUpAxisSign", "int", "Integer", "", 1),
        ("UnitScaleFactor", "double", "Number", "", 100.0),  # our metres, in FBX's centimetre units
        ("OriginalUnitScaleFactor", "double", "Number", "", 100.0),
        ("TimeMode", "enum", "", "", mode), ("CustomFrameRate", "double", "Number", "", float(fps)),
        ("TimeSpanStart", "KTime", "Time", "", np.int64(0)),
        ("TimeSpanStop", "KTime", "Time", "", _ktime(duration)))])
    return [ext, Node("FileId", [FILE_ID]), Node("CreationTime", [CREATION_TIME]), Node("Creator", ["visemes"]),
            settings]


def _mesh_objects(part: MeshPart, ids: _Ids, objects: Node, links: list) -> dict[str, np.int64]:
    """Model, geometry, blend shape deformer and shapes of one part; channel ids by target name."""
    model, geom = ids(), ids()
    objects.add("Model", model, Obj(part.name, "Model"), "Mesh", children=[
        Node("Version", [232]), _p70(("DefaultAttributeIndex", "int", "Integer", "", 0)),
        Node("Shading", [True]), Node("Culling", ["CullingOff"])])
    polys = part.triangles.astype(np.int32).copy()
    polys[:, 2] = -polys[:, 2] - 1  # the last index of each polygon is stored as ~index
    normals = part.normals()[part.triangles.ravel()].astype(np.float64).ravel()
    g = objects.add("Geometry", geom, Obj(part.name, "Geometry"), "Mesh")
    g.add("Vertices", part.positions.astype(np.float64).ravel())
    g.add("PolygonVertexIndex", polys.ravel())
    g.add("GeometryVersion", 124)
    g.add("LayerElementNormal", 0, children=[
        Node("Version", [102]), Node("Name", [""]), Node("MappingInformationType", ["ByPolygonVertex"]),
        Node("ReferenceInformationType", ["Direct"]), Node("Normals", [normals])])
    g.add("Layer", 0, children=[Node("Version", [100]), Node("LayerElement", [], [
        Node("Type", ["LayerElementNormal"]), Node("TypedIndex", [0])])])
    links += [("OO", model, np.int64(0)), ("OO", geom, model)]
    if not part.targets:
        return {}
    deformer = ids()
    objects.add("Deformer", deformer, Obj(part.name, "Deformer"), "BlendShape", children=[Node("Version", [100])])
    links.append(("OO", deformer, geom))
    channels = {}
    for name, delta in part.targets.items():
        moved = np.flatnonzero(np.any(delta != 0, axis=1))
        moved = moved if len(moved) else np.array([0])  # an empty shape confuses some readers
        shape = ids()
        objects.add("Geometry", shape, Obj(name, "Geometry"), "Shape", children=[
            Node("Version", [100]), Node("Indexes", [moved.astype(np.int32)]),
            Node("Vertices", [delta[moved].astype(np.float64).ravel()]),
            Node("Normals", [np.zeros(3 * len(moved), np.float64)])])
        channels[name] = _channel(name, ids, objects)
        links += [("OO", channels[name], deformer), ("OO", shape, channels[name])]
    return channels


def _channel(name: str, ids: _Ids, objects: Node) -> np.int64:
    cid = ids()
    objects.add("Deformer", cid, Obj(name, "SubDeformer"), "BlendShapeChannel", children=[
        Node("Version", [100]), Node("DeformPercent", [0.0]), Node("FullWeights", [np.array([100.0])])])
    return cid


def _animation(curves: Curves, channels: list[tuple[str, np.int64]], ids: _Ids, objects: Node, links: list,
               name: str, duration: float, interpolation: str, max_error: float | None) -> None:
    stack, layer = ids(), ids()
    span = (np.int64(0), _ktime(duration))
    objects.add("AnimationStack", stack, Obj(name, "AnimStack"), "", children=[_p70(
        ("LocalStart", "KTime", "Time", "", span[0]), ("LocalStop", "KTime", "Time", "", span[1]),
        ("ReferenceStart", "KTime", "Time", "", span[0]), ("ReferenceStop", "KTime", "Time", "", span[1]))])
    objects.add("AnimationLayer", layer, Obj("BaseLayer", "AnimLayer"), "")
    links.append(("OO", layer, stack))
    times = curves.times
    for target, channel in channels:
        y = curves.channel(target).astype(np.float64)
        k = channel_keys(y, interpolation, max_error)
        t, v = times[k], y[k] * 100.0
        if duration > t[-1] + 1e-6:
            t, v = np.r_[t, duration], np.r_[v, v[-1]]
        node, curve = ids(), ids()
        objects.add("AnimationCurveNode", node, Obj("DeformPercent", "AnimCurveNode"), "", children=[
            _p70(("d|DeformPercent", "Number", "", "A", float(v[0])))])
        objects.add("AnimationCurve", curve, Obj("", "AnimCurve"), "", children=[
            Node("Default", [float(v[0])]), Node("KeyVer", [4008]),
            Node("KeyTime", [np.array([_ktime(x) for x in t], dtype=np.int64)]),
            Node("KeyValueFloat", [v.astype(np.float32)]),
            Node("KeyAttrFlags", [np.array([INTERPOLATION_FLAGS[interpolation]], dtype=np.int32)]),
            Node("KeyAttrDataFloat", [LINEAR_KEY_DATA]),
            Node("KeyAttrRefCount", [np.array([len(t)], dtype=np.int32)])])
        links += [("OO", node, layer), ("OP", node, channel, "DeformPercent"), ("OP", curve, node, "d|DeformPercent")]


def _definitions(objects: Node) -> Node:
    counts: dict[str, int] = {"GlobalSettings": 1}
    for o in objects.children:
        counts[o.name] = counts.get(o.name, 0) + 1
    d = Node("Definitions", [], [Node("Version", [100]), Node("Count", [sum(counts.values())])])
    for kind, n in counts.items():
        d.add("ObjectType", kind, children=[Node("Count", [n])])
    return d


def scene(curves: Curves, parts: list[MeshPart] | None, name: str = "speech", duration: float | None = None,
          interpolation: str = "LINEAR", max_error: float | None = None) -> list[Node]:
    """The FBX records for ``curves``: on ``parts`` (meshes with shapes), or curves only when ``parts`` is None."""
    duration = curves.duration if duration is None else duration
    ids, objects, links = _Ids(), Node("Objects"), []
    driven: list[tuple[str, np.int64]] = []
    if parts is None:
        deformer = ids()
        objects.add("Deformer", deformer, Obj("visemes", "Deformer"), "BlendShape", children=[Node("Version", [100])])
        for target in curves.channels:
            cid = _channel(target, ids, objects)
            links.append(("OO", cid, deformer))
            driven.append((target, cid))
    else:
        for part in parts:
            channels = _mesh_objects(part, ids, objects, links)
            driven += [(t, channels[t]) for t in curves.channels if t in channels]
    _animation(curves, driven, ids, objects, links, name, duration, interpolation, max_error)
    connections = Node("Connections", [], [Node("C", list(link)) for link in links])
    takes = Node("Takes", [], [Node("Current", [name]), Node("Take", [name], [
        Node("FileName", [f"{name}.tak"]), Node("LocalTime", [np.int64(0), _ktime(duration)]),
        Node("ReferenceTime", [np.int64(0), _ktime(duration)])])])
    return [*_header(curves.fps, duration), _definitions(objects), objects, connections, takes]


def render(lipsync: Lipsync, options) -> bytes | str:
    from visemes.rigs.head import sample_head

    nodes = scene(lipsync.curves, None if options.into else sample_head(), options.animation_name, lipsync.duration,
                  options.interpolation, options.keyframe_error)
    return encode_ascii(nodes) if options.fbx_ascii else encode_binary(nodes)


# ---------------------------------------------------------------- reading channel names

def target_names(path: str | Path) -> list[str]:
    """Blend shape channel names in an FBX file (binary or ASCII)."""
    path = Path(path)
    data = read_input(path, "FBX model", MAX_MODEL_BYTES)
    if data.startswith(b"Kaydara FBX Binary"):
        try:
            names = [props[1].split(b"\x00\x01")[0].decode("utf-8", "replace") for name, props in _records(data)
                     if name == b"Deformer" and len(props) > 2 and props[2] == b"BlendShapeChannel"]
        except (struct.error, IndexError, KeyError, ValueError, zlib.error):
            raise file_error(path, "damaged binary FBX") from None
    elif b"FBXHeaderExtension" in data[:65536]:
        names = re.findall(r'"SubDeformer::([^"]*)",\s*"BlendShapeChannel"', data.decode("utf-8", "replace"))
    else:
        raise file_error(path, "not an FBX file")
    if not names:
        raise file_error(path, "has no blend shape channels to animate")
    return list(dict.fromkeys(names))


def _records(data: bytes):
    """``(name, string properties)`` of every record in a binary FBX (other property values are skipped)."""
    version = struct.unpack_from("<I", data, 23)[0]
    wide = version >= 7500
    head = struct.Struct("<QQQB" if wide else "<IIIB")
    stack = [(27, len(data))]
    while stack:
        pos, stop = stack.pop()
        while pos + head.size <= stop:
            end, nprops, _, nlen = head.unpack_from(data, pos)
            if end == 0:
                break
            if not pos < end <= stop:  # every record ends after it starts, inside its parent: no loops
                raise ValueError(f"record at byte {pos} ends at {end}")
            name = data[pos + head.size: pos + head.size + nlen]
            p = pos + head.size + nlen
            props = []
            for _ in range(nprops):
                code = data[p:p + 1]
                p += 1
                if code in (b"S", b"R"):
                    n = struct.unpack_from("<I", data, p)[0]
                    props.append(data[p + 4:p + 4 + n])
                    p += 4 + n
                elif len(code) == 1 and code in b"fdlibc":
                    p += 12 + struct.unpack_from("<III", data, p)[2]
                    props.append(None)
                else:
                    p += {b"Y": 2, b"C": 1, b"B": 1, b"Z": 1, b"I": 4, b"F": 4, b"D": 8, b"L": 8}[code]
                    props.append(None)
                if p > end:
                    raise ValueError(f"record at byte {pos} has properties past its end")
            yield name, props
            if p < end:
                stack.append((p, end))
            pos = end
