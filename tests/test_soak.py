"""Ten minutes of speech through the live runtime at ten times real time, with every kind of bad peer at once:
the runtime keeps going, counts what it drops, and its memory stays flat."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import soundfile as sf
from conftest import SAMPLES


def _port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def test_ten_minutes_with_stuck_flaky_and_absent_peers(tmp_path):
    import websockets.sync.client as client

    lines = [SAMPLES / f"{name}.wav" for name in ("hello", "hola", "guten-tag")]  # the mono lines
    speech = np.concatenate([sf.read(p, dtype="int16")[0] for p in lines])
    long = np.tile(speech, int(np.ceil(600 * 16_000 / len(speech))))[: 600 * 16_000]
    wav = tmp_path / "ten-minutes.wav"
    sf.write(wav, long, 16_000)
    ws_port, dead_udp = _port(), _port(socket.SOCK_DGRAM)
    proc = subprocess.Popen(
        [sys.executable, "-m", "visemes", "live", "--source", f"file:{wav}", "--speed", "10", "--rig", "arkit",
         "--sink", f"ws://127.0.0.1:{ws_port}", "--sink", f"vmc://127.0.0.1:{dead_udp}",
         "--sink", f"livelink://127.0.0.1:{dead_udp}", "--sink", "vtubestudio://127.0.0.1:1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def connect():
        for _ in range(600):
            try:
                return client.connect(f"ws://127.0.0.1:{ws_port}/", open_timeout=2, max_size=None)
            except OSError:
                time.sleep(0.05)
        raise AssertionError(proc.communicate(timeout=5)[1])

    received = []
    stop = threading.Event()

    def flaky_reader():
        """Reads for a while, drops the connection, comes back; sends junk now and then."""
        while not stop.is_set():
            try:
                with connect() as ws:
                    ws.send("}{ not json")
                    end = time.time() + 3
                    while time.time() < end and not stop.is_set():
                        received.append(json.loads(ws.recv(timeout=5)))
            except Exception:
                time.sleep(0.2)

    reader = threading.Thread(target=flaky_reader, daemon=True)
    rss = []
    with connect():  # a client that connects and never reads
        reader.start()
        while proc.poll() is None:
            rss.append(_rss_mb(proc.pid))
            time.sleep(1)
        stop.set()
        reader.join(10)
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "live: 36000 frames" in err  # 600 s at 60 fps, every one analysed and sent on
    frames = [m for m in received if m["type"] == "frame"]
    assert len(frames) > 5000 and frames[-1]["frame"] > 30_000  # the flaky client kept getting fresh frames
    assert int(err.split(" dropped")[0].rsplit(" ", 1)[-1]) > 0  # the stuck client's frames were dropped, counted
    warm = rss[len(rss) // 5:]
    assert max(warm) - warm[0] < 40, f"memory grew from {warm[0]:.0f} to {max(warm):.0f} MB"
