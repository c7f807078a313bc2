"""Timeline plots: waveform, phones, visemes and rig curves on one time axis (matplotlib).

``visemes plot speech.wav -o timeline.png`` (or ``.svg``). Animators read lip
sync by looking: each row shares the time axis, segments carry their labels,
and the curves panel shows the channels that move most, so a missed closure or
a late vowel stands out at a glance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import VisemesError
from .fileio import write_bytes
from .lipsync import Lipsync
from .phones import VISEME_CLASS

CLASS_COLOURS = {"rest": "#d9d9d9", "closed": "#d62728", "labiodental": "#ff7f0e", "rounded": "#9467bd",
                 "open": "#2ca02c", "other": "#1f77b4"}
MAX_CURVES = 8


def _segments(ax, track, colour_of, label_min: float) -> None:
    for s in track.segments:
        ax.axvspan(s.start, s.end, color=colour_of(s.label), alpha=0.35 + 0.5 * s.confidence, lw=0)
        if s.end - s.start >= label_min and s.label != "sil":
            ax.text((s.start + s.end) / 2, 0.5, s.label, ha="center", va="center", fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(0, 1)


def figure(lipsync: Lipsync, samples: np.ndarray | None = None, rate: int = 16_000):
    """The timeline as a matplotlib Figure (waveform, phones, visemes, curves)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [("waveform", 1.2)] if samples is not None else []
    rows += [("phones", 0.5)] if lipsync.phones is not None else []
    rows += [("visemes", 0.5), ("curves", 2.2)]
    fig, axes = plt.subplots(len(rows), 1, sharex=True, figsize=(max(8.0, min(40.0, 2.2 * lipsync.duration)), 6),
                             gridspec_kw={"height_ratios": [h for _, h in rows]}, squeeze=False)
    axes = dict(zip((name for name, _ in rows), axes[:, 0], strict=True))
    span = lipsync.duration
    label_min = span / 120
    if samples is not None:
        t = np.arange(len(samples)) / rate
        step = max(1, len(samples) // 20_000)
        axes["waveform"].plot(t[::step], samples[::step], lw=0.5, color="#444444")
        axes["waveform"].set_ylabel("audio")
        axes["waveform"].set_yticks([])
    if lipsync.phones is not None:
        _segments(axes["phones"], lipsync.phones, lambda _: "#8c8c8c", label_min)
        axes["phones"].set_ylabel("phones", rotation=0, ha="right", va="center")
    _segments(axes["visemes"], lipsync.visemes, lambda v: CLASS_COLOURS[VISEME_CLASS[v]], label_min)
    axes["visemes"].set_ylabel("visemes", rotation=0, ha="right", va="center")
    c = lipsync.curves
    order = np.argsort(-c.values.std(axis=0))[:MAX_CURVES] if c.channels else []
    for i in order:
        axes["curves"].plot(c.times, c.values[:, i], lw=1.2, label=c.channels[i])
    axes["curves"].set_ylim(-0.02, 1.02)
    axes["curves"].set_ylabel(f"{lipsync.rig.name}\ncurves")
    axes["curves"].set_xlabel("seconds")
    if len(order):
        axes["curves"].legend(loc="upper right", fontsize=7, ncol=min(4, len(order)), framealpha=0.8)
    axes["curves"].set_xlim(0, span)
    handles = [matplotlib.patches.Patch(color=col, label=name) for name, col in CLASS_COLOURS.items()]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(f"{lipsync.source} ({lipsync.engine})", y=0.995, fontsize=10, ha="left", x=0.01)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def save(lipsync: Lipsync, path: str | Path, samples: np.ndarray | None = None) -> None:
    """Write the timeline as PNG or SVG (by ``path``'s suffix), atomically."""
    import io

    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg"):
        raise VisemesError(f"{path}: write the plot as .png or .svg")
    fig = figure(lipsync, samples)
    buf = io.BytesIO()
    fig.savefig(buf, format=suffix[1:], dpi=110)
    from matplotlib import pyplot as plt

    plt.close(fig)
    write_bytes(path, buf.getvalue())
