"""Choose the decoder's switch penalty and closure bias on the validation set.

    python bench/tune_decoding.py [--eval-dir ../shared/eval] [--mode offline]

Runs the shipped network once per validation file, then scores a small grid
of (switch penalty, PP bias) with visemes.metrics and prints the frame-weighted
acc6 and close_f1 of each, best first. The grid is coarse on purpose: nine
files are few, and the hidden test set is other speakers.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from visemes import metrics
from visemes.audio import load_audio
from visemes.decoding import viseme_posteriors, viterbi_segments
from visemes.engines import load_network
from visemes.features import log_mel
from visemes.model import class_posteriors
from visemes.train import DEFAULT_EVAL


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    ap.add_argument("--mode", default="offline", choices=["offline", "causal"])
    a = ap.parse_args()
    net = load_network(a.mode)
    cached = []
    for wav in sorted((a.eval_dir / "real-speech").glob("*.wav")):
        cached.append((metrics.reference_frames(wav.with_suffix(".tsv"))[0],
                       viseme_posteriors(class_posteriors(net, log_mel(load_audio(wav))))))
    rows = []
    for penalty, pp in itertools.product([0.5, 1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 1.0, 1.5, 2.0]):
        totals = metrics.total([metrics.score_against(ref15, viterbi_segments(post, penalty, {"PP": pp}).segments)
                                for ref15, post in cached])
        acc6, f1 = totals["acc6"], totals["close_f1"] or 0.0
        rows.append((acc6 + f1, penalty, pp, acc6, f1))
    print("| switch penalty | PP bias | acc6 | close_f1 |\n| --- | --- | --- | --- |")
    for _, penalty, pp, acc6, f1 in sorted(rows, reverse=True)[:10]:
        print(f"| {penalty} | {pp} | {acc6:.3f} | {f1:.3f} |")


if __name__ == "__main__":
    main()
