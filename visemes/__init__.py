"""visemes: speech in, a talking face out.

Data flows one way::

    timing file / audio -> Track (phones, visemes) -> animate -> Curves -> exporters

Quick use::

    import visemes
    lipsync = visemes.bake_file("line.tsv", [("json", "line.json")], visemes.Settings(rig="arkit"))
    lipsync.curves.values      # float32 [frames, channels]

or step by step::

    track = visemes.phones_to_visemes(visemes.read_timing("line.TextGrid"))
    rig = visemes.load_rig("vrm")
    curves, _ = visemes.animate(track, rig, visemes.AnimationParams(fps=30))
"""

from __future__ import annotations

import importlib

# Names are imported when first used (PEP 562), so 'visemes --version' and '--help' do not pay for NumPy,
# torch and the exporters.
_WHERE = {
    "EXPORTERS": "visemes.exporters", "ExportOptions": "visemes.exporters", "export": "visemes.exporters",
    "RigProfile": "visemes.rigs", "builtin_names": "visemes.rigs", "load_rig": "visemes.rigs",
    "AnimationParams": "visemes.animate", "animate": "visemes.animate",
    "Settings": "visemes.bake", "bake_file": "visemes.bake", "lipsync_from_timing": "visemes.bake",
    "Curves": "visemes.curves", "VisemesError": "visemes.errors", "Lipsync": "visemes.lipsync",
    "MOUTH_CLASSES": "visemes.phones", "VISEME_CLASS": "visemes.phones", "VISEMES": "visemes.phones",
    "phone_to_viseme": "visemes.phones", "read_timing": "visemes.timing",
    "Posteriors": "visemes.tracks", "Segment": "visemes.tracks", "Track": "visemes.tracks",
    "phones_to_visemes": "visemes.tracks",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'visemes' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
