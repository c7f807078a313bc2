"""Fuzzing as a habit: every parser we own, fed mutated and random files, answers with a result or one
clear :class:`~visemes.errors.VisemesError`, never another exception, never a hang.

These run small in CI (50 examples a parser); ``python bench/fuzz.py`` runs 10,000 each and records crashes,
hangs and peak memory in docs/benchmarks.md.
"""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

import pytest
from fuzz_targets import inputs, run_one, targets
from hypothesis import HealthCheck, given, settings

CEILING_S = 60  # a hang detector, not a speed test: a parse of these small inputs takes milliseconds


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer within {CEILING_S} s")


@pytest.mark.parametrize("target", targets(), ids=lambda t: t.name)
def test_a_parser_answers_every_input_with_a_result_or_one_clear_error(target):
    @settings(max_examples=50, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=inputs(target))
    def check(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            old = signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(CEILING_S)
            try:
                run_one(target, data, Path(tmp))
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, old)

    check()


@pytest.mark.parametrize("target", targets(), ids=lambda t: t.name)
def test_the_seed_inputs_are_accepted(target):
    """The mutations start from files the parser takes, so they reach deep into it."""
    with tempfile.TemporaryDirectory() as tmp:
        for seed in target.seeds:
            path = Path(tmp) / f"input{target.suffix}"
            path.write_bytes(seed)
            if target.name == "gltf" and seed[:4] == b"glTF":
                path = path.rename(path.with_suffix(".glb"))
            target.call(path)


@pytest.mark.parametrize("name, data", [
    ("mapping", b"jawOpen,Ja\rw\nmouthClose,Lips\n"),  # csv.Error escaped read_mapping
    ("websocket-pcm", b'{"rate": Infinity}\xfe' + bytes(64)),  # int(inf) escaped the header check
    ("manifest", b"input,output\nline.tsv,a\x00b.json\n"),  # a NUL byte reached the file system
    ("rig-profile", b'{"name": "x", "kind": "discrete", "channels": ["A"], "shapes": null, "tweens": null}'),
])
def test_inputs_the_fuzzer_once_crashed_on(name, data):
    target = next(t for t in targets() if t.name == name)
    with tempfile.TemporaryDirectory() as tmp:
        run_one(target, data, Path(tmp))
