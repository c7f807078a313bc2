"""Live sinks: where frames go. Each sink keeps its own bounded queue, so a slow peer never stalls analysis.

- ``vmc://HOST:PORT`` VMC protocol (OSC over UDP): one bundle per frame of ``/VMC/Ext/Blend/Val`` (name,
  value) per channel, then ``/VMC/Ext/Blend/Apply``; names are the rig's channels (VRM presets with the
  ``vrm0``/``vrm`` rigs, ARKit names for perfect-sync avatars); with ``--expression``, head motion goes out
  as the ``Head`` bone's rotation (``/VMC/Ext/Bone/Pos``, a Unity-space quaternion).
- ``osc://HOST:PORT/ADDRESS`` plain OSC: with ``{channel}`` in the address, one message per channel (a float);
  otherwise one message with every weight (default address ``/visemes/weights``).
- ``livelink://HOST:PORT`` Live Link Face packets (version 6) for Unreal: the 52 ARKit weights (rig channels
  matched by name, others 0), head yaw/pitch/roll in radians from the expression layer's head channels (else 0)
  and zero eye angles.
- ``vtubestudio://HOST:PORT`` a VTube Studio API plugin client (see :class:`VTubeStudioSink`).

``ws://HOST:PORT`` is a WebSocket server (binding 127.0.0.1 unless told
otherwise) that broadcasts every frame as JSON to every client, and with
``monitor`` also serves the live monitor page over plain HTTP on the same port.

Messages (JSON text, ``"version": 1``)::

    {"type": "hello", "version": 1, "rig": "arkit", "channels": ["eyeBlinkLeft", ...], "fps": 60}
    {"type": "frame", "frame": 12, "time": 0.2, "viseme": "aa", "weights": [0.0, ...],
     "mouth": {"open": 0.8, "wide": 0.6, "round": 0.1}, "level": -23.5, "latency_ms": 71.2, "dropped": 0}

``weights`` follow ``channels``; ``time`` is media time in seconds; ``latency_ms`` is
the time from the audio of the frame being available to this frame being sent;
``dropped`` counts frames this client missed because it read too slowly. With a
token set, clients connect to ``ws://HOST:PORT/?token=SECRET`` (others get HTTP 403).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import queue
import socket
import struct
import threading
import uuid
from http import HTTPStatus
from importlib.resources import files
from urllib.parse import parse_qs, urlsplit

import numpy as np

from visemes.errors import VisemesError
from visemes.expression import HEAD_CHANNELS, head_angles
from visemes.rigs import RigProfile

from .analyser import LiveFrame

CLIENT_QUEUE = 32  # frames buffered per client before the oldest are dropped


def frame_message(frame: LiveFrame, latency_ms: float, dropped: int = 0) -> dict:
    return {"type": "frame", "frame": frame.index, "time": round(frame.time, 4), "viseme": frame.viseme,
            "weights": [round(float(w), 4) for w in frame.weights],
            "mouth": dict(zip(("open", "wide", "round"), (round(m, 4) for m in frame.mouth), strict=True)),
            "level": round(frame.level, 1), "latency_ms": round(latency_ms, 1), "dropped": dropped}


class _Client:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.queue: asyncio.Queue = asyncio.Queue()  # bounded by _broadcast, except for the stream's last frames
        self.dropped = 0


class WebSocketSink:
    """Broadcast frames to WebSocket clients; optionally serve the monitor page at ``/``."""

    def __init__(self, host: str, port: int, rig_name: str, channels: list[str], fps: float,
                 token: str | None = None, monitor: bool = False) -> None:
        self.hello = json.dumps({"type": "hello", "version": 1, "rig": rig_name, "channels": channels, "fps": fps})
        self.token, self.monitor = token, monitor
        self.page = files("visemes.runtime").joinpath("monitor.html").read_bytes() if monitor else b""
        self.clients: set[_Client] = set()
        self.sent = 0
        self.dropped = 0  # over every client, those gone included
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(host, port), daemon=True, name="ws-sink")
        self._thread.start()
        self._ready.wait(10)
        if self._error:
            raise VisemesError(f"ws://{host}:{port}: cannot listen ({self._error})")

    # -- the server thread
    def _run(self, host: str, port: int) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start(host, port))
        except OSError as e:
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    async def _start(self, host: str, port: int) -> None:
        from websockets.asyncio.server import serve

        self.server = await serve(self._handle, host, port, process_request=self._http, max_size=2**16,
                                  close_timeout=1)

    def _http(self, connection, request):
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        query = parse_qs(urlsplit(request.path).query)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            if self.monitor and urlsplit(request.path).path in ("/", "/monitor"):
                headers = Headers([("Content-Type", "text/html; charset=utf-8"),
                                   ("Content-Length", str(len(self.page))), ("Cache-Control", "no-store")])
                return Response(HTTPStatus.OK, "OK", headers, self.page)
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if self.token and query.get("token", [""])[0] != self.token:
            return connection.respond(HTTPStatus.FORBIDDEN, "a valid ?token= is needed\n")
        return None

    async def _handle(self, ws) -> None:
        client = _Client(ws)
        self.clients.add(client)
        reader = asyncio.ensure_future(self._discard(ws))
        try:
            await ws.send(self.hello)
            while True:
                message = await client.queue.get()
                if message is None:
                    break
                await ws.send(message)
        except Exception:  # a client that goes away is simply forgotten
            pass
        finally:
            reader.cancel()
            self.clients.discard(client)

    @staticmethod
    async def _discard(ws) -> None:
        """Read and ignore what clients send (malformed or not), so their messages never pile up."""
        try:
            async for _ in ws:
                pass
        except Exception:
            pass

    def _broadcast(self, frame: LiveFrame, latency_ms: float, final: bool) -> None:
        for client in list(self.clients):
            if client.queue.qsize() >= CLIENT_QUEUE and not final:  # a slow reader gets the newest frames
                client.queue.get_nowait()
                client.dropped += 1
                self.dropped += 1
            client.queue.put_nowait(json.dumps(frame_message(frame, latency_ms, client.dropped)))
        self.sent += 1

    # -- called from the analysis thread
    def send(self, frame: LiveFrame, latency_ms: float, final: bool = False) -> None:
        """Queue ``frame`` for every client; ``final`` frames (the end of the stream) are never dropped."""
        self.loop.call_soon_threadsafe(self._broadcast, frame, latency_ms, final)

    def close(self, drain_s: float = 5.0) -> None:
        async def stop() -> None:
            for c in list(self.clients):
                c.queue.put_nowait(None)  # the handlers send what is queued, then end
            for _ in range(int(drain_s / 0.05)):  # until every client has its frames (a ceiling, not a wait)
                if not self.clients:
                    break
                await asyncio.sleep(0.05)
            for c in list(self.clients):  # a client that never reads cannot take a closing handshake: cut it
                c.ws.transport.abort()
            self.server.close()
            await asyncio.wait_for(self.server.wait_closed(), 3)

        if self._thread.is_alive() and not self._error:
            with contextlib.suppress(TimeoutError, concurrent.futures.TimeoutError):
                asyncio.run_coroutine_threadsafe(stop(), self.loop).result(drain_s + 5)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)


class _Worker:
    """A sender thread with a bounded queue: ``send`` never blocks; when full, the oldest frame is dropped."""

    def __init__(self, name: str, deliver, size: int = 8) -> None:
        self.deliver = deliver  # (frame, latency_ms) -> None, run on the thread
        self.queue: queue.Queue = queue.Queue(size)
        self.dropped = 0
        self.sent = 0
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)
        self._thread.start()

    def send(self, frame: LiveFrame, latency_ms: float, final: bool = False) -> None:
        """Queue ``frame``; when the queue is full the oldest is dropped, but ``final`` frames (the end of
        the stream) wait for room."""
        if final:
            with contextlib.suppress(queue.Full):
                self.queue.put((frame, latency_ms), timeout=5)
            return
        while True:
            try:
                self.queue.put_nowait((frame, latency_ms))
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()
                    self.dropped += 1

    def _loop(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            try:
                self.deliver(*item)
                self.sent += 1
            except OSError:  # a peer that is down: UDP errors (ICMP unreachable) are not fatal
                pass

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self.queue.put(None, timeout=5)  # after every frame already queued
        self._thread.join(5)


def head_quaternion(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Unity-space rotation (x, y, z, w) of a head turned by these degrees (see
    :func:`visemes.expression.head_angles`), as VMC's ``/VMC/Ext/Bone/Pos`` carries it.

    Unity is left-handed (x right, y up, z forward, the way the avatar faces)
    and applies roll (z), then pitch (x), then yaw (y).
    """
    from pyrr import quaternion

    def turn(axis, degrees):
        return quaternion.create_from_axis_rotation(np.array(axis, float), np.radians(degrees))

    # chin up is a negative x rotation, turning to the avatar's left a negative y, tilting left a positive z;
    # as Unity does: yaw x pitch x roll (pyrr.quaternion.cross is the Hamilton product)
    q = quaternion.cross(turn((0, 1, 0), -yaw), quaternion.cross(turn((1, 0, 0), -pitch), turn((0, 0, 1), roll)))
    return np.asarray(q, dtype=np.float64)


class OscSink(_Worker):
    """VMC (``vmc=True``) or plain OSC over UDP.

    VMC frames carry head channels (``headYaw``... of a rig's expression layer)
    as a ``/VMC/Ext/Bone/Pos`` rotation of the ``Head`` bone, not as blendshapes.
    """

    def __init__(self, host: str, port: int, channels: list[str], address: str | None = None, vmc: bool = True,
                 ranges: dict | None = None):
        self.channels, self.address, self.vmc = channels, address or "/visemes/weights", vmc
        self.ranges = ranges or {}
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        super().__init__(f"osc-{host}:{port}", self._deliver)

    def packet(self, frame: LiveFrame) -> bytes:
        from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
        from pythonosc.osc_message_builder import OscMessageBuilder

        def message(address: str, *args) -> object:
            m = OscMessageBuilder(address)
            for a in args:
                m.add_arg(a)
            return m.build()

        if not self.vmc and "{channel}" not in self.address:
            return message(self.address, *(float(w) for w in frame.weights)).dgram
        bundle = OscBundleBuilder(IMMEDIATELY)
        for name, w in zip(self.channels, frame.weights, strict=True):
            if self.vmc and name not in HEAD_CHANNELS:
                bundle.add_content(message("/VMC/Ext/Blend/Val", name, float(w)))
            elif not self.vmc:
                bundle.add_content(message(self.address.replace("{channel}", name), float(w)))
        if self.vmc:
            bundle.add_content(message("/VMC/Ext/Blend/Apply"))
            angles = head_angles(frame.weights, self.channels, self.ranges)
            if angles is not None:
                q = head_quaternion(*angles)
                bundle.add_content(message("/VMC/Ext/Bone/Pos", "Head", 0.0, 0.0, 0.0, *(float(v) for v in q)))
        return bundle.build().dgram

    def _deliver(self, frame: LiveFrame, latency_ms: float) -> None:
        self.sock.sendto(self.packet(frame), self.target)


def livelink_packet(frame_number: int, fps: float, weights: np.ndarray, device: str, subject: str,
                    head: np.ndarray | None = None) -> bytes:
    """One Live Link Face datagram, version 6, big-endian: ids, frame time, 61 floats (52 ARKit, head
    yaw/pitch/roll in radians, 6 eye angles)."""
    def text(s: str) -> bytes:
        raw = s.encode("utf-8")
        return struct.pack(">i", len(raw)) + raw

    values = np.zeros(61, dtype=">f4")
    values[:52] = weights
    if head is not None:
        values[52:55] = np.radians(head)
    num, den = (round(fps), 1) if abs(fps - round(fps)) < 1e-6 else (round(fps * 1000), 1000)
    return (struct.pack(">B", 6) + text(device) + text(subject) + struct.pack(">ifiiB", frame_number, 0.0, num, den, 61)
            + values.tobytes())


class LiveLinkSink(_Worker):
    """ARKit weights to Unreal's Live Link Face source over UDP."""

    def __init__(self, host: str, port: int, channels: list[str], fps: float, subject: str = "visemes",
                 ranges: dict | None = None):
        from visemes.rigs import load_rig

        arkit = load_rig("arkit").channels
        self.index = [channels.index(c) if c in channels else -1 for c in arkit]
        if all(i < 0 for i in self.index):
            raise VisemesError("livelink sinks need ARKit channels: use --rig arkit (or a profile with those names)")
        self.fps, self.subject, self.device = fps, subject, f"visemes-{uuid.uuid4()}"
        self.channels, self.ranges = channels, ranges or {}
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        super().__init__(f"livelink-{host}:{port}", self._deliver)

    def _deliver(self, frame: LiveFrame, latency_ms: float) -> None:
        w = np.array([frame.weights[i] if i >= 0 else 0.0 for i in self.index], dtype=np.float32)
        head = head_angles(frame.weights, self.channels, self.ranges)
        self.sock.sendto(livelink_packet(frame.index, self.fps, w, self.device, self.subject, head), self.target)


def open_sink(spec: str, rig: RigProfile, fps: float, token: str | None = None, monitor: bool = False):
    """A sink from its command-line form: ``ws://``, ``vmc://``, ``osc://``, ``livelink://`` or
    ``vtubestudio://`` ``HOST:PORT``, for frames carrying ``rig``'s channels."""
    url = urlsplit(spec)
    channels = list(rig.channels)
    if not (url.hostname and url.port):
        raise VisemesError(f"sink {spec!r} needs a host and a port, e.g. ws://127.0.0.1:8765")
    if url.scheme == "ws":
        return WebSocketSink(url.hostname, url.port, rig.name, channels, fps, token, monitor)
    if url.scheme == "vmc":
        return OscSink(url.hostname, url.port, channels, vmc=True, ranges=rig.ranges)
    if url.scheme == "osc":
        return OscSink(url.hostname, url.port, channels, url.path or None, vmc=False)
    if url.scheme == "livelink":
        return LiveLinkSink(url.hostname, url.port, channels, fps, ranges=rig.ranges)
    if url.scheme == "vtubestudio":
        from .vtubestudio import VTubeStudioSink

        return VTubeStudioSink(url.hostname, url.port, channels, ranges=rig.ranges)
    raise VisemesError(f"unknown sink {spec!r} (use ws://, vmc://, osc://, livelink:// or vtubestudio:// HOST:PORT)")
