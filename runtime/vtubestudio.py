"""VTube Studio sink: a plugin client of the VTube Studio public API (WebSocket JSON, API 1.0).

On each connection it authenticates (asking the user once for a token, kept in
``token_file`` for next time), creates a custom input parameter for every rig
channel that is not one of VTube Studio's own inputs (``MouthOpen``,
``MouthSmile``...), then injects the weights of each frame. Parameters are
re-sent at least twice a second even when no new frame comes, since VTube
Studio lets go of a parameter after a second without values. A lost
connection is retried with exponential backoff; frames meanwhile are dropped,
never queued without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import threading
import uuid
from pathlib import Path

from visemes.fileio import write_text

from .analyser import LiveFrame

PLUGIN = {"pluginName": "visemes lip sync", "pluginDeveloper": "visemes developers"}
DEFAULT_INPUTS = {"MouthOpen", "MouthSmile", "MouthX", "CheekPuff", "TongueOut", "JawOpen", "MouthPucker",
                  "MouthFunnel", "MouthPressLipOpen", "MouthRollUpper", "MouthRollLower", "MouthShrug",
                  "FaceAngleX", "FaceAngleY", "FaceAngleZ", "EyeOpenLeft", "EyeOpenRight", "Brows", "BrowLeftY",
                  "BrowRightY"}
KEEPALIVE_S = 0.5
BACKOFF_S = (0.5, 1, 2, 4, 8)


def default_token_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "visemes" / "vtubestudio-token"


def parameter_id(channel: str) -> str:
    """The VTube Studio parameter a channel drives: its own input, or a custom one (4-32 letters and digits)."""
    if channel in DEFAULT_INPUTS:
        return channel
    return ("Visemes" + re.sub(r"[^A-Za-z0-9]", "", channel[:1].upper() + channel[1:]))[:32]


class VTubeStudioSink:
    """Send frames to VTube Studio at ``ws://HOST:PORT`` (8001 by default in the app)."""

    def __init__(self, host: str, port: int, channels: list[str], token_file: Path | None = None,
                 ranges: dict | None = None) -> None:
        self.url = f"ws://{host}:{port}"
        self.channels = channels
        self.ids = [parameter_id(c) for c in channels]
        # weights are 0..1; a channel with a range (head angles in degrees, -1..1 forms) is sent in its units
        self.ranges = [tuple((ranges or {}).get(c, (0.0, 1.0))) for c in channels]
        self.token_file = token_file or default_token_file()
        self.dropped = self.sent = self.connects = 0
        self.error = ""
        self.loop = asyncio.new_event_loop()
        self.latest: LiveFrame | None = None
        self._wake = asyncio.Event()
        self._stop = False
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True,
                                        name="vtubestudio")
        self._thread.start()

    # -- called from the analysis thread: keep only the newest frame
    def send(self, frame: LiveFrame, latency_ms: float, final: bool = False) -> None:
        # VTube Studio holds parameter values, not a stream: the newest frame is all it needs, final or not
        self.loop.call_soon_threadsafe(self._offer, frame)

    def _offer(self, frame: LiveFrame) -> None:
        if self._wake.is_set():  # the previous frame was never sent: it is replaced
            self.dropped += 1
        self.latest = frame
        self._wake.set()

    def close(self) -> None:
        self._stop = True
        self.loop.call_soon_threadsafe(self._wake.set)
        self._thread.join(3)

    # -- the client
    async def _run(self) -> None:
        attempt = 0
        while not self._stop:
            try:
                await self._session()
                attempt = 0
            except (OSError, asyncio.TimeoutError, ConnectionError, ValueError, KeyError) as e:
                self.error = str(e)
            except Exception as e:  # the websockets library's closed-connection errors
                self.error = str(e)
            if self._stop:
                return
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1

    async def _session(self) -> None:
        from websockets.asyncio.client import connect

        async with connect(self.url, open_timeout=5, max_size=2**20) as ws:
            self.connects += 1
            await self._authenticate(ws)
            for pid, ch, (lo, hi) in zip(self.ids, self.channels, self.ranges, strict=True):
                if pid not in DEFAULT_INPUTS:
                    await self._request(ws, "ParameterCreationRequest", {
                        "parameterName": pid, "explanation": f"visemes: rig channel {ch}"[:255],
                        "min": lo, "max": hi, "defaultValue": min(max(0.0, lo), hi)})
            while not self._stop:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), KEEPALIVE_S)
                self._wake.clear()
                if self.latest is not None:
                    await self._inject(ws, self.latest)

    async def _inject(self, ws, frame: LiveFrame) -> None:
        values = [{"id": pid, "value": round(lo + float(w) * (hi - lo), 4)}
                  for pid, w, (lo, hi) in zip(self.ids, frame.weights, self.ranges, strict=True)]
        await self._request(ws, "InjectParameterDataRequest", {"faceFound": False, "mode": "set",
                                                                "parameterValues": values})
        self.sent += 1

    async def _authenticate(self, ws) -> None:
        token = self._stored_token()
        if token:
            reply = await self._request(ws, "AuthenticationRequest", {**PLUGIN, "authenticationToken": token})
            if reply.get("authenticated"):
                return
        reply = await self._request(ws, "AuthenticationTokenRequest", PLUGIN, timeout=120)  # the user clicks Allow
        token = reply["authenticationToken"]
        write_text(self.token_file, token + "\n", private=True)  # a secret: owner only
        reply = await self._request(ws, "AuthenticationRequest", {**PLUGIN, "authenticationToken": token})
        if not reply.get("authenticated"):
            raise ConnectionError(f"VTube Studio refused the plugin ({reply.get('reason', 'no reason given')})")

    def _stored_token(self) -> str | None:
        try:
            return self.token_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    async def _request(self, ws, kind: str, data: dict, timeout: float = 5.0) -> dict:
        rid = uuid.uuid4().hex[:16]
        await ws.send(json.dumps({"apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0", "requestID": rid,
                                  "messageType": kind, "data": data}))
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if msg.get("requestID") != rid:
                continue  # an event or a late reply
            if msg.get("messageType") == "APIError":
                raise ConnectionError(f"VTube Studio: {msg.get('data', {}).get('message', 'error')}")
            return msg.get("data", {})
