"""Streaming analysis: audio blocks in, rig weights out at the output rate, as the audio arrives.

The live head of the shipped weights (:mod:`visemes.live_train`: a causal
network with 20 ms lookahead, trained to predict the offline animation's blend
of the 15 visemes, anticipation and coarticulation included) runs on log-mel
frames as they complete (:class:`visemes.features.MelStream`,
:class:`visemes.model.CausalStream`). Each 10 ms frame's blend is posed on the
rig; a frame where a p/b/m or f/v wins is posed at full contact, so closures
are never blurred away. Frames are emitted at ``fps`` (30-120 Hz).

With ``delay_s`` (``visemes live --delay``), the mouth is held that far behind
the voice and the offline pipeline itself decides it: :class:`RollingDecoder`
runs the offline network, the Viterbi decoder and the animation of
``visemes bake`` on a rolling window of the recent audio, so live curves are
bake's curves, bought with latency (pair it with audio pass-through, which
delays the voice alike).

With an :class:`~visemes.expression.ExpressionParams`, the expression layer
(blinks, brows, head motion, emotion) runs on the same audio in the same
10 ms steps as offline (:class:`visemes.expression.ExpressionStream`), and its
channels follow the lip channels in every frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from visemes.animate import CONTACT_VISEMES, AnimationParams, pose, viseme_weights
from visemes.decoding import viseme_posteriors, viterbi_segments
from visemes.engines import load_network
from visemes.expression import CONTROLS, ExpressionParams, ExpressionStream, apply, mix
from visemes.features import FPS, HOP, MelStream, frame_rms_db, relative_loudness, speech_level
from visemes.model import CausalStream, class_posteriors
from visemes.phones import MOUTH_SHAPES, VISEME_INDEX, VISEMES
from visemes.rigs import RigProfile
from visemes.tracks import Segment, Track

CONTACT_THRESHOLD = 0.4  # posterior at which a winning p/b/m or f/v is taken as a real contact
MOUTH_TABLE = np.array([MOUTH_SHAPES[v] for v in VISEMES], dtype=np.float32)


@dataclass
class LiveFrame:
    """One output frame.

    Attributes
    ----------
    index : int
        Output frame number from 0.
    time : float
        Media time of the frame (seconds from the start of the stream).
    weights : ndarray
        ``float32 [channels]`` rig weights, 0..1, in the rig's channel order.
    viseme : str
        The most likely viseme now.
    mouth : tuple of float
        Generic (open, wide, round) in 0..1, for drawings.
    level : float
        Input level of the frame in dBFS.
    """

    index: int
    time: float
    weights: np.ndarray
    viseme: str
    mouth: tuple[float, float, float]
    level: float


class LiveAnalyser:
    """``push(samples)`` (16 kHz mono float32, any block size) -> the :class:`LiveFrame` s now final.

    ``delay_s`` 0 runs the low-latency live head; from 0.05 s on, the offline pipeline on a rolling window
    (:class:`RollingDecoder`) decides each frame that long after its sound.
    """

    def __init__(self, rig: RigProfile, fps: float = 60.0, expression: ExpressionParams | None = None,
                 delay_s: float = 0.0):
        if not 1 <= fps <= 240:
            raise ValueError(f"output rate {fps} Hz is outside 1-240")
        if rig.discrete:
            raise ValueError(f"the live runtime drives continuous rigs; {rig.name} is a 2D shape set")
        if delay_s and not MIN_DELAY_S <= delay_s <= MAX_DELAY_S:
            raise ValueError(f"delay {delay_s * 1000:.0f} ms is outside {MIN_DELAY_S * 1000:.0f}-"
                             f"{MAX_DELAY_S * 1000:.0f} ms (or 0 for the live head)")
        self.fps = float(fps)
        self.lips, self.params = rig, AnimationParams.for_rig(rig, fps=fps)
        self.expression = expression
        self.mix = mix(rig) if expression is not None else None
        self.rig = self.mix.rig if self.mix else rig  # the channels every frame carries
        self.face = ExpressionStream(expression) if expression is not None else None
        self.controls: deque[np.ndarray] = deque()  # expression rows ahead of the lip frames
        self.mel = MelStream()
        self.stream = CausalStream(load_network("live")) if not delay_s else None
        self.rolling = RollingDecoder(rig, self.params, round(delay_s * FPS)) if delay_s else None
        # what the sound of a frame waits for before it is sent: lookahead (or delay), half a window, half a
        # block, half a tick
        ahead = self.stream.config.lookahead if self.stream else self.rolling.delay + RollingDecoder.STEP / 2
        self.latency_s = ahead / FPS + 0.0125 + 0.005 + 0.5 / self.fps
        self.frame = 0  # analysis frames done (100/s)
        self.emitted = 0
        self.level = -120.0  # dBFS of the latest block

    def push(self, samples: np.ndarray) -> list[LiveFrame]:
        samples = np.asarray(samples, dtype=np.float32)
        if len(samples):
            self.level = float(20 * np.log10(np.sqrt(np.mean(samples ** 2)) + 1e-6))
        if self.face is not None:
            self.controls.extend(self.face.push(samples))
        feats = self.mel.push(samples)
        if self.rolling:
            return self._decided(self.rolling.push(feats, samples))
        return self._frames(self.stream.push(feats))

    def flush(self) -> list[LiveFrame]:
        """The frames still held back by the lookahead, at the end of the stream."""
        if self.face is not None:
            self.controls.extend(self.face.flush())
        feats = self.mel.flush()
        if self.rolling:
            return self._decided(self.rolling.push(feats, np.zeros(0, np.float32), final=True))
        probs = self.stream.push(feats)
        return self._frames(np.concatenate([probs, self.stream.flush()]))

    def _frames(self, blends: np.ndarray) -> list[LiveFrame]:
        """Frames from the live head's 100/s blends: each output frame shows the newest blend."""
        out = []
        for p in blends:
            best = int(np.argmax(p))
            if VISEMES[best] in CONTACT_VISEMES and p[best] >= CONTACT_THRESHOLD:
                p = np.zeros_like(p)
                p[best] = 1.0  # full contact, as offline closures are
            weights = pose(p[None], self.lips, self.params)[0]
            out += self._step([(p, weights)] * (outputs_until(self.frame + 1, self.fps) - self.emitted))
        return out

    def _decided(self, steps: list[tuple[np.ndarray, np.ndarray]]) -> list[LiveFrame]:
        """Frames from the rolling decoder: one (blends, weights) pair of output rows per 10 ms step."""
        return [f for blends, weights in steps for f in self._step(list(zip(blends, weights, strict=True)))]

    def _step(self, rows: list[tuple[np.ndarray, np.ndarray]]) -> list[LiveFrame]:
        # the expression frame of this 10 ms step (its audio window ends before the lip model's)
        ctrl = self.controls.popleft() if self.controls else None
        self.frame += 1
        return [self._emit(blend, weights, ctrl) for blend, weights in rows]

    def _emit(self, blend: np.ndarray, weights: np.ndarray, ctrl: np.ndarray | None) -> LiveFrame:
        best = int(np.argmax(blend))
        if self.mix is not None:
            ctrl = ctrl if ctrl is not None else np.zeros(len(CONTROLS), np.float32)
            contact = blend[VISEME_INDEX["PP"]] + blend[VISEME_INDEX["FF"]]
            weights = apply(self.mix, weights, ctrl, contact, self.expression.open_gain)[0]
        mouth = tuple(float(x) for x in blend @ MOUTH_TABLE)
        frame = LiveFrame(self.emitted, self.emitted / self.fps, weights, VISEMES[best], mouth, self.level)
        self.emitted += 1
        return frame


MIN_DELAY_S, MAX_DELAY_S = 0.05, 2.0


def outputs_until(frames: int, fps: float) -> int:
    """How many output frames (at ``fps``) fall within the first ``frames`` analysis frames: those whose time
    is at most that of the last one, ``(frames - 1) / 100`` s."""
    return int(np.floor((frames - 1) / FPS * fps + 1e-9)) + 1 if frames > 0 else 0


class RollingDecoder:
    """The offline pipeline on a rolling window, deciding frames ``delay`` analysis frames behind the input.

    Each pass decodes, with the Viterbi decoder of ``visemes bake``, the class posteriors of the last
    :attr:`HISTORY` decided frames and of everything received since, animates that window with the offline
    animation (anticipation, coarticulation, held closures, jaw by loudness) and keeps the frames now
    ``delay`` old. Posteriors are computed once their frame has the network's whole context on both sides
    and provisionally (the future zero-padded, as at the end of a file) until then; the loudness reference
    is the :func:`~visemes.features.speech_level` of the last minute. The further the delay reaches, the
    closer the frames are to bake's (which sees the whole file): see docs/benchmarks.md.
    """

    HISTORY = 300  # 3 s of decided past in each pass: far more than the decoder's path needs to settle
    STEP = 5  # frames decided per pass (50 ms)
    LEVELS = 6000  # frame levels kept for the loudness reference (1 minute)

    def __init__(self, rig: RigProfile, params: AnimationParams, delay: int):
        self.net = load_network("offline")
        self.rig, self.params, self.delay = rig, params, delay
        self.ctx = self.net.context
        self.base = 0  # absolute frame of the first row kept in the buffers below
        self.feats = np.zeros((0, self.net.config.n_mels), np.float32)
        self.probs = np.zeros((0, self.net.config.n_classes), np.float32)
        self.samples = np.zeros(0, np.float32)  # from sample base * HOP
        self.final = 0  # posteriors before this frame have their whole context
        self.done = 0  # frames decided
        self.emitted = 0  # output frames made
        self.levels: deque[float] = deque(maxlen=self.LEVELS)

    def push(self, feats: np.ndarray, samples: np.ndarray, final: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        """Take new log-mel frames and their audio; return, for each frame now decided, the (blends, weights)
        of the output frames due by its end (``final``: the stream has ended, decide everything)."""
        self.feats = np.concatenate([self.feats, feats])
        self.samples = np.concatenate([self.samples, samples])
        end = self.base + len(self.feats)
        target = end if final else end - self.delay
        if target <= self.done or (target - self.done < self.STEP and not final):
            return []
        self._update_posteriors(end, final)
        ws = max(self.base, self.done - self.HISTORY)
        track = self._window_track(ws, end)
        last = outputs_until(target, self.params.fps)
        blends = viseme_weights(track, self.params, first=self.emitted)[: last - self.emitted]
        weights = pose(blends, self.rig, self.params, self._loudness(ws, end, target, last))
        steps, i = [], 0
        for k in range(self.done, target):
            n = outputs_until(k + 1, self.params.fps) - self.emitted - i
            steps.append((blends[i:i + n], weights[i:i + n]))
            i += n
        self.emitted = last
        self.done = target
        self._trim()
        return steps

    def _update_posteriors(self, end: int, final: bool) -> None:
        lo = max(self.base, self.final - self.ctx)
        fresh = class_posteriors(self.net, self.feats[lo - self.base:])
        self.probs = np.concatenate([self.probs[: self.final - self.base], fresh[self.final - lo:]])
        self.final = end if final else max(self.final, end - self.ctx)

    def _window_track(self, ws: int, end: int) -> Track:
        """The decoded window in stream time: rest before it, then its segments."""
        window = viterbi_segments(viseme_posteriors(self.probs[ws - self.base: end - self.base]))
        t0 = ws / FPS
        lead = [Segment(0.0, t0, "sil")] if ws else []
        return Track(lead + [s._replace(start=s.start + t0, end=s.end + t0) for s in window.segments])

    def _loudness(self, ws: int, end: int, target: int, last: int) -> np.ndarray:
        """Loudness 0..1 at output frames ``emitted..last``, as :func:`~visemes.features.loudness` gives it
        but against the speech level of the last minute; keeps the levels of the frames up to ``target``."""
        db = frame_rms_db(self.samples[(ws - self.base) * HOP:])[: end - ws]
        ref = speech_level(np.concatenate([np.array(self.levels, np.float32), db[self.done - ws:]]))
        self.levels.extend(db[self.done - ws: target - ws].tolist())
        loud = relative_loudness(db, ref)
        t = np.arange(self.emitted, last) / self.params.fps
        return np.interp(t, np.arange(ws, end) / FPS, loud)

    def _trim(self) -> None:
        keep = max(0, min(self.done - self.HISTORY, self.final - self.ctx))
        if keep > self.base:
            cut = keep - self.base
            self.feats, self.probs = self.feats[cut:], self.probs[cut:]
            self.samples = self.samples[cut * HOP:]
            self.base = keep
