"""Train the audio model from scratch, reproducibly: ``python -m visemes.train`` (or ``visemes train``).

1. Makes a synthetic corpus (espeak-ng, Flite; see :mod:`visemes.corpus`) and labels the real
   recordings that may be trained on (see :mod:`visemes.realdata`), both cached in ``--work``.
2. Trains the offline and the causal network together on random crops, a share of them real speech,
   with their log-mel bands and frames masked at random (AdamW, one-cycle schedule).
3. After each epoch, measures both on the real speech in ``--eval-dir`` (validation only: never
   trained on) with the project's ruler, :mod:`visemes.metrics`, keeps the best state of each and stops
   early when the offline model stops improving.
4. Writes one weights file with both networks, the config, the class inventory and the metrics.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from . import metrics
from .audio import load_audio
from .corpus import IGNORE, LABELS_VERSION, make_utterance
from .decoding import viseme_posteriors
from .features import log_mel
from .fileio import atomic_write
from .inventory import CLASSES
from .model import ModelConfig, PhoneNet, class_posteriors, count_parameters

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL = ROOT.parent / "shared" / "eval"
DEFAULT_REAL = ROOT.parent / "shared" / "train"
DEFAULT_OUT = Path(__file__).parent / "weights" / "visemes-net.pt"


def build_corpus(n_utterances: int, seed: int, work: Path, workers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and utterance offsets of the synthetic corpus (made once, then read from the cache)."""
    cache = work / f"corpus-v{LABELS_VERSION}-{n_utterances}-{seed}.npz"
    if cache.exists():
        z = np.load(cache)
        return z["feats"], z["labels"], z["offsets"]
    from tqdm import tqdm

    seeds = range(seed * 1_000_003, seed * 1_000_003 + n_utterances)
    with mp.get_context("fork").Pool(workers) as pool:
        utts = list(tqdm(pool.imap(make_utterance, seeds, chunksize=8), total=n_utterances, desc="corpus",
                         unit="utt"))
    return _cache(cache, utts)


def build_real_corpus(train_dir: Path | None, seed: int, work: Path, log=print
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and offsets of the real recordings (labelled once, then read from the cache)."""
    from .realdata import real_clips, real_utterances

    cache = work / f"real-v2-{seed}-{'shared' if train_dir else 'testdata'}.npz"
    if cache.exists():
        z = np.load(cache)
        return z["feats"], z["labels"], z["offsets"]
    utts = real_utterances(real_clips(train_dir, seed, log), seed)
    return _cache(cache, utts) if utts else (np.zeros((0, 0)), np.zeros(0), np.zeros(1, dtype=np.int64))


def _cache(path: Path, utts: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    feats = np.concatenate([u.feats for u in utts])
    labels = np.concatenate([u.labels for u in utts])
    offsets = np.cumsum([0] + [len(u.labels) for u in utts])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        np.savez(f, feats=feats, labels=labels, offsets=offsets)
    return feats, labels, offsets


def crops(offsets: np.ndarray, length: int, batch: int, rng: np.random.Generator,
          weights: np.ndarray | None = None) -> np.ndarray:
    """Start frames of ``batch`` random crops that stay inside one utterance where possible.

    ``weights`` (one per utterance, summing to 1) says how often each is drawn; uniform by default.
    """
    utt = rng.choice(len(offsets) - 1, size=batch, p=weights)
    lo, hi = offsets[utt], offsets[utt + 1]
    return lo + (rng.random(batch) * np.maximum(1, hi - lo - length)).astype(np.int64)


def _batch(feats, labels, starts, length):
    idx = starts[:, None] + np.arange(length)[None, :]
    idx = np.minimum(idx, len(labels) - 1)
    return torch.from_numpy(feats[idx].astype(np.float32)), torch.from_numpy(labels[idx].astype(np.int64))


def mask_spectra(x: torch.Tensor, rng: np.random.Generator, bands: int = 8, frames: int = 10, n: int = 2
                 ) -> torch.Tensor:
    """SpecAugment-style masks: per crop, ``n`` runs of up to ``bands`` mel bands and ``n`` runs of up to
    ``frames`` frames are set to the crop's mean, so no single band or instant can be relied on."""
    x = x.clone()
    batch, length, n_mels = x.shape
    for i in range(batch):
        fill = x[i].mean()
        for _ in range(n):
            w, t = int(rng.integers(0, bands + 1)), int(rng.integers(0, frames + 1))
            f0, t0 = int(rng.integers(0, n_mels - w + 1)), int(rng.integers(0, length - t + 1))
            x[i, :, f0:f0 + w] = fill
            x[i, t0:t0 + t, :] = fill
    return x


def validation_set(eval_dir: Path) -> list[tuple[Path, np.ndarray]]:
    """(reference alignment, log-mel) for every WAV of the real-speech set."""
    out = []
    for wav in sorted((eval_dir / "real-speech").glob("*.wav")):
        ref = wav.with_suffix(".tsv")
        if ref.exists():
            out.append((ref, log_mel(load_audio(wav))))
    return out


def evaluate(net: PhoneNet, val: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Frame-weighted acc6 and pooled close_f1 (:mod:`visemes.metrics` totals) of the frame-wise best visemes,
    for ``(reference frames, log-mel)`` pairs."""
    scores = [metrics.score_against(ref15, viseme_posteriors(class_posteriors(net, feats)).best_path().segments)
              for ref15, feats in val]
    totals = metrics.total(scores)
    return {"acc6": totals["acc6"], "close_f1": totals["close_f1"] or 0.0}


def selection_score(sets: dict[str, dict[str, float]]) -> float:
    """What picks the best epoch: the mean of acc6 and close_f1 over the validation sets, each set counting
    once, so neither the 44 s of ``../shared/eval`` nor one held-out corpus decides alone."""
    return float(np.mean([(m["acc6"] + m["close_f1"]) / 2 for m in sets.values()]))


def train(hours: float = 4.0, epochs: int = 20, steps_per_epoch: int = 300, batch: int = 32, crop: int = 300,
          lr: float = 3e-3, seed: int = 0, work: Path | None = None, out: Path = DEFAULT_OUT,
          eval_dir: Path | None = DEFAULT_EVAL, patience: int = 4, workers: int | None = None,
          real_dir: Path | None = DEFAULT_REAL, real_share: float = 0.5,
          device: str | None = None, config: ModelConfig | None = None, log=print) -> dict:
    """Train both networks and write ``out``; returns the metrics. See the module docstring."""
    t0 = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    workers = workers or os.cpu_count() or 1
    work = work or Path(tempfile.gettempdir()) / "visemes-train"
    n_utt = max(2, int(hours * 3600 / 4.0))  # utterances average about 4 s
    feats, labels, offsets = build_corpus(n_utt, seed, work, workers)
    log(f"corpus: {len(offsets) - 1} utterances, {len(labels) / 360000:.2f} h, "
        f"{np.mean(labels == IGNORE):.2%} frames unlabelled ({time.time() - t0:.0f} s)")
    feats, labels, offsets, weights = _with_real(feats, labels, offsets, real_dir, real_share, seed, work, log)
    config = config or ModelConfig()
    nets = {"offline": PhoneNet(config, causal=False).to(device), "causal": PhoneNet(config, causal=True).to(device)}
    params = [p for net in nets.values() for p in net.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15)
    val = {"eval": validation_set(eval_dir)} if eval_dir and (eval_dir / "real-speech").is_dir() else {}
    if val and real_dir is not None and (real_dir / "fsdd").is_dir():
        from .realdata import heldout_set

        val["heldout"] = heldout_set(real_dir.parent, work, seed)
        log(f"held-out voices: {len(val['heldout'])} clips, never trained on")
    # each reference is read once; the epochs score against its frames
    val = {k: [(metrics.reference_frames(ref)[0], feats) for ref, feats in pairs] for k, pairs in val.items()}
    if not val:
        log("no validation set: training for the full number of epochs without early stopping")
    best = {name: (-1.0, None, {}) for name in nets}
    L = config.lookahead
    stale = 0
    for epoch in range(1, epochs + 1):
        for net in nets.values():
            net.train()
        total = 0.0
        for _ in range(steps_per_epoch):
            x, y = _batch(feats, labels, crops(offsets, crop, batch, rng, weights), crop)
            x, y = mask_spectra(x, rng).to(device), y.to(device)
            loss_off = F.cross_entropy(nets["offline"](x).reshape(-1, config.n_classes), y.reshape(-1),
                                       ignore_index=IGNORE, label_smoothing=0.05)
            logits_c = nets["causal"](x)[:, L:]
            loss_c = F.cross_entropy(logits_c.reshape(-1, config.n_classes), y[:, :crop - L].reshape(-1),
                                     ignore_index=IGNORE, label_smoothing=0.05)
            loss = loss_off + loss_c
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach())
        msg = f"epoch {epoch}: loss {total / steps_per_epoch:.3f}"
        improved = False
        for name, net in nets.items():
            cpu_net = net.to("cpu")
            sets = {k: evaluate(cpu_net, v) for k, v in val.items()}
            net.to(device)
            chosen = selection_score(sets) if sets else float(epoch)
            if chosen > best[name][0]:
                metrics = {f"{k}_{m}": v for k, ms in sets.items() for m, v in ms.items()} | {"selection": chosen}
                best[name] = (chosen, {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, metrics)
                improved |= name == "offline"
            msg += f" | {name} {chosen:.3f} " + " ".join(f"{k} {m['acc6']:.3f}/{m['close_f1']:.3f}"
                                                          for k, m in sets.items())
        log(msg + f" ({time.time() - t0:.0f} s)")
        recipe = {"hours": hours, "epochs": epochs, "epochs_run": epoch, "steps_per_epoch": steps_per_epoch,
                  "batch": batch, "crop": crop, "lr": lr, "seed": seed, "utterances": int(len(offsets) - 1),
                  "real_share": real_share if weights is not None else 0.0,
                  "parameters": count_parameters(nets["offline"]) + count_parameters(nets["causal"]),
                  "seconds": round(time.time() - t0), "device": device}
        result = _save(out, config, best, recipe)  # every epoch: an interrupted run still leaves the best weights
        stale = 0 if improved else stale + 1
        if val and stale >= patience:
            log(f"early stop: the offline selection score has not improved for {patience} epochs")
            break
    log(f"wrote {out}: {json.dumps(result['metrics'])}")
    return result


def _with_real(feats, labels, offsets, real_dir, share, seed, work, log):
    """Append the real recordings to the corpus; crops come from them ``share`` of the time."""
    if share <= 0:
        return feats, labels, offsets, None
    real_dir = real_dir if real_dir is not None and (real_dir / "fsdd").is_dir() else None
    r_feats, r_labels, r_offsets = build_real_corpus(real_dir, seed, work, log)
    if len(r_offsets) < 2:
        log("no real recordings to train on (../shared/train/fsdd, pocketsphinx-testdata): synthetic only")
        return feats, labels, offsets, None
    n_syn, n_real = len(offsets) - 1, len(r_offsets) - 1
    log(f"real speech: {n_real} utterances, {len(r_labels) / 360000:.2f} h, {share:.0%} of the crops")
    weights = np.concatenate([np.full(n_syn, (1 - share) / n_syn), np.full(n_real, share / n_real)])
    return (np.concatenate([feats, r_feats]), np.concatenate([labels, r_labels]),
            np.concatenate([offsets, offsets[-1] + r_offsets[1:]]), weights)


def _save(out: Path, config: ModelConfig, best: dict, recipe: dict) -> dict:
    result = {"config": config.to_dict(), "classes": list(CLASSES), "offline": best["offline"][1],
              "causal": best["causal"][1], "metrics": {name: best[name][2] for name in best}, "recipe": recipe}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "wb") as f:
        torch.save(result, f)
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="visemes train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=4.0, help="hours of synthetic speech to make (4)")
    ap.add_argument("--epochs", type=int, default=20, help="most epochs (20)")
    ap.add_argument("--steps", type=int, default=300, help="optimiser steps per epoch (300)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, help="cache folder for the corpus (default: the temp folder)")
    ap.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL, help="folder with real-speech/ (alignments)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="weights file to write")
    ap.add_argument("--patience", type=int, default=4,
                    help="stop after this many epochs without a better offline score (4)")
    ap.add_argument("--real-dir", type=Path, default=DEFAULT_REAL,
                    help="folder with fsdd/, real recordings that may be trained on (default: ../shared/train)")
    ap.add_argument("--real-share", type=float, default=0.5, help="share of crops from real speech (0.5)")
    ap.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    a = ap.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    train(a.hours, a.epochs, a.steps, a.batch, lr=a.lr, seed=a.seed, work=a.work, out=a.out, eval_dir=a.eval_dir,
          patience=a.patience, device=a.device, real_dir=a.real_dir, real_share=a.real_share)


if __name__ == "__main__":
    main()
