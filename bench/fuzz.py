"""Fuzz every parser we own: crashes, hangs and peak memory over many examples each.

    python bench/fuzz.py [--examples 10000] [--only NAME ...] [--hang-s 5]

Each parser (tests/fuzz_targets.py) runs in its own process on ``--examples`` inputs from hypothesis
(mutated valid files and raw bytes). An example is a crash when it raises anything but VisemesError, a
hang when it takes longer than ``--hang-s``. Peak memory is the process's max RSS (it includes the
interpreter and numpy, about 100 MB, and torch where a parser pulls it in). Prints Markdown for
docs/benchmarks.md; exits 1 when anything crashed or hung.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fuzz_targets import inputs, run_one, targets
from hypothesis import HealthCheck, given, settings


class Hang(Exception):
    pass


def fuzz(name: str, examples: int, hang_s: float, out: mp.Queue) -> None:
    """Run one target's examples in this process; put its row on ``out``."""
    target = next(t for t in targets() if t.name == name)
    row = {"name": name, "examples": 0, "crashes": 0, "hangs": 0, "slowest_ms": 0.0, "first": ""}

    def alarm(signum, frame):
        raise Hang

    signal.signal(signal.SIGALRM, alarm)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=inputs(target))
    def one(data: bytes) -> None:
        row["examples"] += 1
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, hang_s)
            try:
                run_one(target, data, Path(tmp))
            except Hang:
                row["hangs"] += 1
                row["first"] = row["first"] or f"hang on {data[:60]!r}"
            except Exception as e:  # a crash: recorded, and the run goes on
                row["crashes"] += 1
                if not row["first"]:
                    where = traceback.extract_tb(e.__traceback__)[-1]
                    row["first"] = f"{type(e).__name__}: {e} at {Path(where.filename).name}:{where.lineno}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            row["slowest_ms"] = max(row["slowest_ms"], 1000 * (time.perf_counter() - t0))

    t0 = time.perf_counter()
    one()
    row["seconds"] = time.perf_counter() - t0
    row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put(row)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--only", nargs="*", help="target names (default: all)")
    ap.add_argument("--hang-s", type=float, default=5.0)
    a = ap.parse_args()
    names = a.only or [t.name for t in targets()]
    rows = []
    ctx = mp.get_context("spawn")  # a fresh process per parser: its own peak memory
    for name in names:
        q = ctx.Queue()
        p = ctx.Process(target=fuzz, args=(name, a.examples, a.hang_s, q))
        p.start()
        row = q.get()
        p.join()
        rows.append(row)
        print(f"{name}: {row['examples']} examples, {row['crashes']} crashes, {row['hangs']} hangs, "
              f"{row['peak_mb']:.0f} MB, {row['seconds']:.0f} s {row['first']}", file=sys.stderr)
    print(f"Machine: {platform.processor() or platform.machine()}, {mp.cpu_count()} cores, Python "
          f"{platform.python_version()}. Command: `python bench/fuzz.py --examples {a.examples}`\n")
    print(f"| parser | examples | crashes | hangs (> {a.hang_s:g} s) | slowest example | peak memory |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['name']} | {r['examples']} | {r['crashes']} | {r['hangs']} | {r['slowest_ms']:.0f} ms | "
              f"{r['peak_mb']:.0f} MB |")
    return 1 if any(r["crashes"] or r["hangs"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
