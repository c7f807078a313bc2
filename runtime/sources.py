"""Live audio sources: blocks of 16 kHz mono float32 samples, each with the wall time it became available.

- ``file:PATH`` plays a file at real-time pace (``speed`` > 1 for faster-than-real-time tests);
- ``stdin[:RATE[:CHANNELS]]`` reads raw signed 16-bit little-endian PCM from standard input (default 16 kHz mono);
- ``mic[:DEVICE]`` records from a microphone (sounddevice/PortAudio; a device index or part of its name);
- ``ws://HOST:PORT`` listens for a client (a game, a browser) that sends binary messages of s16le PCM, after an
  optional JSON text message ``{"rate": 48000, "channels": 2}``; ``{"type": "end"}`` ends the stream, other
  malformed messages are ignored. Binds where it is told (use 127.0.0.1 unless others must connect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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


def ws_source(host: str, port: int, block_queue: int = 400) -> Iterator[tuple[np.ndarray, float]]:
    """Audio sent by WebSocket clients, one client at a time, until one sends ``{"type": "end"}``."""
    from visemes.audio import resample

    blocks: queue.Queue = queue.Queue(maxsize=block_queue)
    END = object()
    ready, failure = threading.Event(), []

    async def handle(ws) -> None:
        rate, channels = RATE, 1
        async for msg in ws:
            if isinstance(msg, str):
                try:
                    info = json.loads(msg)
                    if info.get("type") == "end":
                        blocks.put((END, 0.0))
                        return
                    rate, channels = int(info.get("rate", rate)), int(info.get("channels", channels))
                except (ValueError, TypeError, AttributeError):
                    continue  # malformed: ignored
                continue
            usable = len(msg) - len(msg) % (2 * channels)
            if usable <= 0 or not 8000 <= rate <= 192_000 or not 1 <= channels <= 8:
                continue
            pcm = np.frombuffer(msg[:usable], "<i2").reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768
            pcm = pcm if rate == RATE else resample(pcm, rate, RATE)
            if blocks.full():  # the analysis fell behind: drop the oldest audio, keep up with the present
                with contextlib.suppress(queue.Empty):
                    blocks.get_nowait()
            blocks.put_nowait((pcm, time.perf_counter()))

    def serve_forever() -> None:
        from websockets.asyncio.server import serve

        async def main() -> None:
            try:
                server = await serve(handle, host, port, max_size=2**20)
            except OSError as e:
                failure.append(e)
                ready.set()
                return
            ready.set()
            await server.serve_forever()

        asyncio.run(main())

    threading.Thread(target=serve_forever, daemon=True, name="ws-source").start()
    ready.wait(10)
    if failure:
        raise VisemesError(f"ws://{host}:{port}: cannot listen ({failure[0]})")

    def generate() -> Iterator[tuple[np.ndarray, float]]:
        while True:
            pcm, wall = blocks.get()
            if pcm is END:
                return
            yield pcm, wall

    return generate()


def open_source(spec: str, speed: float = 1.0) -> Iterator[tuple[np.ndarray, float]]:
    """A source from its command-line form (``file:PATH``, ``stdin[:RATE[:CHANNELS]]``, ``mic[:DEVICE]``,
    ``ws://HOST:PORT``)."""
    if spec.startswith("ws://"):
        from urllib.parse import urlsplit

        url = urlsplit(spec)
        if not (url.hostname and url.port):
            raise VisemesError(f"source {spec!r} needs a host and a port")
        return ws_source(url.hostname, url.port)
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
