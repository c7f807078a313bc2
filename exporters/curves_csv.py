"""Curves as CSV: a ``time`` column, then one column per rig channel, one row per frame."""

from __future__ import annotations

from visemes.lipsync import Lipsync

NAME = "csv"
SUFFIX = ".csv"
NEEDS = "curves"
DESCRIPTION = "rig curves, one row per frame: time,channel1,channel2,..."


def render(lipsync: Lipsync, options) -> str:
    c = lipsync.curves
    lines = [",".join(["time", *c.channels])]
    lines += [f"{t:.6f}," + ",".join(f"{x:.4f}" for x in row) for t, row in zip(c.times, c.values, strict=True)]
    return "\n".join(lines) + "\n"
