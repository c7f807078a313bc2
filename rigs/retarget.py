"""Retargeting: put a rig's channels onto the morph targets of a user's mesh.

Names are compared after :func:`normalise` (case, separators, side suffixes and
exporter prefixes do not matter), first as they are, then through the rig
profile's own ``aliases`` and the naming schemes in ``naming/aliases.json``
(Character Creator, VRoid, Ready Player Me, Daz, MetaHuman). A user mapping file
(JSON ``{"channel": "target"}`` or ``{"channel": ["t1", "t2"]}``, or CSV
``channel,target`` lines) overrides everything for the channels it names; map a
channel to ``""`` or ``[]`` to leave it off.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from visemes.curves import Curves
from visemes.errors import VisemesError, file_error
from visemes.fileio import read_input

from . import RigProfile

_PREFIX = re.compile(
    r"^(?:.*[.:|]|.*__|blend_?shape\d*_|bs_|facs_(?:bs|jnt|ctrl|cbs)_|ctrl_expressions_|a\d\d_)", re.IGNORECASE)
_SIDE = re.compile(r"(?:[_\-. ]([LRlr])|(?<=[a-z])([LR]))$")
_SIDE_WORD = {"l": "left", "r": "right"}


def normalise(name: str) -> str:
    """The form names are compared in: ``"Mouth_Smile_L"``, ``"blendShape1.mouthSmileLeft"`` and
    ``"MouthSmileLeft"`` all give ``"mouthsmileleft"``."""
    name = name.strip()
    while (shorter := _PREFIX.sub("", name)) not in ("", name):
        name = shorter
    name = re.sub(r"_div\d$", "", name)
    m = _SIDE.search(name)
    if m:
        side = (m.group(1) or m.group(2)).lower()
        name = name[:m.start()] + _SIDE_WORD[side]
    return re.sub(r"[\s_\-.]+", "", name).casefold()


@dataclass(frozen=True)
class Match:
    """Which target(s) each rig channel drives on one mesh file.

    Attributes
    ----------
    pairs : dict
        Rig channel -> target names it drives (in the target file's spelling).
    unmatched : tuple of str
        Rig channels with no target.
    unused : tuple of str
        Target names that no channel drives.
    """

    pairs: dict[str, tuple[str, ...]]
    unmatched: tuple[str, ...]
    unused: tuple[str, ...]

    def report(self, source: str) -> str:
        """A few lines for people: what matched, what did not."""
        renamed = [f"{c} -> {', '.join(t)}" for c, t in self.pairs.items() if t != (c,)]
        lines = [f"retarget: {len(self.pairs)} of {len(self.pairs) + len(self.unmatched)} channels matched "
                 f"on {source}"]
        if renamed:
            lines.append("  renamed: " + "; ".join(renamed))
        if self.unmatched:
            lines.append("  unmatched channels: " + ", ".join(self.unmatched))
        return "\n".join(lines)


@cache
def _schemes() -> dict[str, dict[str, list[str]]]:
    data = json.loads((Path(__file__).parent / "naming" / "aliases.json").read_text(encoding="utf-8"))
    return {name: s["channels"] for name, s in data["schemes"].items()}


def candidates(rig: RigProfile, channel: str) -> list[str]:
    """Names that ``channel`` may appear under, best first."""
    names = [channel, *rig.aliases.get(channel, ())]
    for scheme in _schemes().values():
        names += scheme.get(channel, [])
    return names


def match(rig: RigProfile, targets: list[str], mapping: dict[str, list[str]] | None = None,
          source: str = "the mesh") -> Match:
    """Match ``rig``'s channels to ``targets`` (names found in a mesh file).

    Raises
    ------
    VisemesError
        When no channel matches any target, or the mapping names a target the mesh lacks.
    """
    by_norm: dict[str, list[str]] = {}
    for t in targets:
        by_norm.setdefault(normalise(t), []).append(t)
    mapping = mapping or {}
    pairs: dict[str, tuple[str, ...]] = {}
    for ch in rig.channels:
        if ch in mapping:
            missing = [t for t in mapping[ch] if t not in targets]
            if missing:
                raise VisemesError(f"{source}: the mapping sends {ch} to {missing[0]!r}, which it does not have")
            found = list(mapping[ch])
        else:
            found = _find(ch, rig, by_norm)
        if found:
            pairs[ch] = tuple(dict.fromkeys(found))
    if not pairs:
        raise VisemesError(f"{source}: none of the {len(rig.channels)} {rig.name} channels matches any of its "
                           f"{len(targets)} morph targets (e.g. {', '.join(targets[:4])}); give a mapping file "
                           "with --map")
    used = {t for ts in pairs.values() for t in ts}
    return Match(pairs, tuple(c for c in rig.channels if c not in pairs), tuple(t for t in targets if t not in used))


def _find(channel: str, rig: RigProfile, by_norm: dict[str, list[str]]) -> list[str]:
    own = normalise(channel)
    if own in by_norm:
        return by_norm[own]
    found: list[str] = []
    for name in candidates(rig, channel)[1:]:
        found += by_norm.get(normalise(name), [])
    return found


def apply(curves: Curves, m: Match) -> Curves:
    """Curves named after the targets: each target takes the largest weight of the channels driving it."""
    targets = list(dict.fromkeys(t for ts in m.pairs.values() for t in ts))
    index = {t: i for i, t in enumerate(targets)}
    out = np.zeros((curves.frames, len(targets)), dtype=np.float32)
    for c, ch in enumerate(curves.channels):
        for t in m.pairs.get(ch, ()):
            np.maximum(out[:, index[t]], curves.values[:, c], out=out[:, index[t]])
    return Curves(curves.fps, targets, out)


def read_mapping(path: str | Path) -> dict[str, list[str]]:
    """A user mapping file: JSON ``{channel: target | [targets]}`` or CSV ``channel,target`` rows."""
    path = Path(path)
    try:
        text = read_input(path, "mapping", 16 << 20).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise file_error(path, f"cannot read mapping ({e})") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise file_error(path, f"invalid JSON mapping at line {e.lineno} ({e.msg})") from None
        except RecursionError:
            raise file_error(path, "invalid JSON mapping (nested too deeply)") from None
        if not isinstance(data, dict):
            raise file_error(path, "a JSON mapping is an object of channel: target")
        out = {}
        for ch, t in data.items():
            if not isinstance(t, (str, list)) or (isinstance(t, list) and not all(isinstance(x, str) for x in t)):
                raise file_error(path, f"mapping for {ch!r} must be a name or a list of names")
            out[ch] = [t] if isinstance(t, str) and t else ([] if isinstance(t, str) else t)
        return out
    out: dict[str, list[str]] = {}
    try:
        for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) != 2:
                raise file_error(path, f"line {n}: expected 'channel,target', got {len(row)} fields")
            out.setdefault(row[0].strip(), [])
            if row[1].strip():
                out[row[0].strip()].append(row[1].strip())
    except csv.Error as e:
        raise file_error(path, f"not a valid CSV mapping ({e})") from None
    return out
