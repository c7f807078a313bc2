"""Moho / OpenToonz switch data (``MohoSwitch1``): 1-based frame numbers and shape names."""

from __future__ import annotations

from visemes.lipsync import Lipsync

NAME = "moho-dat"
SUFFIX = ".dat"
NEEDS = "cues"
DESCRIPTION = "Moho/OpenToonz switch layer data (MohoSwitch1, frame numbers at --moho-fps, default 24)"
PRESTON_BLAIR = {"A": "MBP", "B": "etc", "C": "E", "D": "AI", "E": "O", "F": "U", "G": "FV", "H": "L", "X": "rest"}


def render(lipsync: Lipsync, options) -> str:
    fps = options.moho_fps

    def name(shape: str) -> str:
        return PRESTON_BLAIR.get(shape, shape) if options.preston_blair else shape

    lines = ["MohoSwitch1"]
    last_frame = None
    for s in lipsync.cues.segments:
        frame = 1 + int(fps * s.start + 1e-6)
        if frame == last_frame:
            continue  # one switch per frame: the earlier cue keeps it
        lines.append(f"{frame} {name(s.label)}")
        last_frame = frame
    end = 1 + int(fps * lipsync.duration + 1e-6)
    if end != last_frame:
        lines.append(f"{end} {name(lipsync.rig.shapes['sil'])}")
    return "\n".join(lines) + "\n"
