"""Our JSON: versioned, self-describing, validated by ``visemes.schema.json`` beside this file."""

from __future__ import annotations

import json

from visemes.lipsync import Lipsync
from visemes.version import version

NAME = "json"
SUFFIX = ".json"
NEEDS = "curves"
DESCRIPTION = "visemes JSON v1: visemes, phones, rig curves (and optional keyframes); schema in the repo"
FORMAT_VERSION = 1


def _segments(track, key: str) -> list[dict]:
    return [{"start": round(s.start, 6), "end": round(s.end, 6), key: s.label, "confidence": round(s.confidence, 4)}
            for s in track.segments]


def render(lipsync: Lipsync, options) -> str:
    c = lipsync.curves
    doc = {
        "format": "visemes",
        "version": FORMAT_VERSION,
        "generator": f"visemes {version()}",
        "source": lipsync.source,
        "duration": round(lipsync.duration, 6),
        "engine": lipsync.engine,
        "language": lipsync.language,
        "rig": {"name": lipsync.rig.name, "kind": lipsync.rig.kind, "channels": list(c.channels)},
        "visemes": _segments(lipsync.visemes, "viseme"),
    }
    if lipsync.phones is not None:
        doc["phone_set"] = lipsync.phones.phone_set
        doc["phones"] = _segments(lipsync.phones, "phone")
    if lipsync.cues is not None:
        doc["cues"] = _segments(lipsync.cues, "shape")
    doc["curves"] = {"fps": c.fps, "frames": c.frames,
                     "values": [[round(float(x), 4) for x in row] for row in c.values]}
    if options.keyframe_error is not None:
        keys = c.keyframes(options.keyframe_error)
        doc["keyframes"] = {
            "max_error": options.keyframe_error,
            "channels": {name: {"times": [round(float(t), 6) for t in times],
                                "values": [round(float(v), 4) for v in vals]}
                         for name, (times, vals) in zip(c.channels, keys, strict=True)},
        }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
