"""Live latency and CPU: from the sound that starts each lip closure to the first packet that shows it.

    python bench/live_latency.py [--runs 3] [--rig arkit] [--delay MS]

Runs ``visemes live --source file:...`` on the bundled samples (played in real time) with a WebSocket sink and
a real client on loopback. The samples' phone timings (espeak-ng's own) give every p/b/m onset X; the first
frame reporting viseme PP near X is the packet that carries it. Its latency is the runtime's own
``latency_ms`` (audio of the frame available -> frame sent) plus the frame's media time minus X, so a closure
shown before its sound (anticipation) counts as early. Agreement is the frame correlation of the received
curves with ``visemes bake`` of the same file (pooled over channels). Prints a Markdown table for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOSURES = {"p", "b", "m"}


def onsets(tsv: Path) -> list[float]:
    out, prev = [], None
    for line in tsv.read_text().splitlines():
        start, _, phone = line.split("\t")
        if phone in CLOSURES and prev not in CLOSURES:
            out.append(float(start))
        prev = phone
    return out


def run_once(wav: Path, rig: str, delay: float) -> tuple[list[dict], str]:
    import websockets.sync.client as client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "visemes", "live", "--source", f"file:{wav}", "--rig", rig,
                             "--sink", f"ws://127.0.0.1:{port}", "--delay", str(delay)],
                            stderr=subprocess.PIPE, text=True)
    frames: list[dict] = []
    for _ in range(600):
        try:
            ws = client.connect(f"ws://127.0.0.1:{port}/", open_timeout=1)
            break
        except OSError:
            time.sleep(0.02)
    with ws:
        def read():
            try:
                while True:
                    msg = json.loads(ws.recv(timeout=10))
                    if msg["type"] == "frame":
                        frames.append(msg)
            except Exception:
                pass

        t = threading.Thread(target=read)
        t.start()
        _, err = proc.communicate(timeout=120)
        t.join(15)
    return frames, err


def closure_latencies(frames: list[dict], xs: list[float]) -> list[float]:
    out = []
    for x in xs:
        hit = next((f for f in frames if f["viseme"] == "PP" and x - 0.1 <= f["time"] <= x + 0.25), None)
        if hit is not None:
            out.append(hit["latency_ms"] + 1000 * (hit["time"] - x))
    return out


def agreement(frames: list[dict], wav: Path, rig_name: str) -> float:
    import numpy as np

    from visemes.animate import AnimationParams
    from visemes.audio import load_audio
    from visemes.bake import Settings, lipsync_from_samples
    from visemes.rigs import load_rig

    rig = load_rig(rig_name)
    bake = lipsync_from_samples(load_audio(wav), wav.name, rig, AnimationParams.for_rig(rig, fps=60), Settings())
    got = {f["frame"]: f["weights"] for f in frames if f["frame"] < len(bake.curves.values)}
    index = sorted(got)
    return float(np.corrcoef(np.ravel([got[i] for i in index]), bake.curves.values[index].ravel())[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rig", default="arkit")
    ap.add_argument("--delay", type=float, default=0.0, metavar="MS", help="visemes live --delay (0: live head)")
    a = ap.parse_args()
    lat, frame_lat, cpu, agree, found, total = [], [], [], [], 0, 0
    for name in ("hello", "hola", "guten-tag"):
        wav, tsv = ROOT / "samples" / f"{name}.wav", ROOT / "samples" / f"{name}.tsv"
        xs = onsets(tsv)
        for _ in range(a.runs):
            frames, err = run_once(wav, a.rig, a.delay)
            agree.append(agreement(frames, wav, a.rig))
            got = closure_latencies(frames, xs)
            lat += got
            found += len(got)
            total += len(xs)
            frame_lat += [f["latency_ms"] for f in frames]
            m = re.search(r"CPU (\d+)% of a core", err)
            cpu.append(float(m.group(1)) if m else float("nan"))
    q = statistics.quantiles(lat, n=10)
    print(f"{platform.machine()}, {os.cpu_count()} cores; rig {a.rig}; delay {a.delay:.0f} ms; {a.runs} runs of "
          "each sample\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| closures caught | {found} of {total} |")
    print(f"| closure latency, median | {statistics.median(lat):.0f} ms |")
    print(f"| closure latency, 10th-90th percentile | {q[0]:.0f}-{q[-1]:.0f} ms |")
    print(f"| frame latency (audio available -> sent), median | {statistics.median(frame_lat):.0f} ms |")
    print(f"| CPU per second of audio | {statistics.median(cpu):.0f}% of one core |")
    print(f"| agreement with bake (frame correlation), lowest of {len(agree)} | {min(agree):.3f} |")


if __name__ == "__main__":
    main()
