"""The person-specific mouth renderer: a small U-Net whose features are modulated by the curves.

Input: the current mouth crop with the mouth and everything below it blanked
out, a reference crop of the same person, and that mask (7 channels); a window of curve
frames (``2 * context + 1`` frames of the curves) goes through an MLP into
per-channel scale and shift (FiLM) at every decoder level, so the curves decide
the mouth while the crops give identity, light and pose. Output: the crop
(sigmoid RGB), used inside the ellipse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class RendererConfig:
    size: int = 48  # crop side in pixels (a power of two times 8 is tidy: 48, 64, 128, 256)
    base: int = 8  # channels at full resolution, doubled at each of the 3 downsamplings
    curves: int = 15  # curve channels (the 15 visemes)
    context: int = 2  # curve frames either side of the current one

    def to_dict(self) -> dict:
        return asdict(self)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(min(4, cout), cout), nn.SiLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(min(4, cout), cout), nn.SiLU())


class MouthNet(nn.Module):
    def __init__(self, cfg: RendererConfig):
        super().__init__()
        self.cfg = cfg
        b = cfg.base
        widths = [b, 2 * b, 4 * b, 8 * b]
        self.down = nn.ModuleList([_block(7, widths[0])] + [_block(widths[i], widths[i + 1]) for i in range(3)])
        self.up = nn.ModuleList([_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(3))])
        window = cfg.curves * (2 * cfg.context + 1)
        self.film = nn.Sequential(nn.Linear(window, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(),
                                  nn.Linear(64, 2 * (widths[3] + sum(widths[:3]))))
        self.widths = widths
        self.out = nn.Conv2d(widths[0], 3, 1)

    def forward(self, masked: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor,
                window: torch.Tensor) -> torch.Tensor:
        """``masked``, ``reference``: ``[B, 3, S, S]``; ``mask``: ``[B, 1, S, S]``; ``window``: ``[B, W, C]``."""
        x = torch.cat([masked, reference, mask], dim=1)
        film = self.film(window.flatten(1))
        sizes = [self.widths[3], *reversed(self.widths[:3])]
        params = torch.split(film, [2 * s for s in sizes], dim=1)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        x = _modulate(skips.pop(), params[0])
        for k, block in enumerate(self.up, start=1):
            skip = skips.pop()
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="nearest"), skip], dim=1))
            x = _modulate(x, params[k])
        return torch.sigmoid(self.out(x))


def _modulate(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    scale, shift = p.chunk(2, dim=1)
    return x * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
