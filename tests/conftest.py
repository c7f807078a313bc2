"""Shared fixtures: paths, a CLI runner, and generated speech timings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared"
EVAL = SHARED / "eval"
REAL_SPEECH = EVAL / "real-speech"


def real_speech_alignments() -> list[Path]:
    """The validation alignments in ../shared/eval/real-speech (CI puts ../shared beside the checkout)."""
    files = sorted(REAL_SPEECH.glob("*.tsv"))
    assert files, f"no validation data at {REAL_SPEECH}: ../shared must sit beside the checkout"
    return files


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``visemes ARGS`` as a user would, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "visemes", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def score(ref: Path, pred: Path) -> dict[str, float]:
    """Totals from the project's accuracy ruler, ../shared/eval/score.py."""
    assert (EVAL / "score.py").is_file(), f"no score.py at {EVAL}: ../shared must sit beside the checkout"
    out = subprocess.run([sys.executable, str(EVAL / "score.py"), str(ref), str(pred)], capture_output=True,
                         text=True, check=True).stdout
    total = out.strip().splitlines()[-1].split()
    return {k: float(v) for k, v in (x.split("=") for x in total[1:]) if k not in ("files", "frames")}


def free_tcp_port() -> int:
    """A TCP port nothing listens on now (on 127.0.0.1)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ws_connect(port: int, path: str = "/"):
    """A WebSocket client connection to 127.0.0.1, retried while the server starts (use it with ``with``)."""
    import time

    import websockets.sync.client as client

    for _ in range(600):
        try:
            return client.connect(f"ws://127.0.0.1:{port}{path}", open_timeout=5)
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
def cli():
    return run_cli
