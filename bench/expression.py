"""Expression layer and scenes: blink rate, head motion against prosody, cost, and per-speaker accuracy.

    python bench/expression.py [--seeds 20]

On the real speech in ../shared/eval/real-speech (44 s, 9 files):
- blinks per minute over ``--seeds`` seeds (all files end to end), in a minute of silence, and in 1 s pauses
  between the utterances against within them;
- per file, the correlation of the head's lift (pitch angle) with the 0.5 s loudness envelope;
- the cost of the layer, seconds of audio per second of CPU on one core.
On the sample dialogue (samples/make_samples.py, made afresh): speech/silence accuracy of each character's
viseme track against espeak-ng's phone timings, with the crosstalk gate and without it.
Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import time
from pathlib import Path

import numpy as np
import scipy.ndimage

from visemes.animate import AnimationParams
from visemes.audio import load_audio
from visemes.bake import Settings, lipsync_from_samples
from visemes.expression import CONTROLS, ExpressionParams, controls
from visemes.features import loudness
from visemes.rigs import load_rig
from visemes.scene import channel_activity

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "eval" / "real-speech"


def blinks_per_minute(ctrl: np.ndarray) -> float:
    b = ctrl[:, CONTROLS.index("blink")]
    return float((np.sum((b[1:] > 0) & (b[:-1] == 0)) + (b[0] > 0)) / (len(b) / 6000))


def talking(track, frames: int) -> np.ndarray:
    out = np.zeros(frames, bool)
    for s in track.segments:
        if s.label != "sil":
            out[round(s.start * 100):round(s.end * 100)] = True
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    a = ap.parse_args()
    files = sorted(REAL.glob("*.wav"))
    speech = [load_audio(p) for p in files]
    whole = np.concatenate(speech)
    seconds = len(whole) / 16000

    rates = [blinks_per_minute(controls(whole, ExpressionParams(seed=s, parts=("blinks",)))) for s in range(a.seeds)]
    rest = np.zeros(60 * 16000, np.float32)
    resting = [blinks_per_minute(controls(rest, ExpressionParams(seed=s, parts=("blinks",)))) for s in range(5)]
    gap = np.zeros(16000, np.float32)
    spaced = np.concatenate([part for x in speech for part in (x, gap)])
    paused = np.concatenate([np.r_[np.zeros(-(-len(x) // 160), bool), np.ones(100, bool)] for x in speech])
    onsets = np.zeros(2, int)
    for s in range(a.seeds):
        b = controls(spaced, ExpressionParams(seed=s, parts=("blinks",)))[:, CONTROLS.index("blink")]
        k = np.flatnonzero((b[1:] > 0) & (b[:-1] == 0)) + 1
        k = k[k < len(paused)]
        onsets += [paused[k].sum(), (~paused[k]).sum()]
    per_min = onsets / np.array([paused.sum(), (~paused).sum()]) * 6000 / a.seeds
    corr = []
    for x in speech:
        lift = controls(x, ExpressionParams(parts=("head",)))[:, CONTROLS.index("head_pitch")]
        env = scipy.ndimage.uniform_filter1d(loudness(x), 50)
        n = min(len(lift), len(env))
        corr.append(float(np.corrcoef(lift[:n], env[:n])[0, 1]))
    t0 = time.process_time()
    controls(whole, ExpressionParams(emotion="happy"))
    cost = time.process_time() - t0

    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "samples" / "make_samples.py")
    make_samples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_samples)
    stereo, truth, _ = make_samples.dialogue()
    rig = load_rig("arkit")
    gates = channel_activity(stereo)
    rows = []
    for i, name in enumerate(truth):
        frames = len(truth[name])
        got = {}
        for label, gate in (("gated", gates[i]), ("ungated", None)):
            ls = lipsync_from_samples(stereo[i], name, rig, AnimationParams.for_rig(rig), Settings(), speaking=gate)
            got[label] = float(np.mean(talking(ls.visemes, frames) == truth[name]))
        rows.append((name, got["gated"], got["ungated"]))

    print(f"Machine: {platform.processor() or platform.machine()}, {platform.python_version()}; "
          f"`python bench/expression.py --seeds {a.seeds}`\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| blinks per minute in real speech ({seconds:.0f} s, {a.seeds} seeds) | mean {np.mean(rates):.1f}, "
          f"range {min(rates):.1f}-{max(rates):.1f} |")
    print(f"| blinks per minute in a minute of silence (5 seeds) | mean {np.mean(resting):.1f} |")
    print(f"| blinks per minute in 1 s pauses between utterances / within speech | {per_min[0]:.1f} / "
          f"{per_min[1]:.1f} |")
    print(f"| head lift vs 0.5 s loudness envelope, correlation per file ({len(corr)} files) | mean "
          f"{np.mean(corr):.2f}, median {np.median(corr):.2f}, positive in {np.sum(np.array(corr) > 0)} |")
    print(f"| expression layer cost, one core | {seconds / cost:.0f}x real time |")
    for name, gated, ungated in rows:
        print(f"| sample dialogue, {name}: speech/silence accuracy | {gated:.3f} (without the crosstalk gate "
              f"{ungated:.3f}) |")


if __name__ == "__main__":
    main()
