"""Rhubarb Lip Sync JSON: ``{"metadata": {soundFile, duration}, "mouthCues": [{start, end, value}]}``."""

from __future__ import annotations

import json

from visemes.lipsync import Lipsync

from .rhubarb_tsv import centisecond_cues

NAME = "rhubarb-json"
SUFFIX = ".rhubarb.json"
NEEDS = "cues"
DESCRIPTION = "Rhubarb-compatible JSON (metadata + mouthCues), as rhubarb -f json writes it"


def render(lipsync: Lipsync, options) -> str:
    doc = {
        "metadata": {"soundFile": lipsync.source, "duration": round(lipsync.duration, 2)},
        "mouthCues": [{"start": a, "end": b, "value": shape} for a, b, shape in centisecond_cues(lipsync)],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
