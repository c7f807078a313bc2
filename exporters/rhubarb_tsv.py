"""Rhubarb Lip Sync TSV: ``time<TAB>shape`` change points on a 0.01 s grid, the last line the final rest."""

from __future__ import annotations

from visemes.lipsync import Lipsync

NAME = "rhubarb-tsv"
SUFFIX = ".rhubarb.tsv"
NEEDS = "cues"
DESCRIPTION = "Rhubarb-compatible TSV (time, shape A-H/X), as rhubarb -f tsv writes it"


def centisecond_cues(lipsync: Lipsync) -> list[tuple[float, float, str]]:
    """Cues with times rounded to 0.01 s, as Rhubarb writes them; cues that collapse are dropped."""
    out: list[tuple[float, float, str]] = []
    for s in lipsync.cues.segments:
        a, b = round(s.start, 2), round(s.end, 2)
        if b <= a:
            continue
        if out and out[-1][2] == s.label:
            out[-1] = (out[-1][0], b, s.label)
        else:
            out.append((a, b, s.label))
    return out


def render(lipsync: Lipsync, options) -> str:
    cues = centisecond_cues(lipsync)
    rest = lipsync.rig.shapes["sil"]
    lines = [f"{a:.2f}\t{shape}" for a, _, shape in cues]
    lines.append(f"{round(lipsync.duration, 2):.2f}\t{rest}")
    return "\n".join(lines) + "\n"
