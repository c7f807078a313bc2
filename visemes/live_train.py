"""Train the live head: a causal network with a short lookahead that predicts the offline animation's viseme blend.

``python -m visemes.live_train`` (after ``python -m visemes.train``, whose corpus cache it reuses). The live
runtime has two bars the 60 ms causal network cannot meet together: a closure must reach the wire within about
60 ms of its sound, and live curves must follow the offline ones frame for frame, anticipation and
coarticulation included. So this head is taught the *animation* rather than the phones, and taught it by the
offline pipeline itself: its target at each 10 ms frame is the blend of the 15 visemes that ``visemes bake``
would animate from the same audio (offline network, Viterbi decoder, :func:`visemes.animate.viseme_weights`:
lips that move before the sound, neighbours that pull on each other, full closures), so that live follows
offline rather than a second, independent reading of the speech. It sees only ``--lookahead`` frames (20 ms)
of the future. It starts from the causal network's weights (all but
the output layer) and is scored after each epoch by the correlation of its curves with the offline pipeline's
on the real-speech validation set; the best state is written into the weights file as ``live``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .animate import AnimationParams, viseme_weights
from .audio import load_audio
from .decoding import viseme_posteriors, viterbi_segments
from .engines import WEIGHTS, load_network
from .features import log_mel
from .fileio import atomic_write
from .model import ModelConfig, PhoneNet, class_posteriors
from .phones import VISEMES
from .train import DEFAULT_EVAL, _batch, build_corpus, crops

FPS = 100.0


def teacher_targets(feats: np.ndarray, offsets: np.ndarray, weights: Path, log=print) -> np.ndarray:
    """``float32 [frames, 15]``: the offline pipeline's viseme blend (network, Viterbi decoder, animation) for
    every corpus frame, computed from the same augmented features the live head sees."""
    net = load_network("offline", weights)
    params = AnimationParams(fps=FPS)
    out = np.zeros((len(feats), len(VISEMES)), np.float32)
    t0 = time.time()
    for i, (a, b) in enumerate(itertools.pairwise(offsets)):
        probs = class_posteriors(net, feats[a:b].astype(np.float32))
        w = viseme_weights(viterbi_segments(viseme_posteriors(probs)), params)
        out[a:b] = w[: b - a] if len(w) >= b - a else np.vstack([w, np.repeat(w[-1:], b - a - len(w), 0)])
        if i % 500 == 0:
            log(f"teacher: {i} of {len(offsets) - 1} utterances ({time.time() - t0:.0f} s)")
    return out


def offline_blend(wav: Path) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel and the offline pipeline's viseme blend (100/s) for one validation file."""
    from .bake import Settings, lipsync_from_audio
    from .rigs import load_rig

    rig = load_rig("oculus")  # one channel per viseme: its curves are the blend itself
    ls = lipsync_from_audio(wav, rig, AnimationParams.for_rig(rig, fps=FPS), Settings())
    return log_mel(load_audio(wav)), ls.curves.values


def correlation(net: PhoneNet, val: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Pooled frame correlation of the net's blend with the offline blend, over the validation files."""
    a, b = [], []
    for feats, ref in val:
        pred = class_posteriors(net, feats)
        n = min(len(pred), len(ref))
        a.append(pred[:n].ravel())
        b.append(ref[:n].ravel())
    return float(np.corrcoef(np.concatenate(a), np.concatenate(b))[0, 1])


def train_live(lookahead: int = 2, epochs: int = 6, steps: int = 300, batch: int = 32, crop: int = 300,
               lr: float = 1e-3, seed: int = 0, hours: float = 4.0, work: Path | None = None,
               weights: Path = WEIGHTS, eval_dir: Path = DEFAULT_EVAL, log=print) -> dict:
    t0 = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    work = work or Path("/tmp/visemes-train")
    feats, labels, offsets = build_corpus(max(2, int(hours * 3600 / 4.0)), seed, work, os.cpu_count() or 1)
    targets = teacher_targets(feats, offsets, weights, log)
    log(f"targets for {len(offsets) - 1} utterances ({time.time() - t0:.0f} s)")
    blob = torch.load(weights, map_location="cpu", weights_only=True)
    config = ModelConfig(**{**ModelConfig.from_dict(blob["config"]).to_dict(), "n_classes": len(VISEMES),
                            "lookahead": lookahead})
    net = PhoneNet(config, causal=True)
    start = {k: v for k, v in blob["causal"].items() if not k.startswith("head.")}
    net.load_state_dict(start, strict=False)
    val = [offline_blend(w) for w in sorted((eval_dir / "real-speech").glob("*.wav"))]
    best = (correlation(net.eval(), val), {k: v.clone() for k, v in net.state_dict().items()})
    log(f"start: correlation {best[0]:.3f}")
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps, pct_start=0.2)
    L = lookahead
    for epoch in range(1, epochs + 1):
        net.train()
        total = 0.0
        for _ in range(steps):
            s = crops(offsets, crop, batch, rng)
            x, _ = _batch(feats, labels, s, crop)
            idx = np.minimum(s[:, None] + np.arange(crop)[None, :], len(labels) - 1)
            y = torch.from_numpy(targets[idx])[:, : crop - L]
            logp = F.log_softmax(net(x)[:, L:], dim=-1)
            loss = -(y * logp).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach())
        score = correlation(net.eval(), val)
        if score > best[0]:
            best = (score, {k: v.clone() for k, v in net.state_dict().items()})
        log(f"epoch {epoch}: loss {total / steps:.3f} | correlation with offline {score:.3f} "
            f"(best {best[0]:.3f}) ({time.time() - t0:.0f} s)")
        blob["live"], blob["live_config"] = best[1], config.to_dict()
        blob.setdefault("metrics", {})["live"] = {"offline_correlation": best[0]}
        blob.setdefault("recipe", {})["live"] = {"lookahead": L, "epochs": epochs, "epochs_run": epoch,
                                                  "steps_per_epoch": steps, "lr": lr, "seed": seed,
                                                  "seconds": round(time.time() - t0)}
        with atomic_write(weights, "wb") as f:
            torch.save(blob, f)
    return {"correlation": best[0]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m visemes.live_train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lookahead", type=int, default=2, help="frames of future audio the head sees (2 = 20 ms)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--steps", type=int, default=300, help="optimiser steps per epoch")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hours", type=float, default=4.0, help="the corpus size used by visemes train (its cache)")
    ap.add_argument("--work", type=Path, help="the corpus cache folder of visemes train")
    ap.add_argument("--weights", type=Path, default=WEIGHTS, help="weights file to add the live head to")
    ap.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    a = ap.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    train_live(a.lookahead, a.epochs, a.steps, lr=a.lr, hours=a.hours, work=a.work, weights=a.weights,
               eval_dir=a.eval_dir)


if __name__ == "__main__":
    main()
