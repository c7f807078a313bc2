"""Exporters: one module per file format, behind one small interface.

Each format module defines ``NAME``, ``SUFFIX``, ``DESCRIPTION``, ``NEEDS``
(``"curves"`` or ``"cues"``: whether it writes continuous curves or a 2D
shape sequence) and ``render(lipsync, options) -> str | bytes``. Formats that
animate a mesh's morph targets also set ``MESH_TARGETS = True``: their curves
arrive renamed onto the ``--into`` file's targets by :func:`retarget` (or onto
the sample head's, for formats that write it: ``SAMPLE_HEAD = True``); ``HEAD_ROTATION = True`` keeps the
expression layer's head angle channels for a format that turns the head node. Exporters know
formats, not phonetics: names come from the rig profile, timings from the
:class:`~visemes.lipsync.Lipsync`. Writing is atomic and happens here, once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np

from visemes.errors import VisemesError
from visemes.fileio import write_bytes, write_text
from visemes.lipsync import Lipsync
from visemes.rigs import RigProfile

from . import (
    curves_csv,
    fbx,
    gltf,
    moho_dat,
    rhubarb_json,
    rhubarb_tsv,
    rhubarb_xml,
    segments_tsv,
    unity_anim,
    unreal_csv,
    visemes_json,
    vrma,
)

MODULES: tuple[ModuleType, ...] = (
    visemes_json, curves_csv, segments_tsv, rhubarb_tsv, rhubarb_json, rhubarb_xml, moho_dat, gltf, fbx,
    unity_anim, unreal_csv, vrma,
)
EXPORTERS: dict[str, ModuleType] = {m.NAME: m for m in MODULES}


@dataclass(frozen=True)
class ExportOptions:
    """Format options; each exporter reads the ones it knows.

    Attributes
    ----------
    keyframe_error : float, optional
        ``json``: also write keyframes reduced to this maximum error.
    moho_fps : float
        ``moho-dat``: frame rate of the frame numbers (Rhubarb's default is 24).
    preston_blair : bool
        ``moho-dat``: write Preston Blair names (MBP, etc, E, AI, O, U, FV, L, rest).
    into : str, optional
        Mesh formats: the user's file (.glb/.gltf/.vrm) to animate; default the sample head.
    mapping : str, optional
        Mesh formats: a channel -> target mapping file that overrides automatic retargeting.
    interpolation : str
        ``LINEAR`` or ``STEP`` keys.
    animation_name : str, optional
        Name of the animation (glTF) or take/clip; the command line gives the input's name when it is None.
    vrm_expressions : bool
        glTF/VRM: channels named like a VRM expression drive it (through its binds).
    fbx_ascii : bool
        ``fbx``: write ASCII FBX 7.4 instead of binary.
    unity_path : str
        ``unity``: transform path of the SkinnedMeshRenderer below the Animator ("" = the Animator's object).
    """

    keyframe_error: float | None = None
    moho_fps: float = 24.0
    preston_blair: bool = False
    into: str | None = None
    mapping: str | None = None
    interpolation: str = "LINEAR"
    animation_name: str | None = "speech"
    vrm_expressions: bool = True
    fbx_ascii: bool = False
    unity_path: str = ""


def target_match(rig: RigProfile, fmt: str, options: ExportOptions):
    """How ``rig``'s channels land on the morph targets ``fmt`` animates (``None`` for other formats).

    Returns a :class:`visemes.rigs.retarget.Match`; raises
    :class:`~visemes.errors.VisemesError` when nothing matches.
    """
    from visemes.rigs import retarget as rt

    module = EXPORTERS[fmt]
    if not getattr(module, "MESH_TARGETS", False) or not (options.into or getattr(module, "SAMPLE_HEAD", False)):
        return None
    if options.into:
        names = mesh_target_names(options.into, options.vrm_expressions and module is gltf)
    else:
        names = _sample_head_targets()
    mapping = rt.read_mapping(options.mapping) if options.mapping else None
    return rt.match(rig, names, mapping, source=str(options.into or "the sample head"))


def mesh_target_names(path: str | Path, use_expressions: bool = False) -> list[str]:
    """The names curves can drive in a mesh file: FBX blend shape channels, glTF/VRM morph targets
    (and VRM expressions, with ``use_expressions``)."""
    if Path(path).suffix.lower() == ".fbx":
        return fbx.target_names(path)
    return gltf.target_names(path, use_expressions)


def retarget(lipsync: Lipsync, fmt: str, options: ExportOptions) -> Lipsync:
    """``lipsync`` with its curves renamed onto the morph targets of the mesh ``fmt`` animates."""
    from visemes.rigs import retarget as rt

    m = target_match(lipsync.rig, fmt, options)
    if m is None:
        return lipsync
    curves = rt.apply(lipsync.curves, m)
    if getattr(EXPORTERS[fmt], "HEAD_ROTATION", False):  # head angles drive a node, not morph targets
        from visemes.curves import Curves
        from visemes.expression import HEAD_CHANNELS

        head = [c for c in lipsync.curves.channels if c in HEAD_CHANNELS]
        values = np.concatenate([curves.values, np.stack([lipsync.curves.channel(c) for c in head], axis=1)],
                                axis=1) if head else curves.values
        curves = Curves(curves.fps, curves.channels + head, values)
    return Lipsync(**{**lipsync.__dict__, "curves": curves})


@cache
def _sample_head_targets() -> list[str]:
    from visemes.rigs.head import sample_head

    return list(dict.fromkeys(n for part in sample_head() for n in part.target_names))


def export(lipsync: Lipsync, fmt: str, path: str | Path, options: ExportOptions | None = None) -> None:
    """Write ``lipsync`` as ``fmt`` to ``path`` atomically (``"-"`` writes to standard output).

    Raises
    ------
    VisemesError
        When the curves or times hold NaN or infinity: no format can carry them (bare ``NaN`` is not JSON).
    """
    if not (np.all(np.isfinite(lipsync.curves.values)) and np.isfinite(lipsync.duration)):
        raise VisemesError(f"{lipsync.source}: the curves hold values that are not numbers; nothing written")
    content = EXPORTERS[fmt].render(lipsync, options or ExportOptions())
    if str(path) == "-":
        if isinstance(content, bytes):
            sys.stdout.buffer.write(content)
        else:
            sys.stdout.write(content)
    elif isinstance(content, bytes):
        write_bytes(path, content)
    else:
        write_text(path, content)
