"""Viseme segments as TSV: ``start end viseme confidence``, the 15 canonical visemes, no header."""

from __future__ import annotations

from visemes.lipsync import Lipsync

NAME = "segments"
SUFFIX = ".tsv"
NEEDS = "curves"
DESCRIPTION = "TSV rows 'start end viseme confidence' (15 canonical visemes), for scoring and tools"


def render(lipsync: Lipsync, options) -> str:
    return "".join(f"{s.start:.3f}\t{s.end:.3f}\t{s.label}\t{s.confidence:.3f}\n" for s in lipsync.visemes.segments)
