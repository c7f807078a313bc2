"""Check that the project's ruler (visemes.metrics) agrees with ../shared/eval/score.py.

    python bench/metrics_agree.py [--eval-dir ../shared/eval]

Makes several kinds of prediction for every recording of the validation set and
scores each kind with both rulers:

- ``reference``: the alignment written back as visemes (``visemes bake REF.tsv -f segments``);
- ``rhubarb``: the alignment as Rhubarb change points (``-f rhubarb-tsv``), mouth classes only;
- ``late``: the reference visemes shifted 60 ms late, so closures and tolerances are tested at their edges;
- ``neural`` and ``causal``: audio only, the shipped network offline and causal.

Prints both rulers' TOTAL lines per kind and exits 1 when any per-file row or total differs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from visemes import metrics  # noqa: E402

KINDS = {
    "reference": lambda ref: [str(ref), "-f", "segments"],
    "rhubarb": lambda ref: [str(ref), "-f", "rhubarb-tsv"],
    "neural": lambda ref: [str(ref.with_suffix(".wav")), "-f", "segments"],
    "causal": lambda ref: [str(ref.with_suffix(".wav")), "-f", "segments", "--mode", "causal"],
}


def bake(args: list[str], out: Path) -> None:
    subprocess.run([sys.executable, "-m", "visemes", "bake", *args, "-o", str(out)], check=True,
                   capture_output=True)


def shifted(src: Path, out: Path, seconds: float) -> None:
    out.write_text("".join(f"{a + seconds:.3f}\t{b + seconds:.3f}\t{label}\n"
                           for a, b, label in metrics.read_prediction(src)))


def predictions(refs: list[Path], tmp: Path) -> dict[str, Path]:
    folders = {kind: tmp / kind for kind in [*KINDS, "late"]}
    for folder in folders.values():
        folder.mkdir()
    jobs = [(KINDS[kind](ref), folders[kind] / ref.name) for kind in KINDS for ref in refs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job: bake(*job), jobs))
    for ref in refs:
        shifted(folders["reference"] / ref.name, folders["late"] / ref.name, 0.06)
    return folders


def theirs(score_py: Path, ref_dir: Path, pred_dir: Path) -> list[str]:
    out = subprocess.run([sys.executable, str(score_py), "--ref-dir", str(ref_dir), "--pred-dir", str(pred_dir)],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()


def ours(refs: list[Path], pred_dir: Path) -> list[str]:
    return metrics.report([metrics.score_files(ref, pred_dir / ref.name) for ref in refs]).splitlines()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    a = ap.parse_args(argv)
    ref_dir = a.eval_dir / "real-speech"
    refs = sorted(ref_dir.glob("*.tsv"))
    if not refs or not (a.eval_dir / "score.py").is_file():
        print(f"{a.eval_dir}: no real-speech/*.tsv or score.py there", file=sys.stderr)
        return 2
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        for kind, folder in predictions(refs, Path(tmp)).items():
            a_lines, b_lines = theirs(a.eval_dir / "score.py", ref_dir, folder), ours(refs, folder)
            same = a_lines == b_lines
            differ += not same
            print(f"{kind:10s} {'same' if same else 'DIFFERENT'}\n  score.py        {a_lines[-1]}\n"
                  f"  visemes.metrics {b_lines[-1]}")
            for x, y in zip(a_lines, b_lines, strict=False):
                if x != y:
                    print(f"    score.py: {x}\n    ours:     {y}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
