"""Unreal curve table CSV: a header row of key times, then one row of values per curve.

Import in the editor as a Curve Table (``ECSV_CurveTable``), choosing linear or
constant interpolation there. Row names are the rig's channel names, or the
``--into`` mesh's after retargeting; with the ``arkit`` rig they are the ARKit
names MetaHuman's ARKit mapping pose reads (Unreal compares names without
case). Values are weights 0..1. For morph target animation on a skeletal mesh,
import the ``fbx`` output instead (see the README). Facts:
``../shared/docs/FORMATS-REFERENCE.md`` §4.2.
"""

from __future__ import annotations

import numpy as np

from visemes.curves import shared_keys
from visemes.lipsync import Lipsync

NAME = "unreal"
SUFFIX = ".unreal.csv"
NEEDS = "curves"
DESCRIPTION = "Unreal Curve Table CSV: Name,t0,t1,... then one row per curve (weights 0..1)"
MESH_TARGETS = True


def render(lipsync: Lipsync, options) -> str:
    c = lipsync.curves
    keep, values = np.arange(c.frames), c.values.astype(np.float64)
    if options.keyframe_error is not None:
        keep, values = shared_keys(values, options.keyframe_error)
    times = c.times[keep]
    if lipsync.duration > times[-1] + 1e-6:
        times, values = np.r_[times, lipsync.duration], np.vstack([values, values[-1:]])
    lines = ["Name," + ",".join(f"{t:.4f}" for t in times)]
    for i, name in enumerate(c.channels):
        lines.append(name + "," + ",".join(f"{v:.4f}".rstrip("0").rstrip(".") if v else "0" for v in values[:, i]))
    return "\n".join(lines) + "\n"
