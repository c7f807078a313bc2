"""Live sinks against real peers on loopback: VMC/OSC receivers, a Live Link socket, a VTube Studio server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import SAMPLES, free_tcp_port, stop_osc_server, udp_drained, ws_connect

from visemes.rigs import load_rig

SPEECH = SAMPLES / "hello.wav"


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visemes", "live", "--source", f"file:{SPEECH}", "--speed", "4",
                           *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_vmc_bundles_carry_every_channel_then_apply():
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    events = []
    d = Dispatcher()
    d.map("/VMC/Ext/Blend/Val", lambda addr, name, value: events.append((name, value)))
    d.map("/VMC/Ext/Blend/Apply", lambda addr: events.append(("<apply>", None)))
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), d)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = live("--rig", "vrm0", "--sink", f"vmc://127.0.0.1:{server.server_address[1]}")
    finally:
        stop_osc_server(server)
    assert r.returncode == 0, r.stderr
    applies = [i for i, e in enumerate(events) if e[0] == "<apply>"]
    assert len(applies) > 300  # one per frame (6.6 s at 60 fps), over UDP on loopback
    first = events[:applies[0]]
    assert [n for n, _ in first] == ["A", "I", "U", "E", "O"]
    values = np.array([v for n, v in events if n == "A"])
    assert values.min() >= 0 and values.max() <= 1 and values.max() > 0.5


def test_plain_osc_uses_the_address_pattern():
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    got = {}
    d = Dispatcher()
    d.set_default_handler(lambda addr, *args: got.setdefault(addr, []).append(args))
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), d)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = live("--rig", "vrm", "--sink", f"osc://127.0.0.1:{server.server_address[1]}/avatar/{{channel}}",
                 "--duration", "1")
    finally:
        stop_osc_server(server)
    assert r.returncode == 0, r.stderr
    assert set(got) == {f"/avatar/{c}" for c in load_rig("vrm").channels}
    assert all(len(a) == 1 and isinstance(a[0], float) for args in got.values() for a in args)


def test_live_link_packets_are_well_formed():
    port = _udp_port()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.5)
    packets = []
    stop = threading.Event()

    def receive():
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                packets.append(sock.recv(4096))

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    r = live("--rig", "arkit", "--sink", f"livelink://127.0.0.1:{port}")
    udp_drained(sock)
    stop.set()
    t.join()
    sock.close()
    assert r.returncode == 0, r.stderr
    assert len(packets) > 300
    jaw, frames = [], []
    for p in packets:
        assert p[0] == 6
        pos = 1
        fields = []
        for _ in range(2):
            (n,) = struct.unpack_from(">i", p, pos)
            fields.append(p[pos + 4:pos + 4 + n].decode())
            pos += 4 + n
        frame, _sub, num, den, count = struct.unpack_from(">ifiiB", p, pos)
        pos += 17
        values = np.frombuffer(p, ">f4", count, pos)
        assert fields[1] == "visemes" and fields[0].startswith("visemes-")
        assert (num, den, count) == (60, 1, 61) and len(p) == pos + 4 * 61
        assert np.all(values[52:] == 0) and values.min() >= 0 and values.max() <= 1
        frames.append(frame)
        jaw.append(values[load_rig("arkit").channels.index("jawOpen")])
    assert frames == sorted(frames) and max(jaw) > 0.3


class FakeVTubeStudio:
    """The documented request/response messages of the VTube Studio public API, on loopback."""

    def __init__(self, drop_after: int | None = None):
        self.requests: list[dict] = []
        self.token = "tok-123"
        self.drop_after = drop_after
        self.port = None
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready):
        from websockets.asyncio.server import serve

        async def start():
            self.server = await serve(self.handle, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            await self.server.serve_forever()

        self.loop.run_until_complete(start())

    async def handle(self, ws):
        injections = 0
        async for raw in ws:
            msg = json.loads(raw)
            self.requests.append(msg)
            kind, data = msg["messageType"], msg["data"]
            reply = {"apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0", "requestID": msg["requestID"],
                     "timestamp": int(time.time() * 1000)}
            if kind == "AuthenticationTokenRequest":
                reply.update(messageType="AuthenticationTokenResponse", data={"authenticationToken": self.token})
            elif kind == "AuthenticationRequest":
                ok = data.get("authenticationToken") == self.token
                reply.update(messageType="AuthenticationResponse", data={"authenticated": ok, "reason": ""})
            elif kind == "ParameterCreationRequest":
                assert 4 <= len(data["parameterName"]) <= 32 and data["parameterName"].isalnum()
                reply.update(messageType="ParameterCreationResponse", data={"parameterName": data["parameterName"]})
            elif kind == "InjectParameterDataRequest":
                injections += 1
                reply.update(messageType="InjectParameterDataResponse", data={})
            else:
                reply.update(messageType="APIError", data={"errorID": 1, "message": f"unknown {kind}"})
            await ws.send(json.dumps(reply))
            if self.drop_after and injections >= self.drop_after:
                self.drop_after = None
                await ws.close()
                return

    def kinds(self) -> list[str]:
        return [r["messageType"] for r in self.requests]


@pytest.fixture
def vts_env(tmp_path):
    return {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}


def test_vtube_studio_plugin_authenticates_once_creates_parameters_and_injects(vts_env, tmp_path):
    vts = FakeVTubeStudio()
    r = live("--rig", "vrm", "--sink", f"vtubestudio://127.0.0.1:{vts.port}", env=vts_env)
    assert r.returncode == 0, r.stderr
    kinds = vts.kinds()
    assert kinds[:2] == ["AuthenticationTokenRequest", "AuthenticationRequest"]
    token = tmp_path / "config" / "visemes" / "vtubestudio-token"
    assert token.read_text().strip() == "tok-123"
    assert token.stat().st_mode & 0o777 == 0o600, "a secret is readable by its owner only"
    created = [q["data"]["parameterName"] for q in vts.requests if q["messageType"] == "ParameterCreationRequest"]
    assert created == ["VisemesAa", "VisemesIh", "VisemesOu", "VisemesEe", "VisemesOh"]
    injections = [q["data"] for q in vts.requests if q["messageType"] == "InjectParameterDataRequest"]
    assert len(injections) > 50 and all(i["mode"] == "set" for i in injections)
    aa = [v["value"] for i in injections for v in i["parameterValues"] if v["id"] == "VisemesAa"]
    assert max(aa) > 0.5 and min(aa) >= 0
    vts.requests.clear()
    r = live("--rig", "vtubestudio", "--sink", f"vtubestudio://127.0.0.1:{vts.port}", "--duration", "1",
             env=vts_env)
    assert r.returncode == 0, r.stderr
    assert "AuthenticationTokenRequest" not in vts.kinds()  # the stored token is used
    assert "ParameterCreationRequest" not in vts.kinds()  # MouthOpen and MouthSmile are VTube Studio's own inputs
    ids = {v["id"] for q in vts.requests if q["messageType"] == "InjectParameterDataRequest"
           for v in q["data"]["parameterValues"]}
    assert ids == {"MouthOpen", "MouthSmile"}


def test_vtube_studio_connection_lost_is_reconnected(vts_env):
    vts = FakeVTubeStudio(drop_after=20)
    r = live("--rig", "vrm", "--sink", f"vtubestudio://127.0.0.1:{vts.port}", env=vts_env)
    assert r.returncode == 0, r.stderr
    assert vts.kinds().count("AuthenticationRequest") >= 2  # once per connection
    assert vts.kinds().count("InjectParameterDataRequest") > 40


def test_receivers_that_are_down_do_not_stop_the_runtime():
    closed = _udp_port()
    r = live("--rig", "arkit", "--sink", f"vmc://127.0.0.1:{closed}", "--sink", f"livelink://127.0.0.1:{closed}",
             "--sink", "vtubestudio://127.0.0.1:1")
    assert r.returncode == 0, r.stderr
    assert "live: 394 frames" in r.stderr
    never = [ln for ln in r.stderr.splitlines() if "never connected" in ln]
    assert len(never) == 1 and never[0].startswith("warning: vtubestudio://127.0.0.1:1: never connected")
    assert "last error:" in never[0], "the reason it failed is shown"


@pytest.mark.parametrize("delay", ["300", "1000"])
def test_the_end_of_a_delayed_stream_reaches_every_sink_whole(delay):
    """The frames held back by --delay come out in a burst at the end: none may be dropped on the way."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    from visemes.audio import load_audio

    applies = []
    d = Dispatcher()
    d.map("/VMC/Ext/Blend/Apply", lambda addr: applies.append(1))
    osc = ThreadingOSCUDPServer(("127.0.0.1", 0), d)
    threading.Thread(target=osc.serve_forever, daemon=True).start()
    src, out = free_tcp_port(), free_tcp_port()
    proc = subprocess.Popen([sys.executable, "-m", "visemes", "live", "--source", f"ws://127.0.0.1:{src}", "--rig",
                             "vrm0", "--delay", delay, "--sink", f"ws://127.0.0.1:{out}",
                             "--sink", f"vmc://127.0.0.1:{osc.server_address[1]}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    frames = []
    try:
        with ws_connect(out) as listener:
            assert json.loads(listener.recv(timeout=30))["type"] == "hello"
            reader = threading.Thread(target=lambda: _read_all(listener, frames), daemon=True)
            reader.start()
            pcm = (load_audio(SPEECH) * 32767).astype("<i2")
            with ws_connect(src) as ws:
                for i in range(0, len(pcm), 1600):  # at twice real time, as a fast game would send it
                    ws.send(pcm[i:i + 1600].tobytes())
                    time.sleep(0.05)
                ws.send(json.dumps({"type": "end"}))
            _, err = proc.communicate(timeout=120)
            reader.join(30)
    finally:
        proc.kill()
        stop_osc_server(osc)
    assert proc.returncode == 0, err
    total = int(err.split("live: ")[1].split(" frames")[0])
    assert total > 350, err

    def dropped(scheme: str) -> int:  # a slow reader may lose frames mid-stream; the summary counts them
        line = [ln for ln in err.splitlines() if ln.startswith(f"{scheme}://") and "frames dropped" in ln]
        return int(line[0].split(": ")[1].split()[0]) if line else 0

    got = [f["frame"] for f in frames]
    tail = int(delay) * 60 // 1000  # the frames held back by the delay, sent at the end
    assert got[-tail:] == list(range(total - tail, total)), "the end of the stream arrives whole"
    assert len(got) + dropped("ws") == total and len(applies) + dropped("vmc") == total, err


def _read_all(ws, frames: list) -> None:
    try:
        while True:
            msg = json.loads(ws.recv(timeout=60))
            if msg.get("type") == "frame":
                frames.append(msg)
    except Exception:  # the runtime closed the stream at the end
        pass
