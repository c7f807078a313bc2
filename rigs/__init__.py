"""Rig profiles: what a rig's channels are and how each viseme poses them.

Profiles are data files (JSON, or TOML on Python 3.11+) in this folder; users
can pass their own file anywhere a rig name is accepted. A profile is either

- ``continuous``: blendshape channels in 0..1 and a pose per viseme
  (``{channel: weight}``; unnamed channels take their ``rest`` value), or
- ``discrete``: a set of 2D mouth shapes (Rhubarb's A-H, X), a shape per
  viseme, and in-between shapes for large transitions.

Validation is strict: a bad profile raises :class:`visemes.errors.VisemesError`
naming the file, the key and what was expected.
"""

from __future__ import annotations

import difflib
import functools
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from visemes.errors import VisemesError, file_error
from visemes.fileio import read_input
from visemes.phones import VISEMES

RIG_DIR = Path(__file__).parent
KINDS = ("continuous", "discrete")
TIMING_KEYS = (
    "anticipation_s", "lip_anticipation_s", "coarticulation_s", "closure_min_s",
    "jaw_gain", "min_hold_s", "tween_s",
)
_KEYS = {
    "name", "description", "kind", "channels", "rest", "poses", "loudness_channels", "ranges",
    "shapes", "tweens", "timing", "aliases", "expression",
}
# controls of the expression layer (visemes.expression.CONTROLS): natural units, 0..1 or degrees
EXPRESSION_CONTROLS = (
    "blink", "brow_up", "brow_inner_up", "brow_down", "smile", "frown", "cheek", "eye_wide", "eye_squint",
    "sneer", "happy", "sad", "angry", "surprised", "head_yaw", "head_pitch", "head_roll",
)


@dataclass(frozen=True)
class Tween:
    """An in-between shape shown when going ``before`` -> ``after`` (discrete rigs).

    ``inside`` says which of the two shapes gives up the time: ``"before"``
    (its tail) or ``"after"`` (its head).
    """

    before: str
    after: str
    via: str
    inside: str = "after"


@dataclass(frozen=True)
class RigProfile:
    """A rig: channel names and how each of the 15 visemes poses them."""

    name: str
    kind: str
    channels: tuple[str, ...]
    description: str = ""
    rest: dict[str, float] = field(default_factory=dict)
    poses: dict[str, dict[str, float]] = field(default_factory=dict)
    loudness_channels: tuple[str, ...] = ()
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    shapes: dict[str, str] = field(default_factory=dict)
    tweens: tuple[Tween, ...] = ()
    timing: dict[str, float] = field(default_factory=dict)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    expression: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def discrete(self) -> bool:
        return self.kind == "discrete"

    def pose_matrix(self) -> np.ndarray:
        """``float32 [15 visemes, channels]``: each viseme's full pose, rest values filled in (read-only)."""
        return self._pose_matrix

    @functools.cached_property
    def _pose_matrix(self) -> np.ndarray:  # built once: the live runtime asks for it many times a second
        rest = np.array([self.rest.get(c, 0.0) for c in self.channels], dtype=np.float32)
        m = np.tile(rest, (len(VISEMES), 1))
        index = {c: i for i, c in enumerate(self.channels)}
        for v, pose in self.poses.items():
            for ch, w in pose.items():
                m[VISEMES.index(v), index[ch]] = w
        m.flags.writeable = False
        return m

    def to_dict(self) -> dict[str, Any]:
        """The profile as it would be written to a file."""
        d: dict[str, Any] = {"name": self.name, "description": self.description, "kind": self.kind,
                             "channels": list(self.channels)}
        if self.rest:
            d["rest"] = self.rest
        if self.poses:
            d["poses"] = self.poses
        if self.loudness_channels:
            d["loudness_channels"] = list(self.loudness_channels)
        if self.ranges:
            d["ranges"] = {k: list(v) for k, v in self.ranges.items()}
        if self.shapes:
            d["shapes"] = self.shapes
        if self.tweens:
            d["tweens"] = [{"before": t.before, "after": t.after, "via": t.via, "inside": t.inside}
                           for t in self.tweens]
        if self.timing:
            d["timing"] = self.timing
        if self.aliases:
            d["aliases"] = {k: list(v) for k, v in self.aliases.items()}
        if self.expression:
            d["expression"] = self.expression
        return d


def combined(a: RigProfile, b: RigProfile) -> RigProfile:
    """One profile with the channels of two continuous rigs (``--rig arkit --add-rig vrm``)."""
    if a.discrete or b.discrete:
        raise VisemesError(f"only continuous rigs can be combined ({a.name}, {b.name})")
    clash = set(a.channels) & set(b.channels)
    if clash:
        raise VisemesError(f"rigs {a.name} and {b.name} share channel names ({', '.join(sorted(clash))})")
    return replace(a, name=f"{a.name}+{b.name}", channels=a.channels + b.channels,
                   description=f"{a.name} and {b.name} together",
                   poses={v: {**a.poses.get(v, {}), **b.poses.get(v, {})} for v in VISEMES},
                   rest={**a.rest, **b.rest}, aliases={**a.aliases, **b.aliases},
                   loudness_channels=a.loudness_channels + b.loudness_channels, ranges={**a.ranges, **b.ranges},
                   expression=_merge_expression(a, b))


def _merge_expression(a: RigProfile, b: RigProfile) -> dict[str, Any]:
    """Both rigs' expression sections; a channel both add (such as a head angle) is added once."""
    if not (a.expression or b.expression):
        return {}
    ea, eb = a.expression or {"channels": {}, "controls": {}}, b.expression or {"channels": {}, "controls": {}}
    controls = {k: dict(v) for k, v in ea["controls"].items()}
    for k, v in eb["controls"].items():
        controls.setdefault(k, {}).update(v)
    return {"channels": {**ea["channels"], **eb["channels"]}, "controls": controls}


def builtin_names() -> list[str]:
    """Names of the profiles that ship with the package."""
    return sorted(p.stem for p in RIG_DIR.glob("*.json"))


def load_rig(name_or_path: str | Path) -> RigProfile:
    """Load a built-in profile by name, or a profile file by path.

    Raises
    ------
    VisemesError
        Unknown name, unreadable file, or a profile that fails validation.
    """
    text = str(name_or_path)
    path = Path(text)
    if path.suffix.lower() not in (".json", ".toml") and not path.exists():
        if text not in builtin_names():
            raise VisemesError(
                f"unknown rig '{text}' (built-in: {', '.join(builtin_names())}; or give a profile file)")
        path = RIG_DIR / f"{text}.json"
    data = _read(path)
    try:
        return _parse(path, data)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as e:
        # the checks name what they expect; a value of a shape none of them foresaw still gets one line
        raise file_error(path, f"not a valid profile ({type(e).__name__}: {e})") from None


def _read(path: Path) -> dict[str, Any]:
    raw = read_input(path, "rig profile", 16 << 20)
    try:
        if path.suffix.lower() == ".toml":
            if sys.version_info < (3, 11):
                raise file_error(path, "TOML profiles need Python 3.11 or newer; use JSON")
            import tomllib

            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise file_error(path, f"not a valid profile file ({_why(e)})") from None
    if not isinstance(data, dict):
        raise file_error(path, "expected a JSON object with name, kind and channels")
    return data


def _why(e: Exception) -> str:
    return "nested too deeply" if isinstance(e, RecursionError) else str(e)


def _fail(path: Path, key: str, problem: str) -> VisemesError:
    return file_error(path, f"{key}: {problem}")


def _suggest(word: str, options) -> str:
    same_letters = [o for o in options if o.lower() == word.lower()]
    close = same_letters or difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _channel(path: Path, key: str, name: str, channels: tuple[str, ...]) -> None:
    if name not in channels:
        raise _fail(path, key, f"not one of the profile's channels{_suggest(name, channels)}")


def _str_list(path: Path, data: dict, key: str) -> tuple[str, ...]:
    val = data.get(key, [])
    if not isinstance(val, list) or not all(isinstance(x, str) and x for x in val):
        raise _fail(path, key, "expected a list of names")
    return tuple(val)


def _weights(path: Path, key: str, val: Any, channels: tuple[str, ...], lo: float = 0.0) -> dict[str, float]:
    if not isinstance(val, dict):
        raise _fail(path, key, "expected an object of {channel: weight}")
    out = {}
    for ch, w in val.items():
        _channel(path, f"{key}.{ch}", ch, channels)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not lo <= w <= 1:
            raise _fail(path, f"{key}.{ch}", f"expected a number from {lo:g} to 1, got {w!r}")
        out[ch] = float(w)
    return out


def _parse(path: Path, data: dict[str, Any]) -> RigProfile:
    for key in data:
        if key not in _KEYS:
            raise _fail(path, key, f"unknown key{_suggest(key, _KEYS)}; expected some of {', '.join(sorted(_KEYS))}")
    for key in ("name", "kind", "channels"):
        if key not in data:
            raise _fail(path, key, "missing (every profile needs name, kind and channels)")
    if not isinstance(data["name"], str) or not data["name"]:
        raise _fail(path, "name", "expected a non-empty string")
    kind = data["kind"]
    if kind not in KINDS:
        raise _fail(path, "kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    channels = _str_list(path, data, "channels")
    if not channels or len(set(channels)) != len(channels):
        raise _fail(path, "channels", "expected a non-empty list of distinct names")
    timing = data.get("timing", {})
    if not isinstance(timing, dict):
        raise _fail(path, "timing", "expected an object of {parameter: seconds}")
    for k, v in timing.items():
        if k not in TIMING_KEYS:
            raise _fail(path, f"timing.{k}", f"unknown parameter{_suggest(k, TIMING_KEYS)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise _fail(path, f"timing.{k}", f"expected a number >= 0, got {v!r}")
    common = dict(name=data["name"], kind=kind, channels=channels, description=str(data.get("description", "")),
                  timing={k: float(v) for k, v in timing.items()}, aliases=_aliases(path, data, channels),
                  expression=_expression(path, data, channels), source=str(path))
    if kind == "discrete":
        return RigProfile(**common, **_discrete(path, data, channels))
    return RigProfile(**common, **_continuous(path, data, channels))


def _aliases(path: Path, data: dict, channels: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    val = data.get("aliases", {})
    if not isinstance(val, dict):
        raise _fail(path, "aliases", "expected an object of {channel: [other names]}")
    for ch, names in val.items():
        _channel(path, f"aliases.{ch}", ch, channels)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _fail(path, f"aliases.{ch}", "expected a list of names")
    return {k: tuple(v) for k, v in val.items()}


def _expression(path: Path, data: dict, channels: tuple[str, ...]) -> dict[str, Any]:
    """The ``expression`` section: extra channels (``{name: {rest, range}}``) and, per control, the channels
    it moves with a gain (``{control: {channel: gain}}``; a channel's value is its rest plus gain x control)."""
    val = data.get("expression")
    if val is None:
        return {}
    if not isinstance(val, dict) or set(val) - {"channels", "controls"}:
        raise _fail(path, "expression", "expected an object with 'channels' and 'controls'")
    extra = val.get("channels", {})
    if not isinstance(extra, dict):
        raise _fail(path, "expression.channels", "expected an object of {channel: {rest, range}}")
    for ch, spec in extra.items():
        key = f"expression.channels.{ch}"
        if ch in channels:
            raise _fail(path, key, "already one of the profile's channels")
        if not isinstance(spec, dict) or set(spec) - {"rest", "range"}:
            raise _fail(path, key, "expected {rest, range}")
        rest = spec.get("rest", 0.0)
        if isinstance(rest, bool) or not isinstance(rest, (int, float)) or not 0 <= rest <= 1:
            raise _fail(path, f"{key}.rest", f"expected a number from 0 to 1, got {rest!r}")
        r = spec.get("range", [0, 1])
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) for x in r) and r[0] < r[1]):
            raise _fail(path, f"{key}.range", f"expected [low, high] with low < high, got {r!r}")
    controls = val.get("controls", {})
    if not isinstance(controls, dict) or not controls:
        raise _fail(path, "expression.controls", "expected an object of {control: {channel: gain}}")
    known = channels + tuple(extra)
    for name, targets in controls.items():
        key = f"expression.controls.{name}"
        if name not in EXPRESSION_CONTROLS:
            raise _fail(path, key, f"unknown control{_suggest(name, EXPRESSION_CONTROLS)}; "
                                   f"expected some of {', '.join(EXPRESSION_CONTROLS)}")
        if not isinstance(targets, dict):
            raise _fail(path, key, "expected an object of {channel: gain}")
        for ch, gain in targets.items():
            _channel(path, f"{key}.{ch}", ch, known)
            if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not np.isfinite(gain):
                raise _fail(path, f"{key}.{ch}", f"expected a number, got {gain!r}")
    return {"channels": {c: {"rest": float(s.get("rest", 0.0)), "range": [float(x) for x in s.get("range", [0, 1])]}
                         for c, s in extra.items()},
            "controls": {k: {c: float(g) for c, g in v.items()} for k, v in controls.items()}}


def _continuous(path: Path, data: dict, channels: tuple[str, ...]) -> dict[str, Any]:
    rest = _weights(path, "rest", data.get("rest", {}), channels)
    poses_raw = data.get("poses")
    if not isinstance(poses_raw, dict):
        raise _fail(path, "poses", "missing: a continuous profile needs a pose for each of the 15 visemes")
    for v in poses_raw:
        if v not in VISEMES:
            raise _fail(path, f"poses.{v}", f"not a viseme{_suggest(v, VISEMES)}; expected {' '.join(VISEMES)}")
    missing = [v for v in VISEMES if v not in poses_raw]
    if missing:
        raise _fail(path, "poses", f"missing visemes {' '.join(missing)} (all 15 are needed)")
    poses = {v: _weights(path, f"poses.{v}", poses_raw[v], channels) for v in VISEMES}
    loud = _str_list(path, data, "loudness_channels")
    for ch in loud:
        _channel(path, f"loudness_channels.{ch}", ch, channels)
    ranges = data.get("ranges", {})
    if not isinstance(ranges, dict):
        raise _fail(path, "ranges", "expected an object of {channel: [low, high]}")
    for ch, r in ranges.items():
        _channel(path, f"ranges.{ch}", ch, channels)
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) for x in r) and r[0] < r[1]):
            raise _fail(path, f"ranges.{ch}", f"expected [low, high] with low < high, got {r!r}")
    return dict(rest=rest, poses=poses, loudness_channels=loud,
                ranges={k: (float(v[0]), float(v[1])) for k, v in ranges.items()})


def _discrete(path: Path, data: dict, channels: tuple[str, ...]) -> dict[str, Any]:
    shapes = data.get("shapes")
    if not isinstance(shapes, dict):
        raise _fail(path, "shapes", "missing: a discrete profile needs a shape for each of the 15 visemes")
    for v, shape in shapes.items():
        if v not in VISEMES:
            raise _fail(path, f"shapes.{v}", f"not a viseme{_suggest(v, VISEMES)}; expected {' '.join(VISEMES)}")
        if shape not in channels:
            raise _fail(path, f"shapes.{v}", f"'{shape}' is not one of the profile's channels {' '.join(channels)}")
    missing = [v for v in VISEMES if v not in shapes]
    if missing:
        raise _fail(path, "shapes", f"missing visemes {' '.join(missing)} (all 15 are needed)")
    tweens = []
    for i, t in enumerate(data.get("tweens", [])):
        key = f"tweens[{i}]"
        if not isinstance(t, dict) or not {"before", "after", "via"} <= set(t) <= {"before", "after", "via", "inside"}:
            raise _fail(path, key, "expected {before, after, via[, inside]}")
        for k in ("before", "after", "via"):
            if t[k] not in channels:
                raise _fail(path, f"{key}.{k}", f"'{t[k]}' is not one of the profile's channels {' '.join(channels)}")
        if t.get("inside", "after") not in ("before", "after"):
            raise _fail(path, f"{key}.inside", "expected 'before' or 'after'")
        tweens.append(Tween(t["before"], t["after"], t["via"], t.get("inside", "after")))
    return dict(shapes=dict(shapes), tweens=tuple(tweens), rest={shapes["sil"]: 1.0})
