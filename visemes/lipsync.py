"""The result of analysing one input: what every exporter and sink consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visemes.rigs import RigProfile

from .curves import Curves
from .tracks import Track


@dataclass
class Lipsync:
    """Timed visemes and rig curves for one utterance.

    Attributes
    ----------
    source : str
        Name of the input (audio or timing file) as given by the user.
    duration : float
        Seconds.
    visemes : Track
        The 15 canonical visemes with confidences.
    curves : Curves
        Rig channel weights, 0..1.
    rig : RigProfile
        The rig the curves are for.
    phones : Track, optional
        Phones, when the input had them.
    cues : Track, optional
        2D mouth shapes (discrete rigs and Rhubarb-style outputs).
    engine : str
        What made the timings: ``"timing"`` for timing files, else the audio engine.
    language : str, optional
    transcript : str, optional
    loudness : ndarray, optional
        Speech loudness 0..1 per analysis frame (100/s), when there was audio.
    """

    source: str
    duration: float
    visemes: Track
    curves: Curves
    rig: RigProfile
    phones: Track | None = None
    cues: Track | None = None
    engine: str = "timing"
    language: str | None = None
    transcript: str | None = None
    loudness: np.ndarray | None = None
