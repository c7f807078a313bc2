"""One input in, a :class:`~visemes.lipsync.Lipsync` out, then written in the formats asked for."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from visemes.exporters import EXPORTERS, ExportOptions, export, retarget
from visemes.rigs import RigProfile, combined, load_rig

from .animate import AnimationParams, animate, viseme_weights
from .audio import is_audio, load_audio
from .curves import Curves
from .engines import analyse
from .errors import VisemesError, file_error
from .expression import ExpressionParams, analysis_frames, apply, controls, mix
from .features import FPS, loudness
from .fileio import text_name
from .lipsync import Lipsync
from .phones import VISEME_INDEX
from .timing import read_timing
from .tracks import phones_to_visemes, silence_outside


@dataclass(frozen=True)
class Settings:
    """How to bake: the parts of a command line that apply to every input.

    ``timing`` holds :class:`~visemes.animate.AnimationParams` overrides
    (``None`` = take the rig's or the default value).
    """

    rig: str = "arkit"
    add_rig: str | None = None
    timing: dict[str, float | None] = field(default_factory=dict)
    export: ExportOptions = field(default_factory=ExportOptions)
    engine: str = "neural"
    mode: str = "offline"
    language: str | None = None
    expression: ExpressionParams | None = None


def lipsync_from_timing(path: str | Path, rig: RigProfile, params: AnimationParams,
                        audio: str | Path | None = None) -> Lipsync:
    """Animate a timing file; ``audio``, when given, drives jaw loudness and sets the duration."""
    path = Path(path)
    samples = load_audio(audio) if audio is not None else None
    duration = len(samples) / 16_000 if samples is not None else None
    track = read_timing(path, duration=duration)
    try:
        visemes = phones_to_visemes(track)
    except KeyError as e:
        raise file_error(path, f"phone {e.args[0]!r} is not in the {track.phone_set} table") from None
    loud = loudness(samples) if samples is not None else None
    curves, cues = animate(visemes, rig, params, loud, FPS)
    return Lipsync(source=text_name(path), duration=visemes.duration, visemes=visemes, curves=curves, rig=rig,
                   phones=track if track.kind == "phones" else None, cues=cues, loudness=loud)


def rhubarb_cues(lipsync: Lipsync, params: dict[str, float | None]) -> Lipsync:
    """The same lipsync with 2D shape cues from the ``rhubarb`` profile (for Rhubarb-style formats)."""
    if lipsync.cues is not None:
        return lipsync
    rig = load_rig("rhubarb")
    _, cues = animate(lipsync.visemes, rig, AnimationParams.for_rig(rig, **params))
    return Lipsync(**{**lipsync.__dict__, "cues": cues, "rig": rig})


def lipsync_from_audio(path: Path, rig: RigProfile, params: AnimationParams, settings: Settings,
                       transcript: str | None = None, language: str | None = None) -> Lipsync:
    """Analyse speech audio with the chosen engine, then animate it."""
    samples = load_audio(path)  # its errors name the file already
    try:
        return lipsync_from_samples(samples, text_name(path), rig, params, settings, transcript, language)
    except VisemesError as e:
        raise file_error(path, str(e)) from None


def lipsync_from_samples(samples: np.ndarray, name: str, rig: RigProfile, params: AnimationParams,
                         settings: Settings, transcript: str | None = None, language: str | None = None,
                         speaking: np.ndarray | None = None) -> Lipsync:
    """Analyse 16 kHz mono ``samples`` and animate them; ``speaking`` (bool per 10 ms frame), when given,
    keeps the mouth at rest wherever it is False (another character's turn in a scene)."""
    language = language or settings.language
    text = read_transcript(transcript)
    analysis = analyse(samples, settings.engine, settings.mode, text, language)
    for warning in analysis.warnings:
        print(f"warning: {name}: {warning}", file=sys.stderr)
    loud = loudness(samples)
    visemes = analysis.visemes
    if speaking is not None:
        visemes = silence_outside(visemes, speaking)
        talking = np.zeros(len(loud), dtype=bool)
        talking[:len(speaking)] = speaking[:len(loud)]
        loud = np.where(talking, loud, 0.0).astype(np.float32)
    curves, cues = animate(visemes, rig, params, loud, FPS)
    return Lipsync(source=name, duration=visemes.duration, visemes=visemes, curves=curves,
                   rig=rig, phones=analysis.phones, cues=cues,
                   engine=settings.engine if settings.engine != "neural" else f"neural-{settings.mode}",
                   language=language, transcript=text, loudness=loud)


def add_rig(lipsync: Lipsync, extra: RigProfile, timing: dict[str, float | None]) -> Lipsync:
    """The same lipsync with ``extra``'s channels animated too (e.g. VRM lip expressions beside ARKit shapes)."""
    both = combined(lipsync.rig, extra)
    curves, _ = animate(lipsync.visemes, extra, AnimationParams.for_rig(extra, **timing), lipsync.loudness, FPS)
    frames = min(lipsync.curves.frames, curves.frames)
    values = np.concatenate([lipsync.curves.values[:frames], curves.values[:frames]], axis=1)
    return replace(lipsync, rig=both, curves=Curves(curves.fps, list(both.channels), values))


def add_expression(lipsync: Lipsync, samples: np.ndarray, params: ExpressionParams,
                   timing: dict[str, float | None]) -> Lipsync:
    """The same lipsync with the expression layer (blinks, brows, head, emotion) on its rig's channels."""
    try:
        m = mix(lipsync.rig)
    except ValueError as e:
        raise VisemesError(str(e)) from None
    ctrl = controls(samples, params)
    curves = lipsync.curves
    n = curves.frames
    w = viseme_weights(lipsync.visemes, AnimationParams.for_rig(lipsync.rig, **{**timing, "fps": curves.fps}))
    contact = np.zeros(n, np.float32)
    k = min(n, len(w))
    contact[:k] = w[:k, VISEME_INDEX["PP"]] + w[:k, VISEME_INDEX["FF"]]
    values = apply(m, curves.values, ctrl[analysis_frames(n, curves.fps, len(ctrl))], contact, params.open_gain)
    return replace(lipsync, rig=m.rig, curves=Curves(curves.fps, list(m.rig.channels), values))


def read_transcript(transcript: str | None) -> str | None:
    """A transcript given as text, or as the path of a text file."""
    if not transcript:
        return None
    path = Path(transcript)
    if len(transcript) < 4096 and path.suffix and path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise file_error(path, f"cannot read transcript ({e})") from None
    return transcript


def bake_file(source: str | Path, outputs: list[tuple[str, Path | str]], settings: Settings,
              audio: str | Path | None = None, transcript: str | None = None,
              language: str | None = None) -> Lipsync:
    """Analyse ``source`` and write each ``(format, path)`` of ``outputs``.

    Raises
    ------
    VisemesError
        For any problem with the input, naming it.
    """
    source = Path(source)
    if not source.exists():
        raise file_error(source, "no such file")
    rig = load_rig(settings.rig)
    params = AnimationParams.for_rig(rig, **settings.timing)
    if is_audio(source):
        lipsync = lipsync_from_audio(source, rig, params, settings, transcript, language)
    else:
        lipsync = lipsync_from_timing(source, rig, params, audio)
    if settings.add_rig:
        lipsync = add_rig(lipsync, load_rig(settings.add_rig), settings.timing)
    if settings.expression is not None:
        speech = source if is_audio(source) else audio
        if speech is None:
            raise file_error(source, "the expression layer follows the voice: give the audio too (--audio FILE)")
        lipsync = add_expression(lipsync, load_audio(speech), settings.expression, settings.timing)
    options = replace(settings.export, animation_name=settings.export.animation_name or source.stem)
    for fmt, out in outputs:
        module = EXPORTERS[fmt]
        data = rhubarb_cues(lipsync, settings.timing) if module.NEEDS == "cues" else lipsync
        try:
            data = retarget(data, fmt, options)
        except VisemesError as e:
            raise VisemesError(f"{source}: {e}") from None
        export(data, fmt, out, options)
    return lipsync


def check_format(fmt: str) -> str:
    if fmt not in EXPORTERS:
        raise VisemesError(f"unknown format '{fmt}' (choose from {', '.join(EXPORTERS)})")
    return fmt


__all__ = ["Settings", "add_expression", "add_rig", "bake_file", "check_format", "lipsync_from_audio",
           "lipsync_from_samples", "lipsync_from_timing"]
