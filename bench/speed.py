"""Speed and memory of audio analysis, side by side with the pocketsphinx engine in the same run.

    python bench/speed.py [--minutes 10]

- Offline analysis of a MINUTES-long file on one core (torch and BLAS limited to one thread):
  seconds of audio per CPU second, for each engine, after a warm-up call (start-up excluded).
- Peak memory (max RSS) of a whole `visemes bake` process on a 1-hour file.
- Live cost: CPU per 10 ms hop of the streaming front end plus the live head (as ``visemes live`` runs it).
Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from visemes.audio import load_audio
from visemes.engines import analyse, load_network
from visemes.features import HOP, MelStream
from visemes.model import CausalStream

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def long_speech(seconds: float) -> np.ndarray:
    """The bundled samples, one after another with pauses, repeated to ``seconds``."""
    parts = [load_audio(SAMPLES / f"{n}.wav") for n in ("hello", "hola", "guten-tag")]
    gap = np.zeros(16000, np.float32)
    one = np.concatenate([p for x in parts for p in (x, gap)])
    return np.tile(one, int(np.ceil(seconds * 16000 / len(one))))[: int(seconds * 16000)]


def cpu_seconds(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    x = long_speech(a.minutes * 60)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__}, one thread")
    print("\n| engine | audio | CPU s | audio s per CPU s |\n| --- | --- | --- | --- |")
    for engine, mode in (("neural", "offline"), ("neural", "causal"), ("pocketsphinx", "offline")):
        analyse(x[:16000], engine, mode)  # warm-up: weights, compiled decoder
        cpu = cpu_seconds(lambda e=engine, m=mode: analyse(x, e, m))
        label = f"{engine} ({mode})" if engine == "neural" else engine
        print(f"| {label} | {a.minutes:g} min | {cpu:.2f} | {len(x) / 16000 / cpu:.0f}x |", flush=True)

    stream, net = MelStream(), CausalStream(load_network("live"))
    hops = 3000
    chunk = x[: hops * HOP]
    cpu = cpu_seconds(lambda: [net.push(stream.push(chunk[i * HOP:(i + 1) * HOP])) for i in range(hops)])
    print(f"\nlive: {cpu / hops * 1000:.2f} ms CPU per 10 ms hop (front end + live head, one frame at a time)")

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "hour.wav"
        hour = long_speech(3600)
        sf.write(wav, hour, 16000, subtype="PCM_16")
        del hour
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "visemes", "bake", str(wav), "-f", "segments", "-o",
                        str(Path(tmp) / "hour.tsv")], check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"1-hour file, whole `visemes bake` process: peak memory {after.ru_maxrss / 1024:.0f} MB, "
              f"wall {wall:.1f} s, CPU {after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime:.1f} s")


if __name__ == "__main__":
    main()
