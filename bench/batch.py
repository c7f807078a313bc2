"""Batch throughput: a folder of timing files baked on every core.

    python bench/batch.py [--files 1000] [--rig arkit] [--format json]

Makes N timing files of 1-4 s of made-up ARPAbet speech (one of them corrupt),
then bakes the folder with --jobs 1 and with --jobs = every core, and reports
wall time, files per second, and how many cores were busy (CPU seconds of the
worker processes / wall seconds). Prints a Markdown table row for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from timing_fixtures import make_timing_files


def run(folder: Path, out: Path, jobs: int, rig: str, fmt: str) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "visemes", "bake", str(folder), "-o", str(out), "-r", rig, "-f", fmt,
                        "--jobs", str(jobs)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    written = len(list(out.glob("*")))
    print(r.stderr.strip().splitlines()[-1], file=sys.stderr)
    return wall, cpu, written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rig", default="arkit")
    ap.add_argument("--format", default="json")
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        make_timing_files(folder, a.files, corrupt={"line0500.tsv"})
        machine = platform.processor() or platform.machine()
        print(f"machine: {machine}, {cores} cores, Python {platform.python_version()}")
        print("| files | rig | format | jobs | wall s | files/s | cores busy | written |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for jobs in sorted({1, cores}):
            wall, cpu, written = run(folder, Path(tmp) / f"out{jobs}", jobs, a.rig, a.format)
            print(f"| {a.files} | {a.rig} | {a.format} | {jobs} | {wall:.1f} | {a.files / wall:.0f} | "
                  f"{cpu / wall:.2f} | {written} |")


if __name__ == "__main__":
    main()
