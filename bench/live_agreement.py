"""How closely live curves follow ``visemes bake``, by delay: the live head and the rolling offline decoder.

    python bench/live_agreement.py [--delays 0 100 200 300 500] [--rig arkit]

Streams every bundled mono sample and every WAV in ../shared/eval/real-speech through
:class:`visemes.runtime.analyser.LiveAnalyser` in 20 ms blocks (as ``visemes live`` does, without the real-time
pacing) and correlates its curves with the bake of the same file, frame by frame, pooled over the channels.
CPU is the analyser's own process time per second of audio on one thread, after a warm-up file. Prints a
Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from visemes.animate import AnimationParams
from visemes.audio import load_audio
from visemes.bake import Settings, lipsync_from_samples
from visemes.rigs import load_rig
from visemes.runtime.analyser import LiveAnalyser

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "samples" / f"{n}.wav" for n in ("hello", "hola", "guten-tag")] + sorted(
    (ROOT.parent / "shared" / "eval" / "real-speech").glob("*.wav"))


def stream(analyser: LiveAnalyser, x: np.ndarray) -> tuple[np.ndarray, float]:
    t0 = time.process_time()
    frames = [f for i in range(0, len(x), 320) for f in analyser.push(x[i:i + 320])] + analyser.flush()
    return np.array([f.weights for f in frames]), time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--delays", type=float, nargs="+", default=[0, 100, 200, 300, 500], metavar="MS")
    ap.add_argument("--rig", default="arkit")
    a = ap.parse_args()
    torch.set_num_threads(1)
    rig = load_rig(a.rig)
    audio = {f: load_audio(f) for f in FILES}
    bakes = {f: lipsync_from_samples(x, f.name, rig, AnimationParams.for_rig(rig, fps=60), Settings()).curves.values
             for f, x in audio.items()}
    print(f"{platform.machine()}, {os.cpu_count()} cores; rig {a.rig}, 60 fps; {len(FILES)} files "
          f"({sum(len(x) for x in audio.values()) / 16000:.0f} s)\n")
    print("| delay | samples: lowest | real speech: median | real speech: lowest | CPU per s of audio |")
    print("| --- | --- | --- | --- | --- |")
    for delay in a.delays:
        stream(LiveAnalyser(rig, 60, delay_s=delay / 1000), audio[FILES[0]][:16000])  # warm-up (compilation)
        corr, cpu = {}, 0.0
        for f, x in audio.items():
            live, seconds = stream(LiveAnalyser(rig, 60, delay_s=delay / 1000), x)
            n = min(len(live), len(bakes[f]))
            corr[f] = float(np.corrcoef(live[:n].ravel(), bakes[f][:n].ravel())[0, 1])
            cpu += seconds
        real = [c for f, c in corr.items() if f.parent.name != "samples"]
        name = "live head (0)" if not delay else f"{delay:.0f} ms"
        print(f"| {name} | {min(corr[f] for f in FILES[:3]):.3f} | {statistics.median(real):.3f} | "
              f"{min(real):.3f} | {100 * cpu / (sum(len(x) for x in audio.values()) / 16000):.1f}% of a core |",
              flush=True)


if __name__ == "__main__":
    main()
