"""Accuracy on real human speech: every engine and mode over ../shared/eval/real-speech, by visemes.metrics.

    python bench/accuracy.py [--engines neural pocketsphinx] [--eval-dir ../shared/eval]

For each engine and mode it runs ``visemes bake WAV --format segments`` (adding
``--transcript NAME.txt`` in transcript mode, where the text exists) and scores
the results with the project's ruler (visemes.metrics; bench/metrics_agree.py
checks that it prints score.py's totals). When a ``rhubarb`` executable (Rhubarb Lip
Sync) is on the PATH, it is run on the same files (``-f tsv``, with ``--dialogFile``
in transcript mode) and scored the same way. Prints a Markdown table for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from visemes import metrics  # noqa: E402

LANGUAGE = {"jsut": "ja", "de_": "de", "zh_": "zh"}


def language_of(name: str) -> str:
    return next((lang for prefix, lang in LANGUAGE.items() if name.startswith(prefix)), "en")


def command(wav: Path, out: Path, engine: str, mode: str, text: Path | None) -> list[str]:
    if engine == "rhubarb":
        args = ["rhubarb", "-f", "tsv", "-o", str(out), str(wav)]
        return args + (["--dialogFile", str(text)] if text else [])
    args = [sys.executable, "-m", "visemes", "bake", str(wav), "-f", "segments", "--engine", engine,
            "--mode", mode, "-o", str(out)]
    return args + (["--transcript", str(text), "--language", language_of(wav.stem)] if text else [])


def run(eval_dir: Path, engine: str, mode: str, transcript: bool) -> str:
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        for wav in sorted((eval_dir / "real-speech").glob("*.wav")):
            text = wav.with_suffix(".txt")
            if transcript and not text.exists():
                continue
            pred = Path(tmp) / f"{wav.stem}.tsv"
            r = subprocess.run(command(wav, pred, engine, mode, text if transcript else None), capture_output=True,
                               text=True)
            if r.returncode != 0:
                print(r.stderr.strip(), file=sys.stderr)
                continue
            scores.append(metrics.score_files(wav.with_suffix(".tsv"), pred))
    total = {"files": str(len(scores))} | {k: f"{v:.3f}" for k, v in metrics.total(scores).items() if v is not None}
    cols = ["files", "acc15", "acc6", "acc6_tol", "close_f1", "speech"]
    kind = "audio + transcript" if transcript else "audio only"
    return f"| {engine} | {mode if engine == 'neural' else '-'} | {kind} | " + " | ".join(total.get(c, "-")
                                                                                       for c in cols) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", nargs="+", default=["neural", "pocketsphinx"])
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    a = ap.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print("| engine | mode | input | files | acc15 | acc6 | acc6_tol | close_f1 | speech |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    engines = a.engines + (["rhubarb"] if shutil.which("rhubarb") and "rhubarb" not in a.engines else [])
    for engine in engines:
        modes = ["offline", "causal"] if engine == "neural" else ["offline"]
        for mode in modes:
            print(run(a.eval_dir, engine, mode, transcript=False), flush=True)
        print(run(a.eval_dir, engine, "offline", transcript=True), flush=True)


if __name__ == "__main__":
    main()
