"""The audio model: log-mel frames in, phone-class posteriors out (torch).

Two small temporal convolution networks share one design and one weights file:

- ``offline`` sees about 0.6 s either side of each frame (full context);
- ``causal`` sees only the past plus ``lookahead`` frames (60 ms): its output
  for frame ``t`` is produced once frame ``t + lookahead`` has arrived.

Each block is a dilated depthwise convolution, a pointwise convolution and a
residual connection: cheap enough for hundreds of times real time on one core.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .features import N_MELS
from .inventory import CLASSES

SILENCE_FEATURE = float(np.log(1e-6))  # log-mel of digital silence


@dataclass(frozen=True)
class ModelConfig:
    n_mels: int = N_MELS
    n_classes: int = len(CLASSES)
    channels: int = 160
    kernel: int = 5
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)
    lookahead: int = 6  # causal model, frames

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**{**d, "dilations": tuple(d["dilations"])})


class Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, causal: bool):
        super().__init__()
        span = (kernel - 1) * dilation
        self.pad = (span, 0) if causal else (span // 2, span - span // 2)
        self.depthwise = nn.Conv1d(channels, channels, kernel, dilation=dilation, groups=channels)
        self.norm = nn.BatchNorm1d(channels)
        self.pointwise = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(F.pad(x, self.pad, value=0.0))
        return x + self.pointwise(F.relu(self.norm(y)))


class PhoneNet(nn.Module):
    """``[batch, frames, n_mels]`` log-mel -> ``[batch, frames, n_classes]`` logits.

    The causal net's output at index ``t`` belongs to frame ``t - lookahead``.
    """

    def __init__(self, config: ModelConfig | None = None, causal: bool = False):
        super().__init__()
        config = config or ModelConfig()
        self.config, self.causal = config, causal
        c = config.channels
        self.input_norm = nn.BatchNorm1d(config.n_mels)
        self.pad_in = (2, 0) if causal else (1, 1)
        self.conv_in = nn.Conv1d(config.n_mels, c, 3)
        self.blocks = nn.ModuleList(Block(c, config.kernel, d, causal) for d in config.dilations)
        self.head = nn.Conv1d(c, config.n_classes, 1)

    @property
    def context(self) -> int:
        """Frames of input on each side that influence one output frame."""
        return 1 + sum((self.config.kernel - 1) * d for d in self.config.dilations)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = self.input_norm(feats.transpose(1, 2))
        x = F.relu(self.conv_in(F.pad(x, self.pad_in, value=0.0)))
        for block in self.blocks:
            x = block(x)
        return self.head(x).transpose(1, 2)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@torch.inference_mode()
def class_posteriors(net: PhoneNet, feats: np.ndarray, chunk: int = 4000) -> np.ndarray:
    """Per-frame class probabilities for a whole file, ``float32 [frames, n_classes]``.

    Runs the network over overlapping chunks so memory stays bounded on long
    files; the overlap covers the receptive field, so the result equals one pass.
    """
    net.eval()
    n = len(feats)
    shift = net.config.lookahead if net.causal else 0
    ctx = net.context
    padded = np.concatenate([feats, np.full((shift, feats.shape[1]), SILENCE_FEATURE, np.float32)])
    out = np.empty((n, net.config.n_classes), dtype=np.float32)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        lo, hi = max(0, a - ctx), min(len(padded), b + shift + ctx)
        x = torch.from_numpy(np.ascontiguousarray(padded[lo:hi], dtype=np.float32))[None]
        logits = net(x)[0, a - lo + shift:b - lo + shift]
        out[a:b] = torch.softmax(logits, dim=-1).numpy()
    return out


class CausalStream:
    """The causal network run on frames as they arrive, for live audio (NumPy, no autograd machinery).

    Each layer keeps the few past inputs its dilated convolution still needs, so
    a 10 ms hop costs one frame of computation: a handful of vector operations
    per layer with the batch norms folded into the convolutions, which is what
    makes it cheap enough for 100 calls a second. ``push(feats)`` returns the
    class probabilities of the frames that are now final (``lookahead`` frames
    behind the newest input); ``flush()`` returns the rest. Together they equal
    :func:`class_posteriors` of the causal network on the whole input.
    """

    def __init__(self, net: PhoneNet):
        if not net.causal:
            raise ValueError("CausalStream needs the causal network")
        self.config = c = net.config
        sd = {k: v.detach().cpu().double().numpy() for k, v in net.state_dict().items()}

        def bn(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            scale = sd[f"{prefix}.weight"] / np.sqrt(sd[f"{prefix}.running_var"] + 1e-5)
            return scale, sd[f"{prefix}.bias"] - sd[f"{prefix}.running_mean"] * scale

        self.in_scale, self.in_shift = (a.astype(np.float32)[:, None] for a in bn("input_norm"))
        self.conv_in = sd["conv_in.weight"].astype(np.float32)  # [C, n_mels, 3]
        self.conv_in_b = sd["conv_in.bias"].astype(np.float32)[:, None]
        self.blocks = []
        for i, d in enumerate(c.dilations):
            s, t = bn(f"blocks.{i}.norm")
            w = sd[f"blocks.{i}.depthwise.weight"][:, 0, :] * s[:, None]  # BN folded into the depthwise conv
            b = sd[f"blocks.{i}.depthwise.bias"] * s + t
            self.blocks.append((d, w.astype(np.float32), b.astype(np.float32)[:, None],
                                sd[f"blocks.{i}.pointwise.weight"][:, :, 0].astype(np.float32),
                                sd[f"blocks.{i}.pointwise.bias"].astype(np.float32)[:, None]))
        self.head = sd["head.weight"][:, :, 0].astype(np.float32)
        self.head_b = sd["head.bias"].astype(np.float32)[:, None]
        self._bufs = [np.zeros((c.n_mels, 2), np.float32)] + [
            np.zeros((c.channels, (c.kernel - 1) * d), np.float32) for d in c.dilations]
        self._skip = c.lookahead  # outputs that belong to frames before 0

    def push(self, feats: np.ndarray) -> np.ndarray:
        n = len(feats)
        if n == 0:
            return np.zeros((0, self.config.n_classes), dtype=np.float32)
        x = np.asarray(feats, dtype=np.float32).T * self.in_scale + self.in_shift
        joined = self._join(0, x)
        h = self.conv_in_b + sum(self.conv_in[:, :, k] @ joined[:, k:k + n] for k in range(3))
        x = np.maximum(h, 0.0)
        k_size = self.config.kernel
        for i, (d, w, b, pw, pb) in enumerate(self.blocks, start=1):
            joined = self._join(i, x)
            y = b + sum(w[:, k, None] * joined[:, k * d:k * d + n] for k in range(k_size))
            x = x + pw @ np.maximum(y, 0.0) + pb
        logits = (self.head @ x + self.head_b).T
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        drop = min(self._skip, n)
        self._skip -= drop
        return probs[drop:].astype(np.float32)

    def flush(self) -> np.ndarray:
        pad = np.full((self.config.lookahead, self.config.n_mels), SILENCE_FEATURE, np.float32)
        return self.push(pad)

    def _join(self, i: int, x: np.ndarray) -> np.ndarray:
        """The kept past of layer ``i`` followed by ``x``; keeps what the next call needs."""
        keep = self._bufs[i].shape[1]
        joined = np.concatenate([self._bufs[i], x], axis=1)
        self._bufs[i] = joined[:, joined.shape[1] - keep:]
        return joined
