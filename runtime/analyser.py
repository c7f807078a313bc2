"""Streaming analysis: audio blocks in, rig weights out at the output rate, as the audio arrives.

The live head of the shipped weights (:mod:`visemes.live_train`: a causal
network with 20 ms lookahead, trained to predict the offline animation's blend
of the 15 visemes, anticipation and coarticulation included) runs on log-mel
frames as they complete (:class:`visemes.features.MelStream`,
:class:`visemes.model.CausalStream`). Each 10 ms frame's blend is posed on the
rig; a frame where a p/b/m or f/v wins is posed at full contact, so closures
are never blurred away. Frames are emitted at ``fps`` (30-120 Hz).

With an :class:`~visemes.expression.ExpressionParams`, the expression layer
(blinks, brows, head motion, emotion) runs on the same audio in the same
10 ms steps as offline (:class:`visemes.expression.ExpressionStream`), and its
channels follow the lip channels in every frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from visemes.animate import CONTACT_VISEMES
from visemes.engines import load_network
from visemes.expression import CONTROLS, ExpressionParams, ExpressionStream, apply, mix
from visemes.features import FPS, MelStream
from visemes.model import CausalStream
from visemes.phones import MOUTH_SHAPES, VISEME_INDEX, VISEMES
from visemes.rigs import RigProfile

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
    """``push(samples)`` (16 kHz mono float32, any block size) -> the :class:`LiveFrame` s now final."""

    def __init__(self, rig: RigProfile, fps: float = 60.0, expression: ExpressionParams | None = None):
        if not 1 <= fps <= 240:
            raise ValueError(f"output rate {fps} Hz is outside 1-240")
        if rig.discrete:
            raise ValueError(f"the live runtime drives continuous rigs; {rig.name} is a 2D shape set")
        self.fps = float(fps)
        self.poses = rig.pose_matrix()
        self.expression = expression
        self.mix = mix(rig) if expression is not None else None
        self.rig = self.mix.rig if self.mix else rig  # the channels every frame carries
        self.face = ExpressionStream(expression) if expression is not None else None
        self.controls: deque[np.ndarray] = deque()  # expression rows ahead of the lip frames
        self.mel = MelStream()
        self.stream = CausalStream(load_network("live"))
        # what the sound of a frame waits for before it is sent: lookahead, half a window, half a block, half a tick
        self.latency_s = self.stream.config.lookahead / FPS + 0.0125 + 0.005 + 0.5 / self.fps
        self.blend = np.zeros(len(VISEMES), np.float32)
        self.blend[VISEME_INDEX["sil"]] = 1.0
        self.frame = 0  # analysis frames done (100/s)
        self.emitted = 0
        self.level = -120.0  # dBFS of the latest block

    def push(self, samples: np.ndarray) -> list[LiveFrame]:
        samples = np.asarray(samples, dtype=np.float32)
        if len(samples):
            self.level = float(20 * np.log10(np.sqrt(np.mean(samples ** 2)) + 1e-6))
        if self.face is not None:
            self.controls.extend(self.face.push(samples))
        return self._frames(self.stream.push(self.mel.push(samples)))

    def flush(self) -> list[LiveFrame]:
        """The frames still held back by the lookahead, at the end of the stream."""
        if self.face is not None:
            self.controls.extend(self.face.flush())
        probs = self.stream.push(self.mel.flush())
        return self._frames(np.concatenate([probs, self.stream.flush()]))

    def _frames(self, blends: np.ndarray) -> list[LiveFrame]:
        out = []
        for p in blends:
            # the expression frame of this 10 ms step (its audio window ends before the lip model's)
            ctrl = self.controls.popleft() if self.controls else None
            best = int(np.argmax(p))
            self.blend = p
            if VISEMES[best] in CONTACT_VISEMES and p[best] >= CONTACT_THRESHOLD:
                self.blend = np.zeros_like(p)
                self.blend[best] = 1.0  # full contact, as offline closures are
            t = self.frame / FPS
            self.frame += 1
            while self.emitted / self.fps <= t + 1e-9:
                out.append(self._emit(best, ctrl))
        return out

    def _emit(self, best: int, ctrl: np.ndarray | None) -> LiveFrame:
        weights = np.clip(self.blend @ self.poses, 0.0, 1.0).astype(np.float32)
        if self.mix is not None:
            ctrl = ctrl if ctrl is not None else np.zeros(len(CONTROLS), np.float32)
            contact = self.blend[VISEME_INDEX["PP"]] + self.blend[VISEME_INDEX["FF"]]
            weights = apply(self.mix, weights, ctrl, contact, self.expression.open_gain)[0]
        mouth = tuple(float(x) for x in self.blend @ MOUTH_TABLE)
        frame = LiveFrame(self.emitted, self.emitted / self.fps, weights, VISEMES[best], mouth, self.level)
        self.emitted += 1
        return frame
