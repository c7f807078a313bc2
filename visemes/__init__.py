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

from visemes.exporters import EXPORTERS, ExportOptions, export
from visemes.rigs import RigProfile, builtin_names, load_rig

from .animate import AnimationParams, animate
from .bake import Settings, bake_file, lipsync_from_timing
from .curves import Curves
from .errors import VisemesError
from .lipsync import Lipsync
from .phones import MOUTH_CLASSES, VISEME_CLASS, VISEMES, phone_to_viseme
from .timing import read_timing
from .tracks import Posteriors, Segment, Track, phones_to_visemes

__all__ = [
    "EXPORTERS", "MOUTH_CLASSES", "VISEMES", "VISEME_CLASS", "AnimationParams", "Curves", "ExportOptions",
    "Lipsync", "Posteriors", "RigProfile", "Segment", "Settings", "Track", "VisemesError", "animate", "bake_file",
    "builtin_names", "export", "lipsync_from_timing", "load_rig", "phone_to_viseme", "phones_to_visemes",
    "read_timing",
]
