"""Scenes with several speakers: one lip track per character.

Three ways in:

- **one multi-channel file**, one speaker per channel (dual-mic recordings,
  dialogue stems): each microphone also hears the other speakers, quieter, so
  a channel only counts as talking where it is within ``CROSSTALK_DB`` of the
  loudest channel and clearly above its own noise floor; where two channels
  are both that loud, both speakers talk at once and both mouths move;
- **one file per speaker**, gated the same way when the files are equally long
  (they are usually stems of one recording);
- **one mixed track with speaker turns**: RTTM (a diarizer's output), SRT or
  WebVTT subtitles with speaker names (``<v Name>``, ``Name:`` or ``[Name]`` at
  the start of a cue), or a TSV of ``start end speaker``. Each speaker's mouth
  follows the mixed speech during their own turns only; where turns overlap,
  the overlapping speakers all follow the mixed speech.

Every character gets its own rig and its own :class:`~visemes.lipsync.Lipsync`;
:func:`write_scene` writes one animation per character in each format and a
``scene.json`` that lists them.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from visemes.exporters import EXPORTERS, export, retarget
from visemes.rigs import load_rig

from .animate import AnimationParams
from .audio import load_audio, load_channels
from .bake import Settings, add_expression, lipsync_from_samples, rhubarb_cues
from .errors import VisemesError, file_error
from .features import FPS, frame_rms_db
from .fileio import read_input, write_text
from .lipsync import Lipsync
from .tracks import runs

CROSSTALK_DB = 12.0  # a channel this much below the loudest one is only hearing another speaker
FLOOR_DB = 12.0  # talking is at least this far above the channel's own noise floor
MIN_GAP_S, MIN_TALK_S = 0.3, 0.1  # pauses shorter than this stay talking; bursts shorter than this are noise


class Turn(NamedTuple):
    start: float
    end: float
    speaker: str


@dataclass
class Character:
    """One speaker of a scene and their lip sync."""

    name: str
    lipsync: Lipsync
    speaking: np.ndarray  # bool per 10 ms frame: where this character talks

    def spans(self) -> list[tuple[float, float]]:
        """``(start, end)`` seconds of each stretch of talking."""
        return [(round(a / FPS, 3), round(b / FPS, 3)) for a, b in runs(self.speaking)]


# ---- speaker turns -----------------------------------------------------------------------------

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_CUE_TIMES = re.compile(rf"^\s*({_TIME.pattern})\s*-->\s*({_TIME.pattern})")
_SPEAKER = re.compile(r"^\s*(?:<v(?:\.[\w.-]+)?\s+([^>]+)>|\[([^\]]{1,40})\]|-?\s*([^\s:][^:<>\n]{0,39}?)\s*:)")


def read_turns(path: str | Path) -> list[Turn]:
    """Speaker turns from an ``.rttm``, ``.srt``, ``.vtt`` or ``.tsv``/``.csv`` (start, end, speaker) file.

    Raises
    ------
    VisemesError
        Naming the file and the line for anything that cannot be read.
    """
    path = Path(path)
    try:
        text = read_input(path, "speaker turns file", 64 << 20).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise file_error(path, f"cannot read speaker turns ({e})") from None
    suffix = path.suffix.lower()
    if suffix == ".rttm":
        turns = _rttm(path, text)
    elif suffix in (".srt", ".vtt"):
        turns = _subtitles(path, text)
    elif suffix in (".tsv", ".csv", ".txt"):
        turns = _table(path, text, "," if suffix == ".csv" else "\t")
    else:
        raise file_error(path, "speaker turns must be .rttm, .srt, .vtt, .tsv or .csv")
    if not turns:
        raise file_error(path, "no speaker turns found")
    return sorted(turns)


def _rttm(path: Path, text: str) -> list[Turn]:
    turns = []
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith((";", "#")) or fields[0] != "SPEAKER":
            continue
        try:
            start, dur, name = float(fields[3]), float(fields[4]), fields[7]
        except (IndexError, ValueError):
            raise file_error(path, f"line {n}: expected SPEAKER file channel start duration <NA> <NA> name") from None
        if not (start >= 0 and dur > 0 and math.isfinite(start + dur)):  # NaN fails every comparison
            raise file_error(path, f"line {n}: a turn needs a start >= 0 and a positive duration")
        turns.append(Turn(start, start + dur, name))
    return turns


def _seconds(m: re.Match) -> float:
    hours, minutes, secs, frac = m.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(frac.ljust(3, "0")) / 1000


def _subtitles(path: Path, text: str) -> list[Turn]:
    turns = []
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        m = _CUE_TIMES.match(line)
        if not m:
            continue
        start, end = (_seconds(_TIME.match(g)) for g in (m.group(1), m.group(6)))
        body = lines[n] if n < len(lines) else ""
        who = _SPEAKER.match(body)
        if not who:
            raise file_error(path, f"line {n + 1}: the cue names no speaker (start it with 'Name:', '[Name]' "
                                   "or <v Name>)")
        if end <= start:
            raise file_error(path, f"line {n}: the cue ends before it starts")
        turns.append(Turn(start, end, next(g for g in who.groups() if g).strip()))
    return turns


def _table(path: Path, text: str, delimiter: str) -> list[Turn]:
    turns = []
    try:
        rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    except csv.Error as e:
        raise file_error(path, f"not a valid table of turns ({e})") from None
    for n, row in enumerate(rows, 1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        try:
            start, end, name = float(row[0]), float(row[1]), row[2].strip()
        except (IndexError, ValueError):
            if n == 1:
                continue  # a header row
            raise file_error(path, f"line {n}: expected start, end, speaker") from None
        if not (0 <= start < end and math.isfinite(end)) or not name:
            raise file_error(path, f"line {n}: a turn needs 0 <= start < end and a speaker name")
        turns.append(Turn(start, end, name))
    return turns


def turn_activity(turns: list[Turn], speaker: str, frames: int) -> np.ndarray:
    """Bool per 10 ms frame: inside one of ``speaker``'s turns."""
    active = np.zeros(frames, dtype=bool)
    for t in turns:
        if t.speaker == speaker:
            active[int(np.floor(t.start * FPS)):int(np.ceil(t.end * FPS))] = True
    return active


# ---- channels ----------------------------------------------------------------------------------


def channel_activity(channels: np.ndarray) -> np.ndarray:
    """Bool ``[channels, frames]``: where each channel's own speaker talks (crosstalk gated out)."""
    db = np.stack([frame_rms_db(c) for c in channels])
    floor = np.percentile(db, 10, axis=1, keepdims=True)
    peak = np.percentile(db, 99, axis=1, keepdims=True)
    own = db > np.maximum(floor + FLOOR_DB, peak - 45.0)
    dominant = db >= db.max(axis=0, keepdims=True) - CROSSTALK_DB
    return np.stack([_tidy(row) for row in own & dominant])


def _tidy(active: np.ndarray) -> np.ndarray:
    """Fill pauses shorter than ``MIN_GAP_S`` inside talking, then drop bursts shorter than ``MIN_TALK_S``."""
    out = active.copy()
    for value, shortest in ((False, MIN_GAP_S), (True, MIN_TALK_S)):
        for a, b in runs(out == value):
            inside = value or (a > 0 and b < len(out))  # a pause at either end is not inside talking
            if inside and b - a < shortest * FPS:
                out[a:b] = not value
    return out


# ---- baking ------------------------------------------------------------------------------------


def speaker_rigs(specs: list[str], default: str) -> list[tuple[str, str]]:
    """``NAME[=RIG]`` command-line specs -> ``(name, rig)`` pairs."""
    out = []
    for spec in specs:
        name, _, rig = spec.partition("=")
        if not name.strip():
            raise VisemesError(f"--speaker {spec!r}: expected NAME or NAME=RIG")
        out.append((name.strip(), rig.strip() or default))
    return out


def bake_scene(inputs: list[Path], settings: Settings, speakers: list[tuple[str, str]] | None = None,
               turns: Path | None = None) -> list[Character]:
    """Analyse a scene: one character per channel, per file, or per speaker of ``turns``.

    ``speakers`` names the characters in order (channels, files) or by name
    (turns) and gives each one a rig; unnamed ones take ``settings.rig``.
    """
    speakers = speakers or []
    if turns is not None:
        if len(inputs) != 1:
            raise VisemesError("--turns goes with one mixed audio file")
        cast = read_turns(turns)
        names = list(dict.fromkeys(t.speaker for t in cast))
        rigs = dict(speakers)
        unknown = [n for n in rigs if n not in names]
        if unknown:
            raise file_error(turns, f"no turns for speaker {unknown[0]!r} (speakers: {', '.join(names)})")
        mixed = load_audio(inputs[0])
        frames = -(-len(mixed) // (16_000 // FPS))
        voices = [(n, rigs.get(n, settings.rig), mixed, turn_activity(cast, n, frames)) for n in names]
    else:
        voices = _voices(inputs, speakers, settings.rig)
    return [_character(i, name, rig, samples, active, settings)
            for i, (name, rig, samples, active) in enumerate(voices)]


def _voices(inputs: list[Path], speakers: list[tuple[str, str]], rig: str):
    if len(inputs) == 1:
        channels = load_channels(inputs[0])
        if len(channels) < 2:
            raise file_error(inputs[0], "a scene needs a file with one speaker per channel, one file per "
                                        "speaker, or --turns for a mixed track")
        default = [f"speaker{i + 1}" for i in range(len(channels))]
    else:
        loaded = [load_audio(p) for p in inputs]
        n = max(len(x) for x in loaded)
        channels = np.stack([np.pad(x, (0, n - len(x))) for x in loaded])
        default = [p.stem for p in inputs]
    if len(speakers) > len(channels):
        raise VisemesError(f"{len(speakers)} speakers named for {len(channels)} voices")
    names = [s[0] for s in speakers] + default[len(speakers):]
    if len(set(names)) != len(names):
        raise VisemesError(f"two characters share a name ({', '.join(names)}); name them with --speaker")
    rigs = [s[1] for s in speakers] + [rig] * (len(channels) - len(speakers))
    active = channel_activity(channels)
    return list(zip(names, rigs, channels, active, strict=True))


def _character(i: int, name: str, rig_name: str, samples: np.ndarray, active: np.ndarray,
               settings: Settings) -> Character:
    rig = load_rig(rig_name)
    params = AnimationParams.for_rig(rig, **settings.timing)
    lipsync = lipsync_from_samples(samples, name, rig, params, settings, speaking=active)
    if settings.expression is not None:  # each character blinks on its own
        expression = replace(settings.expression, seed=settings.expression.seed + i)
        lipsync = add_expression(lipsync, samples, expression, settings.timing)
    return Character(name, lipsync, active)


def write_scene(characters: list[Character], formats: list[str], folder: Path, settings: Settings) -> Path:
    """One file per character and format in ``folder`` (``NAME.EXT``), and ``scene.json`` listing them."""
    clash = [c.name for c in characters if "json" in formats and _safe(c.name) == "scene"]
    if clash:
        raise VisemesError(f"character {clash[0]!r} would overwrite scene.json: rename it with --speaker")
    folder.mkdir(parents=True, exist_ok=True)
    index = {"format": "visemes-scene", "version": 1, "characters": []}
    for c in characters:
        files = {}
        for fmt in formats:
            module = EXPORTERS[fmt]
            path = folder / f"{_safe(c.name)}{module.SUFFIX}"
            data = rhubarb_cues(c.lipsync, settings.timing) if module.NEEDS == "cues" else c.lipsync
            options = replace(settings.export, animation_name=settings.export.animation_name or _safe(c.name))
            export(retarget(data, fmt, options), fmt, path, options)
            files[fmt] = path.name
        index["characters"].append({"name": c.name, "rig": c.lipsync.rig.name, "files": files,
                                    "duration": round(c.lipsync.duration, 3), "speaking": c.spans()})
    out = folder / "scene.json"
    write_text(out, json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "speaker"
