"""Audio-only accuracy on real speech by voices a model was not chosen on, for one or more weights files.

    python bench/heldout.py [--weights A.pt B.pt] [--work /tmp/visemes-train]

Sets, each scored with the project's ruler, visemes.metrics (which bench/metrics_agree.py checks against
../shared/eval/score.py): frame-weighted acc6, close_f1 pooled over the files:

- ``eval``: the 9 validation files of ../shared/eval/real-speech (hand and forced alignments);
- ``grid``: the eleven GRID talkers of ../shared/render/grid (words from the file names);
- ``fsdd``: the FSDD voices held out from training (:data:`visemes.realdata.HELDOUT_FSDD`), digit strings
  with no p/b/m, so every predicted closure there is a false one (counted);
- ``obama``: the public-domain addresses of ../shared/render/obama whose words pocketsphinx aligns.

References other than ``eval`` are pocketsphinx alignments of the known words that our own transcript-mode
alignment agrees with (:func:`visemes.realdata.checked`), written once under ``--work``. Output is decoded
with the shipped decoder settings. Prints Markdown for docs/benchmarks.md and MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import soundfile as sf
import torch

from visemes import metrics
from visemes.audio import load_audio
from visemes.decoding import viseme_posteriors, viterbi_segments
from visemes.engines import WEIGHTS, load_network
from visemes.features import log_mel
from visemes.model import class_posteriors
from visemes.realdata import checked, heldout_set

SHARED = Path(__file__).resolve().parents[2] / "shared"


def obama_set(work: Path) -> Path:
    """The Obama clips whose words align, as wav + reference tsv under ``work/obama`` (made once)."""
    from visemes.render.video import audio

    folder = work / "obama"
    if folder.is_dir():
        return folder
    tmp = work / "obama.part"
    tmp.mkdir(parents=True, exist_ok=True)
    for line in (SHARED / "render" / "obama" / "manifest.tsv").read_text().splitlines()[1:]:
        name, _, codec, source = line.split("\t")[:4]
        if codec == "none":
            continue
        words = source.rsplit("/", 1)[-1].removesuffix(".mp4").replace("The President:", "").strip()
        x = audio(SHARED / "render" / "obama" / name)
        segs = checked(x, words)
        if segs is not None:
            sf.write(tmp / f"{Path(name).stem}.wav", x, 16000)
            (tmp / f"{Path(name).stem}.tsv").write_text("".join(f"{a:.3f}\t{b:.3f}\t{c or 'h'}\n"
                                                                for a, b, c in segs))
    tmp.rename(folder)
    return folder


def score(weights: Path, mode: str, wavs: list[Path]) -> dict:
    net = load_network(mode, weights)
    scores = [metrics.score_segments(wav.with_suffix(".tsv"), viterbi_segments(viseme_posteriors(
        class_posteriors(net, log_mel(load_audio(wav))))).segments) for wav in wavs]
    totals = metrics.total(scores)
    closures = sum((s.closures for s in scores), metrics.Closures())
    return {"files": len(scores), "acc6": totals["acc6"], "close_f1": totals["close_f1"],
            "refs": closures.reference, "predicted": closures.predicted}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, nargs="+", default=[WEIGHTS])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "visemes-train")
    a = ap.parse_args()
    torch.set_num_threads(1)
    heldout_set(SHARED, a.work)  # writes work/heldout once
    sets = {"eval": sorted((SHARED / "eval" / "real-speech").glob("*.wav")),
            "grid": sorted((a.work / "heldout").glob("grid-*.wav")),
            "fsdd": sorted((a.work / "heldout").glob("fsdd-*.wav")),
            "obama": sorted(obama_set(a.work).glob("*.wav"))}
    print(f"Command: `python bench/heldout.py --weights {' '.join(str(w) for w in a.weights)}`\n")
    print("| weights | mode | set | files | closures (ref / predicted) | acc6 | close_f1 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for weights in a.weights:
        for mode in ("offline", "causal"):
            for name, wavs in sets.items():
                r = score(weights, mode, wavs)
                f1 = f"{r['close_f1']:.3f}" if r["close_f1"] is not None else "-"
                print(f"| {weights.name} | {mode} | {name} | {r['files']} | {r['refs']} / {r['predicted']} | "
                      f"{r['acc6']:.3f} | {f1} |")


if __name__ == "__main__":
    main()
