"""The expression layer: blinks, brows, head motion and emotion on top of the lip curves.

A face whose mouth moves while the rest is frozen looks dead. This layer adds
what people do while they talk, driven by the audio's prosody
(:mod:`visemes.prosody`) and a seeded random generator:

- **blinks** at random, about 10-20 a minute in speech: a blink may start on any
  frame with a hazard of ``blink_rate_speech`` per second while speaking,
  ``blink_rate_pause`` in the first 1.5 s of a pause (people blink at phrase
  boundaries) and ``blink_rate_rest`` in longer silence, never within
  ``blink_refractory_s`` of the last one; each blink closes in ~30 ms and
  reopens over ~90 ms;
- **brows** rise on pitch accents: where the pitch is more than 1.5 semitones
  above the speaker's running baseline in loud speech, with a fast attack and
  slow release;
- **head motion** in degrees: the head lifts with the energy and pitch envelope
  (head motion follows F0 and loudness in real talkers), plus slow seeded
  drift in yaw and roll that grows while speaking;
- **emotion** (neutral, happy, sad, angry, surprised) at an ``intensity``:
  constant expression controls (smile, frown, brows, eyes), a jaw-opening gain
  and a blink-rate factor.

Every step is causal (nothing looks ahead of the current 10 ms frame) and runs
frame by frame in :class:`ExpressionStream`, so the live runtime and an
offline bake produce the same channels for the same audio and seed.

The layer produces *controls* (``CONTROLS``, natural units: 0..1 or degrees);
a rig profile's ``expression`` section maps them onto its channels
(:func:`apply`). Added contributions to mouth channels (those the viseme
poses use) are faded out where the lips close or touch the teeth, so a p/b/m
or f/v is never weakened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from visemes.rigs import RigProfile

from .features import FPS
from .prosody import ProsodyStream

CONTROLS = (
    "blink", "brow_up", "brow_inner_up", "brow_down", "smile", "frown", "cheek", "eye_wide", "eye_squint",
    "sneer", "happy", "sad", "angry", "surprised", "head_yaw", "head_pitch", "head_roll",
)
PARTS = ("blinks", "brows", "head")
EMOTIONS = {
    "neutral": {},
    "happy": {"smile": 0.7, "cheek": 0.4, "eye_squint": 0.25, "brow_up": 0.1, "happy": 1.0},
    "sad": {"frown": 0.6, "brow_inner_up": 0.7, "head_pitch": -6.0, "sad": 1.0},
    "angry": {"brow_down": 0.8, "sneer": 0.4, "eye_squint": 0.3, "frown": 0.2, "angry": 1.0},
    "surprised": {"brow_up": 0.8, "brow_inner_up": 0.4, "eye_wide": 0.7, "surprised": 1.0},
}
OPEN_GAIN = {"happy": 1.05, "sad": 0.8, "angry": 1.1, "surprised": 1.25}  # jaw opening, at intensity 1
BLINK_FACTOR = {"sad": 1.15, "angry": 0.8, "surprised": 0.6}
# a blink at 100 frames/s: closes in 30 ms, held 20 ms, reopens over ~90 ms
BLINK_SHAPE = np.array([0.35, 0.8, 1.0, 1.0, 0.8, 0.55, 0.35, 0.2, 0.1, 0.04], dtype=np.float64)
_I = {c: i for i, c in enumerate(CONTROLS)}


@dataclass(frozen=True)
class ExpressionParams:
    """What the expression layer does.

    Attributes
    ----------
    parts : tuple of str
        Which of ``PARTS`` (blinks, brows, head) are on.
    gain : float
        Scales blinks' depth, brows and head motion together (0 = off, 1 = natural).
    emotion : str
        One of ``EMOTIONS``.
    intensity : float
        Strength of the emotion, 0..1.
    seed : int
        Seed of the random parts (blink times, head drift): same seed, same face.
    """

    parts: tuple[str, ...] = PARTS
    gain: float = 1.0
    emotion: str = "neutral"
    intensity: float = 0.6
    seed: int = 0
    blink_rate_speech: float = 0.28  # hazard per second while speaking
    blink_rate_pause: float = 1.0  # in the first 1.5 s of a pause
    blink_rate_rest: float = 0.35  # in longer silence
    blink_refractory_s: float = 1.0
    head_degrees: float = 4.0  # head lift at full energy

    def __post_init__(self) -> None:
        bad = [p for p in self.parts if p not in PARTS]
        if bad:
            raise ValueError(f"unknown expression part {bad[0]!r} (choose from {', '.join(PARTS)})")
        if self.emotion not in EMOTIONS:
            raise ValueError(f"unknown emotion {self.emotion!r} (choose from {', '.join(EMOTIONS)})")
        if not 0 <= self.intensity <= 1:
            raise ValueError(f"intensity must be 0..1, got {self.intensity}")
        if not 0 <= self.gain <= 2:
            raise ValueError(f"expression gain must be 0..2, got {self.gain}")

    @property
    def open_gain(self) -> float:
        return 1.0 + self.intensity * (OPEN_GAIN.get(self.emotion, 1.0) - 1.0)


# rig channels that hold head rotations (degrees mapped onto 0..1 by the channel's range);
# sinks send them as bone rotations (VMC) or head angles (Live Link) rather than as blendshapes
HEAD_CHANNELS = {"headYaw": 0, "headPitch": 1, "headRoll": 2}


def head_angles(weights: np.ndarray, channels: list[str], ranges: dict) -> np.ndarray | None:
    """(yaw, pitch, roll) in degrees, ``[..., 3]``, from weights ``[..., channels]`` (one frame or many), or
    None when the rig has no head channels.

    Yaw is positive towards the character's left (the viewer's right), pitch
    positive chin up, roll positive with the top of the head towards the
    character's left shoulder.
    """
    weights = np.asarray(weights, np.float64)
    out, found = np.zeros((*weights.shape[:-1], 3)), False
    for ch, axis in HEAD_CHANNELS.items():
        if ch in channels:
            lo, hi = ranges.get(ch, (-30.0, 30.0))
            out[..., axis] = lo + weights[..., channels.index(ch)] * (hi - lo)
            found = True
    return out if found else None


def _pole(tau_s: float) -> float:
    """Per-frame coefficient of a one-pole smoother with time constant ``tau_s``."""
    return float(np.exp(-1.0 / (FPS * tau_s)))


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


# smoothing rates per 10 ms frame (1 - pole) of the time constants used below
_K = {tau: 1.0 - _pole(tau) for tau in (0.05, 0.06, 0.08, 0.4, 1.0, 1.5, 3.0)}
_DEV_DECAY = _pole(0.15)
_DRIFT_SIGMA = (3.0, 0.4, 1.2)  # degrees: yaw, pitch, roll
_DRIFT_DECAY = tuple(_pole(tau) for tau in (2.5, 1.0, 2.0))
_DRIFT_STEP = tuple(float(np.sqrt(1 - d * d)) for d in _DRIFT_DECAY)
_DRAWS = 256  # random numbers are drawn in blocks of this many frames, whatever the chunking


class ExpressionStream:
    """``push(samples)`` -> controls ``float32 [frames, len(CONTROLS)]`` for the 10 ms frames now complete.

    Frame ``i`` is the one at ``i / 100`` s, as everywhere in the package; the
    controls of a frame depend only on the audio up to 20 ms after it.
    """

    def __init__(self, params: ExpressionParams):
        self.params = params
        self.prosody = ProsodyStream()
        self.rng = np.random.Generator(np.random.PCG64(params.seed))
        self.draws = np.zeros((0, 4))
        self.base = np.zeros(len(CONTROLS))
        for name, value in EMOTIONS[params.emotion].items():
            self.base[_I[name]] = value * params.intensity
        self.blink_scale = BLINK_FACTOR.get(params.emotion, 1.0) ** params.intensity / FPS
        self.level_ref = -30.0  # running speech level, dBFS
        self.silent_frames = 100  # frames since speech was last heard
        self.pitch_ref: float | None = None  # running pitch baseline, semitones re 100 Hz
        self.dev = self.env = self.brow = self.activity = 0.0
        self.lift = [0.0, 0.0]  # two cascaded smoothers of the head lift
        self.drift = [0.0, 0.0, 0.0]  # OU drift of yaw, pitch, roll in degrees
        self.blink_at = -1000  # frame a blink started
        self.frame = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        return self._controls(self.prosody.push(samples))

    def flush(self) -> np.ndarray:
        return self._controls(self.prosody.flush())

    def run(self, samples: np.ndarray) -> np.ndarray:
        """Controls of a whole signal, one row per 10 ms frame."""
        return np.concatenate([self.push(samples), self.flush()])

    def _controls(self, rows: np.ndarray) -> np.ndarray:
        p = self.params
        out = np.tile(self.base, (len(rows), 1)).astype(np.float32)
        blink, brow, head = _I["blink"], _I["brow_up"], _I["head_yaw"]
        for k, (db, voiced, f0) in enumerate(rows.tolist()):
            if not len(self.draws):  # one uniform (blink) and three normals (drift) per frame
                self.draws = np.column_stack([self.rng.random(_DRAWS), self.rng.standard_normal((_DRAWS, 3))])
            u, *noise = self.draws[0].tolist()
            self.draws = self.draws[1:]
            self._listen(db, voiced > 0, f0)
            if "blinks" in p.parts:
                out[k, blink] = p.gain * self._blink(u)
            if "brows" in p.parts:
                out[k, brow] += p.gain * 0.7 * self._brow()
            if "head" in p.parts:
                out[k, head:head + 3] += [p.gain * a for a in self._head(noise)]
        return out

    def _listen(self, db: float, voiced: bool, f0: float) -> None:
        """Follow the speech level, whether someone is speaking, the energy envelope and the pitch."""
        speaking = db > max(-55.0, self.level_ref - 18.0)
        if speaking and db > self.level_ref - 20.0:
            self.level_ref += _K[1.5] * (db - self.level_ref)
        self.silent_frames = 0 if speaking else self.silent_frames + 1
        target = _clip((db - self.level_ref + 20.0) / 25.0, 0.0, 1.0) if speaking else 0.0
        self.env += _K[0.08] * (target - self.env)
        self.activity += _K[1.0] * (float(speaking) - self.activity)
        if voiced and speaking and f0 > 0:
            st = 12.0 * float(np.log2(f0 / 100.0))
            self.pitch_ref = st if self.pitch_ref is None else self.pitch_ref + _K[3.0] * (st - self.pitch_ref)
            self.dev += _K[0.05] * (_clip(st - self.pitch_ref, -6.0, 6.0) - self.dev)
        else:
            self.dev *= _DEV_DECAY

    def _blink(self, u: float) -> float:
        since = self.frame - self.blink_at
        self.frame += 1
        if since < len(BLINK_SHAPE):
            return float(BLINK_SHAPE[since])
        quiet = self.silent_frames
        rate = (self.params.blink_rate_speech if quiet < 15 else
                self.params.blink_rate_pause if quiet < 150 else self.params.blink_rate_rest)
        if since >= self.params.blink_refractory_s * FPS and u < rate * self.blink_scale:
            self.blink_at = self.frame - 1
            return float(BLINK_SHAPE[0])
        return 0.0

    def _brow(self) -> float:
        """Brow raise 0..1: up fast on a pitch accent in loud speech, down slowly after."""
        accent = _clip((self.dev - 1.5) / 4.0, 0.0, 1.0) if self.env > 0.3 else 0.0
        self.brow += _K[0.06 if accent > self.brow else 0.4] * (accent - self.brow)
        return self.brow

    def _head(self, noise: list[float]) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees: lift with energy and pitch, plus drift that grows while speaking."""
        lift = self.params.head_degrees * self.env + 0.25 * self.dev
        self.lift[0] += _K[0.05] * (lift - self.lift[0])
        self.lift[1] += _K[0.05] * (self.lift[0] - self.lift[1])
        # Ornstein-Uhlenbeck drift: stationary spread sigma, time constant tau
        spread = 0.4 + 0.6 * self.activity
        for i in range(3):
            self.drift[i] = (_DRIFT_DECAY[i] * self.drift[i]
                             + _DRIFT_SIGMA[i] * spread * _DRIFT_STEP[i] * noise[i])
        return self.drift[0], self.lift[1] + self.drift[1], self.drift[2]


def controls(samples: np.ndarray, params: ExpressionParams) -> np.ndarray:
    """Controls of a whole signal, ``float32 [frames, len(CONTROLS)]`` at 100 frames/s."""
    return ExpressionStream(params).run(samples)


def analysis_frames(frames: int, fps: float, available: int) -> np.ndarray:
    """For output frames ``0..frames-1`` at ``fps``, the 10 ms analysis frame each shows.

    The live analyser emits output frame ``j`` once analysis frame
    ``ceil(j * 100 / fps)`` is done and shows that frame; offline curves use the
    same rule, so both paths sample identical controls.
    """
    idx = np.ceil(np.arange(frames) * FPS / fps - 1e-7).astype(np.int64)
    return np.clip(idx, 0, max(0, available - 1))


def expression_rig(rig: RigProfile) -> RigProfile:
    """``rig`` with the expression layer's extra channels (head angles, eye openness...) appended.

    Raises
    ------
    ValueError
        For a rig without an ``expression`` section, or a 2D shape set.
    """
    if rig.discrete or not rig.expression:
        with_it = "a 2D mouth set" if rig.discrete else "no expression section"
        raise ValueError(f"rig {rig.name} has {with_it}; the expression layer needs a rig that maps "
                         "blinks, brows and head (arkit, vrm, vrm0, live2d, vtubestudio or a profile with "
                         "an \"expression\" section)")
    extra = rig.expression["channels"]
    return replace(rig, channels=rig.channels + tuple(extra),
                   rest={**rig.rest, **{c: v["rest"] for c, v in extra.items()}},
                   ranges={**rig.ranges, **{c: tuple(v["range"]) for c, v in extra.items() if "range" in v}},
                   expression={})


class Mix(NamedTuple):
    """How controls reach a rig's channels (see :func:`mix`)."""

    rig: RigProfile  # the lip rig with the extra channels appended
    lip_channels: int
    gains: np.ndarray  # [controls, channels]: channel += gain x control
    mouth: np.ndarray  # [channels] bool: contributions fade out at lip contacts
    loud: np.ndarray  # [channels] bool: the jaw channels the emotion's opening gain scales
    extra_rest: np.ndarray  # rest values of the channels the layer appends


def mix(rig: RigProfile) -> Mix:
    """The mixing matrix of ``rig``'s ``expression`` section (raises ValueError without one)."""
    full = expression_rig(rig)
    index = {c: i for i, c in enumerate(full.channels)}
    gains = np.zeros((len(CONTROLS), len(full.channels)))
    for name, targets in rig.expression["controls"].items():
        for ch, gain in targets.items():
            gains[_I[name], index[ch]] += gain
    mouth = np.isin(full.channels, sorted(mouth_channels(rig)))
    loud = np.isin(full.channels, list(rig.loudness_channels))
    extra_rest = np.array([full.rest.get(c, 0.0) for c in full.channels[len(rig.channels):]])
    return Mix(full, len(rig.channels), gains, mouth, loud, extra_rest)


def apply(m: Mix, lips: np.ndarray, ctrl: np.ndarray, contact: np.ndarray, open_gain: float = 1.0) -> np.ndarray:
    """Lip values plus the expression layer, ``float32 [frames, channels + extra]`` in 0..1.

    Parameters
    ----------
    m : Mix
        From :func:`mix` of the lip rig.
    lips : ndarray
        ``[frames, lip channels]`` lip curves.
    ctrl : ndarray
        ``[frames, len(CONTROLS)]`` controls for the same frames.
    contact : ndarray
        ``[frames]`` 0..1, how much the lips are closed or touching the teeth
        (the p/b/m and f/v share of the viseme blend): mouth contributions fade out there.
    open_gain : float
        Scales the rig's loudness (jaw) channels outside contacts.
    """
    lips = np.asarray(lips, np.float64).reshape(-1, m.lip_channels)
    values = np.concatenate([lips, np.broadcast_to(m.extra_rest, (len(lips), len(m.extra_rest)))], axis=1)
    free = 1.0 - np.clip(np.asarray(contact, np.float64).reshape(-1, 1), 0.0, 1.0)
    add = np.asarray(ctrl, np.float64).reshape(len(lips), -1) @ m.gains
    values += np.where(m.mouth, add * free, add)
    if open_gain != 1.0:
        values = np.where(m.loud, values * (1.0 + (open_gain - 1.0) * free), values)
    return np.clip(values, 0.0, 1.0).astype(np.float32)


def mouth_channels(rig: RigProfile) -> set[str]:
    """Channels some viseme pose moves away from rest: the ones closures depend on."""
    return {c for pose in rig.poses.values() for c, w in pose.items() if abs(w - rig.rest.get(c, 0.0)) > 1e-6}
