"""Exporters: one module per file format, behind one small interface.

Each format module defines ``NAME``, ``SUFFIX``, ``DESCRIPTION``, ``NEEDS``
(``"curves"`` or ``"cues"``: whether it writes continuous curves or a 2D
shape sequence) and ``render(lipsync, options) -> str | bytes``. Exporters know
formats, not phonetics: names come from the rig profile, timings from the
:class:`~visemes.lipsync.Lipsync`. Writing is atomic and happens here, once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from visemes.fileio import write_bytes, write_text
from visemes.lipsync import Lipsync

from . import curves_csv, moho_dat, rhubarb_json, rhubarb_tsv, rhubarb_xml, segments_tsv, visemes_json

MODULES: tuple[ModuleType, ...] = (
    visemes_json, curves_csv, segments_tsv, rhubarb_tsv, rhubarb_json, rhubarb_xml, moho_dat,
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
    """

    keyframe_error: float | None = None
    moho_fps: float = 24.0
    preston_blair: bool = False


def export(lipsync: Lipsync, fmt: str, path: str | Path, options: ExportOptions | None = None) -> None:
    """Write ``lipsync`` as ``fmt`` to ``path`` atomically (``"-"`` writes to standard output)."""
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
