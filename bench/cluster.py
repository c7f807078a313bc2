"""Lines per minute for a batch of audio lines: 1 and 2 local worker processes, and a local Ray cluster.

    python bench/cluster.py [--lines 120] [--ray-cpus 2]

Makes ``--lines`` speech lines (1-6 s cuts of the bundled samples), then bakes
the same manifest to JSON with ``--jobs 1``, ``--jobs 2`` and ``--executor ray``
on a cluster started here with ``ray start --head`` on 127.0.0.1. Prints a
Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def make_lines(folder: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    sources = [sf.read(ROOT / "samples" / f"{name}.wav", dtype="int16") for name in ("hello", "hola", "guten-tag")]
    rows = ["input,output"]
    for i in range(n):
        audio, rate = sources[i % len(sources)]
        length = int(rng.uniform(1.0, min(6.0, len(audio) / rate)) * rate)
        start = int(rng.integers(0, len(audio) - length + 1))
        sf.write(folder / f"line{i:04d}.wav", audio[start:start + length], rate)
        rows.append(f"line{i:04d}.wav,out/line{i:04d}.json")
    (folder / "lines.csv").write_text("\n".join(rows) + "\n")
    return folder / "lines.csv"


def timed(args: list[str], env: dict) -> float:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "visemes", "bake", *args], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(r.stderr)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=120)
    ap.add_argument("--ray-cpus", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_lines(Path(tmp), a.lines)
        seconds = sum(sf.info(p).duration for p in Path(tmp).glob("*.wav"))
        env = dict(os.environ)
        rows = []
        for label, extra in (("local, 1 process", ["--jobs", "1"]), ("local, 2 processes", ["--jobs", "2"])):
            shutil.rmtree(Path(tmp) / "out", ignore_errors=True)
            rows.append((label, timed(["--manifest", str(manifest), "-f", "json", *extra], env)))
        ray = shutil.which("ray")
        if ray:
            env["RAY_ADDRESS"] = "127.0.0.1:6399"
            subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", "6399", "--num-cpus",
                            str(a.ray_cpus), "--include-dashboard=false", "--disable-usage-stats"],
                           check=True, capture_output=True, env=env)
            try:
                shutil.rmtree(Path(tmp) / "out", ignore_errors=True)
                rows.append((f"Ray, local cluster, {a.ray_cpus} workers",
                             timed(["--manifest", str(manifest), "-f", "json", "--executor", "ray"], env)))
            finally:
                subprocess.run([ray, "stop", "--force"], capture_output=True, env=env)
    print(f"{a.lines} lines, {seconds / 60:.1f} min of speech, neural engine, JSON out; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| executor | wall s | lines/min | speech min per wall min |\n| --- | --- | --- | --- |")
    for label, wall in rows:
        print(f"| {label} | {wall:.1f} | {a.lines / wall * 60:.0f} | {seconds / wall:.1f} |")


if __name__ == "__main__":
    main()
