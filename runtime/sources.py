"""Live audio sources: blocks of 16 kHz mono float32 samples, each with the wall time it became available.

- ``file:PATH`` plays a file at real-time pace (``speed`` > 1 for faster-than-real-time tests);
- ``stdin[:RATE[:CHANNELS]]`` reads raw signed 16-bit little-endian PCM from standard input (default 16 kHz mono);
- ``mic[:DEVICE]`` records from a microphone (sounddevice/PortAudio; a device index or part of its name);
- ``ws://HOST:PORT`` listens for one sending client at a time (a game, a browser) that sends binary messages
  of s16le PCM, after an optional JSON text message ``{"rate": 48000, "channels": 2}``; ``{"type": "end"}``
  ends the stream (see :class:`WebSocketSource`). Binds where it is told (use 127.0.0.1 unless others must
  connect, and a token when they do).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from visemes.audio import load_audio
from visemes.errors import VisemesError

RATE = 16_000
BLOCK = 160  # 10 ms: one analysis hop


def file_source(path: str | Path, speed: float = 1.0, block: int = BLOCK) -> Iterator[tuple[np.ndarray, float]]:
    """The file's samples in ``block``-sized pieces, each released when it would have been heard."""
    samples = load_audio(Path(path))
    start = time.perf_counter()
    for i in range(0, len(samples), block):
        due = start + (i + block) / RATE / speed
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        yield samples[i:i + block], due


def stdin_source(rate: int = RATE, channels: int = 1, block: int = BLOCK) -> Iterator[tuple[np.ndarray, float]]:
    """Raw s16le PCM from standard input, resampled to 16 kHz mono, until it closes."""
    from visemes.audio import resample

    stream = sys.stdin.buffer
    frame_bytes = 2 * channels
    want = max(1, round(block * rate / RATE)) * frame_bytes
    pending = b""
    while True:
        chunk = stream.read1(want) if hasattr(stream, "read1") else stream.read(want)
        if not chunk:
            return
        pending += chunk
        usable = len(pending) - len(pending) % frame_bytes
        if not usable:
            continue
        pcm = np.frombuffer(pending[:usable], "<i2").reshape(-1, channels).mean(axis=1) / 32768.0
        pending = pending[usable:]
        out = pcm.astype(np.float32) if rate == RATE else resample(pcm.astype(np.float32), rate, RATE)
        yield out, time.perf_counter()


def _sounddevice():
    try:
        import sounddevice
    except ImportError:
        raise VisemesError("audio devices need sounddevice: pip install 'visemes[live]'") from None
    except OSError:
        raise VisemesError("audio devices need the PortAudio library (Debian: libportaudio2)") from None
    return sounddevice


def input_devices() -> list[str]:
    """``index: name`` of every device that can record."""
    sd = _sounddevice()
    return [f"{i}: {d['name']} ({d['max_input_channels']} ch, {d['default_samplerate']:.0f} Hz)"
            for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def mic_source(device: str | int | None = None, block: int = BLOCK) -> Iterator[tuple[np.ndarray, float]]:
    """Microphone blocks as PortAudio delivers them; stops with a clear error when the device goes away."""
    sd = _sounddevice()
    blocks: queue.Queue = queue.Queue(maxsize=200)

    def callback(indata, frames, time_info, status) -> None:
        with contextlib.suppress(queue.Full):
            blocks.put_nowait((indata[:, 0].astype(np.float32).copy(), time.perf_counter()))

    name = device if device is not None else "the default input"
    try:
        stream = sd.InputStream(samplerate=RATE, channels=1, dtype="float32", blocksize=block, device=device,
                                callback=callback)
        stream.start()
    except (sd.PortAudioError, ValueError) as e:
        raise VisemesError(f"microphone {name}: cannot open ({e})") from None
    try:
        while True:
            try:
                yield blocks.get(timeout=1.0)
            except queue.Empty:
                if not stream.active:
                    raise VisemesError(f"microphone {name} stopped delivering audio (unplugged?)") from None
    finally:
        with contextlib.suppress(Exception):
            stream.close()


class PcmBuffer:
    """Audio waiting for the analysis, at most ``buffer_s`` seconds: when it falls behind, the oldest is
    dropped and counted in ``dropped_s``. Iterating yields ``(samples, wall)`` blocks until :meth:`finish`,
    and an empty block every ``idle_s`` while nothing arrives, so a caller's time limit holds."""

    def __init__(self, buffer_s: float = 2.0, idle_s: float = 0.1) -> None:
        self.max_samples, self.idle_s = int(buffer_s * RATE), idle_s
        self.dropped_s = 0.0
        self.buffered = 0
        self._blocks: deque[tuple[np.ndarray, float]] = deque()
        self._cond = threading.Condition()
        self.ended = False

    def put(self, pcm: np.ndarray) -> None:
        with self._cond:
            self._blocks.append((pcm, time.perf_counter()))
            self.buffered += len(pcm)
            while self.buffered > self.max_samples and len(self._blocks) > 1:
                old, _ = self._blocks.popleft()  # the analysis fell behind: keep up with the present
                self.buffered -= len(old)
                self.dropped_s += len(old) / RATE
            self._cond.notify()

    def finish(self) -> None:
        with self._cond:
            self.ended = True
            self._cond.notify()

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        while True:
            with self._cond:
                if not self._blocks and not self.ended:
                    self._cond.wait(self.idle_s)
                if self._blocks:
                    pcm, wall = self._blocks.popleft()
                    self.buffered -= len(pcm)
                elif self.ended:
                    return
                else:
                    pcm, wall = np.zeros(0, np.float32), time.perf_counter()
            yield pcm, wall


async def receive_pcm(ws, buffer: PcmBuffer, errors: list[str]) -> None:
    """Read one sender's messages into ``buffer``: an optional ``{"rate", "channels"}`` header, then binary
    s16le PCM, until ``{"type": "end"}``. Other text is ignored; a header out of range is answered with an
    error message, noted in ``errors`` and the connection closed."""
    from visemes.audio import resample

    rate, channels = RATE, 1
    async for msg in ws:
        if isinstance(msg, str):
            try:
                info = json.loads(msg)
                if not isinstance(info, dict):
                    raise TypeError
                if info.get("type") == "end":
                    buffer.finish()
                    return
                rate, channels = int(info.get("rate", rate)), int(info.get("channels", channels))
            except (ValueError, TypeError, OverflowError, RecursionError):
                continue  # not a header: ignored
            if not (8000 <= rate <= 192_000 and 1 <= channels <= 8):
                why = f"rate {rate} Hz and {channels} channels: 8000-192000 Hz and 1-8 channels are accepted"
                errors.append(why)
                await ws.send(json.dumps({"type": "error", "message": why}))
                await ws.close(1003, "unsupported audio format")
                return
            continue
        usable = len(msg) - len(msg) % (2 * channels)
        if usable <= 0:
            continue
        pcm = np.frombuffer(msg[:usable], "<i2").reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768
        buffer.put(pcm if rate == RATE else resample(pcm, rate, RATE))


class WebSocketSource:
    """Audio sent by WebSocket clients, one sender at a time, until it sends ``{"type": "end"}``.

    A second client is refused while one is sending (close code 1013, "try again later"); with a ``token``,
    clients must connect to ``ws://HOST:PORT/?token=SECRET`` (others get HTTP 403). Audio waits in a
    :class:`PcmBuffer` of ``buffer_s`` seconds (``dropped_s`` counts what it dropped); refused senders'
    reasons are kept in ``errors``. Iterate it like the buffer.
    """

    MAX_MESSAGE = 1 << 18  # 256 KiB: 8 s of 16 kHz mono PCM in one message is plenty

    def __init__(self, host: str, port: int, token: str | None = None, buffer_s: float = 2.0,
                 idle_s: float = 0.1) -> None:
        self.host, self.port, self.token = host, port, token
        self.buffer = PcmBuffer(buffer_s, idle_s)
        self.errors: list[str] = []
        self._sender = None
        ready, failure = threading.Event(), []
        threading.Thread(target=self._serve, args=(ready, failure), daemon=True, name="ws-source").start()
        ready.wait(10)
        if failure:
            raise VisemesError(f"ws://{host}:{port}: cannot listen ({failure[0]})")

    @property
    def dropped_s(self) -> float:
        return self.buffer.dropped_s

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        return iter(self.buffer)

    def _serve(self, ready: threading.Event, failure: list) -> None:
        from websockets.asyncio.server import serve

        async def main() -> None:
            try:
                server = await serve(self._handle, self.host, self.port, max_size=self.MAX_MESSAGE,
                                     process_request=self._http, close_timeout=1)
            except OSError as e:
                failure.append(e)
                ready.set()
                return
            ready.set()
            await server.serve_forever()

        asyncio.run(main())

    def _http(self, connection, request):
        query = parse_qs(urlsplit(request.path).query)
        if self.token and query.get("token", [""])[0] != self.token:
            return connection.respond(HTTPStatus.FORBIDDEN, "a valid ?token= is needed\n")
        return None

    async def _handle(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        if self._sender is not None:
            await ws.close(1013, "another client is sending; try again later")
            return
        self._sender = ws
        try:
            await receive_pcm(ws, self.buffer, self.errors)
        except ConnectionClosed:
            pass  # a sender that goes away mid-stream ends its turn, not the session
        finally:
            self._sender = None


def open_source(spec: str, speed: float = 1.0, token: str | None = None) -> Iterable[tuple[np.ndarray, float]]:
    """A source from its command-line form (``file:PATH``, ``stdin[:RATE[:CHANNELS]]``, ``mic[:DEVICE]``,
    ``ws://HOST:PORT``, which takes ``token`` if given)."""
    if spec.startswith("ws://"):
        url = urlsplit(spec)
        if not (url.hostname and url.port):
            raise VisemesError(f"source {spec!r} needs a host and a port")
        return WebSocketSource(url.hostname, url.port, token)
    kind, _, rest = spec.partition(":")
    if kind == "mic":
        return mic_source(int(rest) if rest.isdigit() else (rest or None))
    if kind == "file" and rest:
        if not Path(rest).is_file():
            raise VisemesError(f"{rest}: no such file")
        load_audio(Path(rest))  # a bad file fails here, before anything starts
        return file_source(rest, speed)
    if kind == "stdin":
        parts = rest.split(":") if rest else []
        try:
            rate = int(parts[0]) if parts else RATE
            channels = int(parts[1]) if len(parts) > 1 else 1
        except ValueError:
            raise VisemesError(f"bad source {spec!r}: use stdin[:RATE[:CHANNELS]]") from None
        return stdin_source(rate, channels)
    raise VisemesError(f"unknown source {spec!r} (use file:PATH, stdin[:RATE[:CHANNELS]], mic[:DEVICE] or "
                       "ws://HOST:PORT)")
