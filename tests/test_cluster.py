"""The same batch on a local Ray cluster: identical outputs, and nothing half-written when a worker dies."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLES

LINES = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A cluster of our own: ``ray start --head --block`` on loopback with two worker CPUs, in its own process
    group, temp folder and home; yields the environment that points at it.

    Its home holds a Ray token (``~/.ray/auth_token``), which makes Ray 2.52 and later require it, as on any
    machine where Ray once made one: ``visemes`` must connect with it although RAY_AUTH_MODE is unset. The test
    waits for the cluster to answer (an event, not a clock) and stops it by its process group, never with
    ``ray stop --force``, which would kill every Ray process on the machine. The Ray command line runs on this
    interpreter, so its workers import the visemes under test."""
    ray = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())"]
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env |= {"RAY_ADDRESS": f"127.0.0.1:{port}", "RAY_USAGE_STATS_ENABLED": "0", "HOME": str(temp / "home")}
    subprocess.run([*ray, "get-auth-token", "--generate"], env=env, check=True, capture_output=True, timeout=300)
    assert (temp / "home" / ".ray" / "auth_token").is_file()
    start = [*ray, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
             "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", str(temp / "t"),
             "--object-store-memory", str(200 * 2**20)]
    head = subprocess.Popen(start, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        status = [*ray, "status", "--address", f"127.0.0.1:{port}"]
        token_env = env | {"RAY_AUTH_MODE": "token"}
        while subprocess.run(status, capture_output=True, env=token_env, timeout=600).returncode != 0:
            assert head.poll() is None, head.stderr.read()[-3000:]
            time.sleep(0.5)
        yield env | {"VISEMES_TEST_RAY_SESSION": str(head.pid)}
    finally:
        _stop_group(head)


def _stop_group(head: subprocess.Popen) -> None:
    """Stop the cluster this test started, and only it: its process group, asked first, then killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=60)
        os.killpg(head.pid, signal.SIGKILL)  # whatever of the group is left


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    """200 different lines (cuts of the sample's timings), a third of them on the vrm rig."""
    d = tmp_path_factory.mktemp("lines")
    src = (SAMPLES / "hello.tsv").read_text().splitlines()
    rows = ["input,rig,language,output"]
    for i in range(LINES):
        (d / f"line{i:03d}.tsv").write_text("\n".join(src[: 15 + i % 45]) + "\n")
        rows.append(f"line{i:03d}.tsv,{'vrm' if i % 3 == 0 else ''},,out/line{i:03d}.json")
    (d / "lines.csv").write_text("\n".join(rows) + "\n")
    (d / "inputs.csv").write_text("input\n" + "".join(f"line{i:03d}.tsv\n" for i in range(LINES)))
    return d / "lines.csv"


def bake(manifest: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visemes", "bake", "--manifest", str(manifest), *args],
                          capture_output=True, text=True, env=env, timeout=900)


def test_a_ray_cluster_writes_the_same_bytes_as_local_workers(ray_cluster, manifest, tmp_path):
    local = bake(manifest, ray_cluster, "-f", "json", "--jobs", "2")
    assert local.returncode == 0, local.stderr
    out = manifest.parent / "out"
    expected = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(expected) == LINES
    shutil.rmtree(out)
    r = bake(manifest, ray_cluster, "-f", "json", "--executor", "ray")
    assert r.returncode == 0, r.stderr
    assert f"{LINES} baked" in r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == expected
    again = bake(manifest, ray_cluster, "-f", "json", "--executor", "ray")  # resumable: nothing left to do
    assert again.returncode == 0 and f"0 baked, {LINES} up to date" in again.stderr


def _workers_running_tasks(session: int) -> list[int]:
    """Our cluster's workers now running a task (other clusters on the machine are left alone)."""
    ps = subprocess.run(["ps", "-eo", "pid=,sid=,args="], capture_output=True, text=True).stdout
    return [int(pid) for pid, sid, *args in (line.split(None, 2) for line in ps.splitlines())
            if int(sid) == session and args and args[0].startswith("ray::bake_chunk")]


def test_killing_a_worker_leaves_every_line_written_or_reported(ray_cluster, manifest):
    out = manifest.parent / "killed"
    shutil.rmtree(out, ignore_errors=True)
    inputs = manifest.parent / "inputs.csv"  # no output column: files go to -o, named after the inputs
    proc = subprocess.Popen([sys.executable, "-m", "visemes", "bake", "--manifest", str(inputs), "-f", "gltf",
                             "--executor", "ray", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ray_cluster)
    killed = None
    session = int(ray_cluster["VISEMES_TEST_RAY_SESSION"])
    while killed is None and proc.poll() is None:  # events only: ten files written, then a worker in a task
        done = len(list(out.glob("*.glb"))) if out.is_dir() else 0
        pids = _workers_running_tasks(session) if done >= 10 else []
        if done >= 10 and pids:
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.05)
    _, err = proc.communicate(timeout=900)
    assert killed is not None, "no worker was caught running a task"
    reported = {line for line in err.splitlines() if line.startswith("error:")}
    written = {p.stem for p in out.glob("*.glb")}
    for i in range(LINES):
        name = f"line{i:03d}"
        assert name in written or any(name in line for line in reported), name
    assert not [p for p in out.iterdir() if p.suffix == ".tmp" or p.name.startswith(".")]
    for p in out.glob("*.glb"):
        data = p.read_bytes()
        assert data[:4] == b"glTF" and int.from_bytes(data[8:12], "little") == len(data)  # whole files only


def test_a_wrong_ray_token_is_one_clear_error(ray_cluster, manifest, tmp_path):
    inputs = manifest.parent / "inputs.csv"  # outputs go to -o
    r = bake(inputs, ray_cluster | {"RAY_AUTH_TOKEN": "0" * 64}, "-f", "json", "--executor", "ray", "-o",
             str(tmp_path))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "error: cannot connect to the Ray cluster at 127.0.0.1:" in r.stderr and "token" in r.stderr
    assert not list(tmp_path.iterdir())


def test_an_unknown_executor_is_refused(manifest):
    r = bake(manifest, dict(os.environ), "--executor", "spark")
    assert r.returncode == 1 and "unknown --executor 'spark'" in r.stderr


def test_manifest_errors_name_the_line(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("input,rig,output\nok.tsv,arkit,a.json\n,arkit,b.json\n")
    r = bake(m, dict(os.environ), "-f", "json")
    assert r.returncode == 1 and f"{m}: row 3: no input" in r.stderr
    j = tmp_path / "m.json"
    j.write_text(json.dumps([{"input": "a.tsv", "speaker": "x"}]))
    r = bake(j, dict(os.environ), "-f", "json", "-o", str(tmp_path))
    assert r.returncode == 1 and f"{j}: row 1: unknown column 'speaker'" in r.stderr
