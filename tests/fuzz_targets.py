"""Fuzz targets: every parser we own, fed mutated and random inputs (tests/test_fuzz.py runs them small,
bench/fuzz.py runs 10,000 examples each and records crashes, hangs and memory).

A target takes bytes and must either return or raise :class:`~visemes.errors.VisemesError`: any other
exception is a crash, and a call that does not return within the budget is a hang.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from visemes.errors import VisemesError

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

# tokens that have broken parsers before: odd numbers, brackets, quotes, control bytes, BOMs
TOKENS = [b"nan", b"NaN", b"inf", b"-1", b"1e308", b"1e9", b"0", b"-0.0", b"[", b"]", b"{", b"}", b'"', b",", b":",
          b"\t", b"\n", b"\r\n", b"\x00", b"\xff", b"\xef\xbb\xbf", b"<", b">", b"</mouthCue>", b"&amp;", b"null",
          b"true", b"[" * 64, b"{" * 64, b"9" * 400, b"sil", b"m", b"PP", b"A", b"X", b"1e-320"]


@dataclass(frozen=True)
class Target:
    """A parser, the suffix its input file takes, and seed inputs that it accepts."""

    name: str
    suffix: str
    seeds: tuple[bytes, ...]
    call: Callable[[Path], object]


# ---------------------------------------------------------------- seeds

PHONES_TSV = b"0.000\t0.200\tsil\n0.200\t0.280\tm\n0.280\t0.450\taa\n0.450\t0.600\tp\n0.600\t0.900\tsil\n"
TEXTGRID = b'''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 0.9
tiers? <exists>
size = 1
item []:
    item [1]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 0.9
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.2
            text = ""
        intervals [2]:
            xmin = 0.2
            xmax = 0.5
            text = "m"
        intervals [3]:
            xmin = 0.5
            xmax = 0.9
            text = "a"
'''
TEXTGRID_SHORT = b'File type = "ooTextFile"\nObject class = "TextGrid"\n0\n0.9\n<exists>\n1\n"IntervalTier"\n' \
                 b'"phones"\n0\n0.9\n2\n0\n0.4\n"m"\n0.4\n0.9\n"a"\n'
RHUBARB_TSV = b"0.00\tX\n0.20\tA\n0.35\tD\n0.60\tX\n0.90\tX\n"
RHUBARB_JSON = json.dumps({"metadata": {"duration": 0.9}, "mouthCues": [
    {"start": 0.0, "end": 0.2, "value": "X"}, {"start": 0.2, "end": 0.4, "value": "A"},
    {"start": 0.4, "end": 0.9, "value": "D"}]}).encode()
RHUBARB_XML = (b'<?xml version="1.0" encoding="utf-8"?>\n<rhubarbResult><metadata><duration>0.9</duration></metadata>'
               b'<mouthCues><mouthCue start="0.00" end="0.20">X</mouthCue><mouthCue start="0.20" end="0.40">A'
               b'</mouthCue><mouthCue start="0.40" end="0.90">D</mouthCue></mouthCues></rhubarbResult>\n')
AZURE = json.dumps([{"AudioOffset": 0, "VisemeId": 0}, {"AudioOffset": 2_000_000, "VisemeId": 21},
                    {"AudioOffset": 4_000_000, "VisemeId": 2}]).encode()
POLLY = b'{"time":0,"type":"viseme","value":"sil"}\n{"time":200,"type":"viseme","value":"p"}\n' \
        b'{"time":350,"type":"viseme","value":"a"}\n{"time":500,"type":"word","value":"ma"}\n'
MANIFEST_CSV = b"input,rig,output\nline.tsv,vrm,out/a.json\nline.tsv,,out/b.json\n"
MANIFEST_JSON = json.dumps([{"input": "line.tsv", "output": "out/a.json"}, {"timing": "line.tsv", "rig": "vrm",
                                                                          "output": "out/b.json"}]).encode()
RIGS = tuple((SAMPLES.parent / "rigs" / f"{name}.json").read_bytes() for name in ("vrm", "rhubarb"))
MAPPING_JSON = json.dumps({"jawOpen": "Jaw", "mouthClose": ["LipsTogether", "Seal"], "mouthFunnel": ""}).encode()
MAPPING_CSV = b"jawOpen,Jaw\nmouthClose,LipsTogether\n# comment\nmouthFunnel,\n"
TURNS_TSV = b"start\tend\tspeaker\n0.0\t1.5\tAda\n1.5\t3.0\tBob\n"


TRIANGLE = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32).tobytes() * 2  # positions, then a target


def tiny_gltf(uri: str | None) -> dict:
    """A one-triangle glTF with one morph target (``jawOpen``) whose buffer (:data:`TRIANGLE`) is at ``uri``
    (None: the GLB's binary chunk)."""
    buffer = {"byteLength": 72} if uri is None else {"byteLength": 72, "uri": uri}
    return {"asset": {"version": "2.0"}, "buffers": [buffer],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36},
                            {"buffer": 0, "byteOffset": 36, "byteLength": 36}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                           "min": [0, 0, 0], "max": [1, 1, 0]},
                          {"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC3"}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "targets": [{"POSITION": 1}]}],
                        "weights": [0], "extras": {"targetNames": ["jawOpen"]}}],
            "nodes": [{"mesh": 0, "children": []}], "scenes": [{"nodes": [0]}], "scene": 0}


@cache
def _gltf_seeds() -> tuple[bytes, ...]:
    """A self-contained .gltf (data: URI) and the same as GLB."""
    import base64

    from visemes.exporters.gltf import to_glb

    data_uri = "data:application/octet-stream;base64," + base64.b64encode(TRIANGLE).decode()
    return json.dumps(tiny_gltf(data_uri)).encode(), to_glb(tiny_gltf(None), TRIANGLE)


@cache
def _fbx_seeds() -> tuple[bytes, ...]:
    from visemes.exporters import fbx
    from visemes.rigs.head import sample_head

    nodes = fbx.scene(_lipsync().curves, sample_head(), "speech", 0.9, "LINEAR", 0.01)
    return fbx.encode_binary(nodes), fbx.encode_ascii(nodes).encode()


@cache
def _wav_seed() -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    x = (np.sin(np.arange(1600) / 8) * 0.3).astype(np.float32)
    sf.write(buf, x, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@cache
def _lipsync():
    from visemes.animate import AnimationParams
    from visemes.bake import lipsync_from_timing
    from visemes.rigs import load_rig

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "line.tsv"
        path.write_bytes(PHONES_TSV)
        rig = load_rig("arkit")
        return lipsync_from_timing(path, rig, AnimationParams.for_rig(rig))


# ---------------------------------------------------------------- calls

def _timing(path: Path):
    from visemes.timing import read_timing

    return read_timing(path)


def _manifest(path: Path):
    from visemes.batch import read_manifest

    (path.parent / "line.tsv").write_bytes(PHONES_TSV)
    return read_manifest(path, ["json"], path.parent / "out")


def _rig(path: Path):
    from visemes.rigs import load_rig

    return load_rig(str(path))


def _mapping(path: Path):
    from visemes.rigs.retarget import read_mapping

    return read_mapping(path)


def _gltf(path: Path):
    from visemes.exporters import ExportOptions, gltf

    names = gltf.target_names(path)
    gltf.scene_parts(gltf.read_gltf(path))
    return names, gltf.render(_lipsync(), ExportOptions(into=str(path)))


def _fbx(path: Path):
    from visemes.exporters import fbx

    return fbx.target_names(path)


def _turns(path: Path):
    from visemes.scene import read_turns

    return read_turns(path)


def _wav(path: Path):
    from visemes.audio import load_audio

    return load_audio(path)


class _FakeWebSocket:
    """Just enough of a server connection for :func:`visemes.runtime.sources.receive_pcm` to read
    ``messages`` from it."""

    def __init__(self, messages: list[bytes | str]) -> None:
        self.messages = messages
        self.closed: tuple[int, str] | None = None

    def __aiter__(self):
        async def gen():
            for m in self.messages:
                if self.closed:
                    return
                yield m
        return gen()

    async def send(self, message: str) -> None:
        json.loads(message)  # whatever the source answers is JSON

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


def websocket_messages(data: bytes) -> list[bytes | str]:
    """Messages from bytes: split on 0xFE; a part that decodes as UTF-8 and starts with ``{`` is text."""
    out: list[bytes | str] = []
    for part in data.split(b"\xfe"):
        try:
            text = part.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        out.append(text if text is not None and text.startswith("{") else part)
    return out


def _ws(path: Path):
    from visemes.runtime.sources import PcmBuffer, WebSocketSource, receive_pcm

    buffer, errors = PcmBuffer(2.0), []
    asyncio.run(receive_pcm(_FakeWebSocket(websocket_messages(path.read_bytes())), buffer, errors))
    assert buffer.buffered <= buffer.max_samples + WebSocketSource.MAX_MESSAGE // 2, "the buffer is bounded"
    return buffer


def targets() -> list[Target]:
    return [
        Target("phones-tsv", ".tsv", (PHONES_TSV,), _timing),
        Target("textgrid", ".TextGrid", (TEXTGRID, TEXTGRID_SHORT), _timing),
        Target("rhubarb-tsv", ".tsv", (RHUBARB_TSV,), _timing),
        Target("rhubarb-json", ".json", (RHUBARB_JSON,), _timing),
        Target("rhubarb-xml", ".xml", (RHUBARB_XML,), _timing),
        Target("azure", ".json", (AZURE,), _timing),
        Target("polly", ".marks", (POLLY,), _timing),
        Target("manifest", ".csv", (MANIFEST_CSV, MANIFEST_JSON), _manifest),
        Target("rig-profile", ".json", RIGS, _rig),
        Target("mapping", ".json", (MAPPING_JSON, MAPPING_CSV), _mapping),
        Target("gltf", ".gltf", _gltf_seeds(), _gltf),
        Target("fbx", ".fbx", _fbx_seeds(), _fbx),
        Target("speaker-turns", ".tsv", (TURNS_TSV,), _turns),
        Target("wav", ".wav", (_wav_seed(),), _wav),
        Target("websocket-pcm", ".bin", (b'{"rate": 48000, "channels": 2}\xfe' + bytes(960) + b"\xfe" + bytes(7),
                                         b'{"type": "end"}'), _ws),
    ]


# ---------------------------------------------------------------- inputs

def mutate(seed: bytes, edits: list[tuple[int, int, int, bytes]]) -> bytes:
    """``seed`` with each ``(kind, position, length, token)`` edit: 0 insert, 1 delete, 2 replace, 3 duplicate a
    stretch, 4 flip a byte; positions wrap around the current length."""
    data = bytearray(seed)
    for kind, pos, length, token in edits:
        n = len(data)
        pos = pos % (n + 1)
        if kind == 0:
            data[pos:pos] = token
        elif kind == 1:
            del data[pos:pos + length]
        elif kind == 2:
            data[pos:pos + len(token)] = token
        elif kind == 3 and n:
            data[pos:pos] = data[pos:pos + length] * 3
        elif kind == 4 and n:
            data[pos % n] ^= 1 << (length % 8)
    return bytes(data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.sampled_from([1e308, -1.0, 0.0, 1e-300, 0.5, 3])
    | st.text(max_size=12) | st.sampled_from(["", "jawOpen", "data:", "../x", "/etc/passwd", "A", "sil", "2.0"]),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12)


def replace_in(tree, steps: list[int], value):
    """``tree`` with the node that ``steps`` lead to (each step picks a child, modulo their count) replaced
    by ``value``; a dict may also gain ``value`` under one of its keys' names with a suffix."""
    if not steps or not isinstance(tree, (dict, list)) or not tree:
        return value
    step, rest = steps[0], steps[1:]
    if isinstance(tree, list):
        i = step % len(tree)
        return [*tree[:i], replace_in(tree[i], rest, value), *tree[i + 1:]]
    keys = list(tree)
    key = keys[step % len(keys)]
    return {**tree, key: replace_in(tree[key], rest, value)}


def mutate_json(seed: bytes, edits: list[tuple[list[int], object]]) -> bytes:
    """A JSON (or GLB) seed with subtrees replaced by random JSON values: valid JSON of the wrong shape."""
    from visemes.exporters.gltf import _parse_glb, to_glb

    glb = seed[:4] == b"glTF"
    if glb:
        doc, blob = _parse_glb(Path("seed.glb"), seed)
    else:
        doc = json.loads(seed)
    for steps, value in edits:
        doc = replace_in(doc, steps, value)
    return to_glb(doc, bytes(blob)) if glb else json.dumps(doc).encode()


def _is_json(seed: bytes) -> bool:
    try:
        json.loads(seed)
    except ValueError:
        return seed[:4] == b"glTF"
    return True


def inputs(target: Target) -> st.SearchStrategy[bytes]:
    """Mutated seeds most of the time, raw bytes sometimes; JSON seeds also get valid JSON of wrong shapes."""
    edit = st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(1, 64),
                     st.one_of(st.sampled_from(TOKENS), st.binary(max_size=16)))
    mutated = st.builds(mutate, st.sampled_from(target.seeds), st.lists(edit, max_size=8))
    choices = [mutated, mutated, mutated, st.binary(max_size=512)]
    json_seeds = [seed for seed in target.seeds if _is_json(seed)]
    if json_seeds:
        tree_edit = st.tuples(st.lists(st.integers(0, 1000), max_size=6), JSON_VALUES)
        shaped = st.builds(mutate_json, st.sampled_from(json_seeds), st.lists(tree_edit, min_size=1, max_size=3))
        choices += [shaped, shaped, shaped]
    return st.one_of(*choices)


def run_one(target: Target, data: bytes, folder: Path) -> None:
    """Write ``data`` where the target reads it and call it; raises what the parser raises, except
    :class:`VisemesError` (a clear refusal is a correct answer to a broken file)."""
    path = folder / f"input{target.suffix}"
    path.write_bytes(data)
    if target.name == "gltf" and data[:4] == b"glTF":
        path = path.rename(path.with_suffix(".glb"))
    try:
        target.call(path)
    except VisemesError:
        pass
    finally:
        path.unlink(missing_ok=True)

