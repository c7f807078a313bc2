"""Rhubarb Lip Sync XML: ``<rhubarbResult>`` with metadata and ``<mouthCue start end>SHAPE</mouthCue>``."""

from __future__ import annotations

from xml.sax.saxutils import escape

from visemes.lipsync import Lipsync

from .rhubarb_tsv import centisecond_cues

NAME = "rhubarb-xml"
SUFFIX = ".xml"
NEEDS = "cues"
DESCRIPTION = "Rhubarb-compatible XML (rhubarbResult/mouthCues), as rhubarb -f xml writes it"


def render(lipsync: Lipsync, options) -> str:
    cues = "".join(f'    <mouthCue start="{a:.2f}" end="{b:.2f}">{escape(shape)}</mouthCue>\n'
                   for a, b, shape in centisecond_cues(lipsync))
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rhubarbResult>\n  <metadata>\n'
            f"    <soundFile>{escape(lipsync.source)}</soundFile>\n"
            f"    <duration>{lipsync.duration:.2f}</duration>\n  </metadata>\n"
            f"  <mouthCues>\n{cues}  </mouthCues>\n</rhubarbResult>\n")
