"""Live sources: audio over WebSocket and from a microphone (a stand-in PortAudio), and the runtime's answers
to them going wrong."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
from conftest import SAMPLES, free_tcp_port, ws_connect
from hypothesis import given, settings
from hypothesis import strategies as st

from visemes.audio import load_audio
from visemes.errors import VisemesError


def test_audio_sent_over_websocket_is_analysed_like_the_same_file(tmp_path):
    """A client streams the sample as 48 kHz stereo PCM with junk in between; the frames match the file's."""
    import websockets.sync.client as client

    from visemes.audio import resample

    port, out = free_tcp_port(), free_tcp_port()
    proc = subprocess.Popen([sys.executable, "-m", "visemes", "live", "--source", f"ws://127.0.0.1:{port}", "--rig",
                             "vrm", "--sink", f"ws://127.0.0.1:{out}", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    frames = []
    try:
        def connect(p):
            for _ in range(300):
                try:
                    return client.connect(f"ws://127.0.0.1:{p}/", open_timeout=2)
                except OSError:
                    time.sleep(0.05)
            raise AssertionError(proc.communicate(timeout=5)[1])

        x = load_audio(SAMPLES / "hello.wav")
        pcm48 = resample(x, 16_000, 48_000)
        stereo = (np.repeat(pcm48[:, None], 2, axis=1) * 32767).astype("<i2")
        with connect(out) as listener:
            assert json.loads(listener.recv(timeout=5))["type"] == "hello"

            def listen():
                try:
                    while True:
                        frames.append(json.loads(listener.recv(timeout=10)))
                except Exception:  # the runtime closed the stream at the end
                    pass

            t = threading.Thread(target=listen, daemon=True)
            t.start()
            with connect(port) as ws:
                ws.send(json.dumps({"rate": 48_000, "channels": 2}))
                ws.send("{not json")
                for i in range(0, len(stereo), 4800):
                    ws.send(stereo[i:i + 4800].tobytes())
                    time.sleep(0.05)
                ws.send(json.dumps({"type": "end"}))
            assert proc.wait(timeout=60) == 0
            t.join(15)
    finally:
        proc.kill()
    assert len(frames) > 350  # 6.6 s at 60 fps
    aa = np.array([f["weights"][0] for f in frames])
    from visemes.rigs import load_rig
    from visemes.runtime.analyser import LiveAnalyser

    ref = LiveAnalyser(load_rig("vrm"), 60)
    expected = [f.weights[0] for i in range(0, len(x), 160) for f in ref.push(x[i:i + 160])] + \
        [f.weights[0] for f in ref.flush()]
    n = min(len(aa), len(expected))
    assert np.corrcoef(aa[:n], expected[:n])[0, 1] > 0.95  # the same speech, resampled twice on the way


class FakePortAudio:
    """Just enough of sounddevice: an input stream that delivers ``blocks`` blocks and then dies."""

    PortAudioError = RuntimeError

    def __init__(self, blocks: int):
        self.blocks = blocks

    def query_devices(self):
        return [{"name": "Fake USB mic", "max_input_channels": 1, "default_samplerate": 48000.0},
                {"name": "Speakers", "max_input_channels": 0, "default_samplerate": 48000.0}]

    def InputStream(self, samplerate, channels, dtype, blocksize, device, callback):
        fake = self

        class Stream:
            active = False

            def start(self):
                self.active = True

                def run():
                    for _ in range(fake.blocks):
                        callback(np.full((blocksize, 1), 0.01, np.float32), blocksize, None, None)
                        time.sleep(0.001)
                    self.active = False  # unplugged

                threading.Thread(target=run, daemon=True).start()

            def close(self):
                self.active = False

        return Stream()


def test_a_microphone_that_disappears_stops_with_a_clear_message(monkeypatch):
    from visemes.runtime import sources

    monkeypatch.setitem(sys.modules, "sounddevice", FakePortAudio(blocks=50))
    assert sources.input_devices() == ["0: Fake USB mic (1 ch, 48000 Hz)"]
    got = 0
    with pytest.raises(VisemesError, match="microphone Fake stopped delivering audio"):
        for block, _ in sources.mic_source("Fake"):
            assert block.shape == (160,)
            got += 1
    assert got == 50


def test_without_portaudio_the_microphone_error_says_what_to_install(monkeypatch):
    from visemes.runtime import sources

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as if it were not installed
    with pytest.raises(VisemesError, match="pip install 'visemes\\[live\\]'"):
        sources.input_devices()


@pytest.mark.parametrize("spec, message", [("tape:x", "unknown source 'tape:x'"),
                                           ("file:/nope.wav", "/nope.wav: no such file"),
                                           ("stdin:fast", "use stdin[:RATE[:CHANNELS]]")])
def test_bad_sources_are_named(spec, message):
    r = subprocess.run([sys.executable, "-m", "visemes", "live", "--source", spec, "--sink", "ws://127.0.0.1:1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 400), st.lists(st.integers(1, 300), min_size=1, max_size=20), st.integers(1, 500))
def test_the_pass_through_delay_line_plays_the_input_late_by_exactly_the_delay(delay, sizes, read):
    from visemes.runtime.passthrough import DelayLine

    line = DelayLine(delay, max_backlog=10**6)
    signal = np.arange(1, sum(sizes) + 1, dtype=np.float32)
    pos = 0
    for n in sizes:
        line.write(signal[pos:pos + n])
        pos += n
    played = np.concatenate([line.read(read) for _ in range(-(-(delay + len(signal)) // read))])
    np.testing.assert_array_equal(played[:delay], 0)
    np.testing.assert_array_equal(played[delay:delay + len(signal)], signal)


def test_pass_through_plays_on_the_output_device_and_bounds_its_backlog(monkeypatch):
    from visemes.runtime import passthrough

    streams = []

    class FakeOut:
        def __init__(self, samplerate, channels, dtype, blocksize, device, callback):
            self.callback, self.device = callback, device
            streams.append(self)

        def start(self):
            pass

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(OutputStream=FakeOut))
    p = passthrough.Passthrough(0.05, device="Speakers", max_backlog_s=0.1)
    for _ in range(100):  # 1 s written while the device reads nothing: only the last 0.1 s is kept
        p.write(np.full(160, 0.5, np.float32))
    out = np.zeros((160, 1), np.float32)
    streams[0].callback(out, 160, None, None)
    assert streams[0].device == "Speakers" and np.all(out == 0.5) and p.line.size <= 1600


# ---------------------------------------------------------------- the WebSocket source under stress

def _source(**kw):
    from visemes.runtime.sources import WebSocketSource

    port = free_tcp_port()
    return WebSocketSource("127.0.0.1", port, **kw), port


def _blocks_until(source, count: int) -> list[np.ndarray]:
    """Non-empty blocks from ``source`` until ``count`` samples arrived (idle blocks are skipped)."""
    got, n = [], 0
    for pcm, _ in source:
        if len(pcm):
            got.append(pcm)
            n += len(pcm)
        if n >= count:
            return got
    return got


def test_one_sender_at_a_time_others_are_refused_and_cannot_end_the_stream():
    from websockets.exceptions import ConnectionClosed

    source, port = _source()
    with ws_connect(port) as first:
        first.send((np.ones(1600, "<i2") * 1000).tobytes())
        assert sum(len(b) for b in _blocks_until(source, 1600)) == 1600
        with ws_connect(port) as second:
            with pytest.raises(ConnectionClosed) as closed:
                second.send(json.dumps({"type": "end"}))
                second.recv(timeout=10)
            assert closed.value.rcvd.code == 1013
        first.send((np.ones(320, "<i2")).tobytes())
        assert sum(len(b) for b in _blocks_until(source, 320)) == 320, "the first sender still streams"
        first.send(json.dumps({"type": "end"}))
    assert [len(b) for b, _ in source if len(b)] == []


def test_a_sender_that_drops_mid_stream_frees_the_source_for_the_next():
    source, port = _source()
    with ws_connect(port) as ws:
        ws.send(np.zeros(800, "<i2").tobytes())
        _blocks_until(source, 800)
        ws.socket.close()  # gone without a closing handshake
    with ws_connect(port) as again:
        again.send(np.zeros(160, "<i2").tobytes())
        assert sum(len(b) for b in _blocks_until(source, 160)) == 160


def test_a_wrong_rate_header_is_answered_with_an_error_and_closed():
    from websockets.exceptions import ConnectionClosed

    source, port = _source()
    with ws_connect(port) as ws:
        ws.send(json.dumps({"rate": 5, "channels": 1}))
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "error" and "8000-192000" in reply["message"]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert source.errors and "rate 5 Hz" in source.errors[0]


def test_audio_the_analysis_cannot_keep_up_with_is_dropped_oldest_first_and_counted():
    source, port = _source(buffer_s=1.0)
    with ws_connect(port) as ws:
        for i in range(6):  # 6 s of audio before anyone reads: only the newest second is kept
            ws.send((np.full(16_000, i, "<i2")).tobytes())
        ws.send(json.dumps({"type": "end"}))
    while not source.buffer.ended:
        time.sleep(0.01)
    kept = [b for b, _ in source if len(b)]
    assert sum(len(b) for b in kept) <= 16_000
    assert np.all(np.round(np.concatenate(kept) * 32768) == 5), "the newest audio is kept"
    assert source.dropped_s == pytest.approx(5.0)


def test_a_token_keeps_strangers_out_of_the_source():
    from websockets.exceptions import InvalidStatus

    source, port = _source(token="s3cret")
    with pytest.raises(InvalidStatus):
        ws_connect(port, "/?token=wrong")
    with ws_connect(port, "/?token=s3cret") as ws:
        ws.send(np.zeros(160, "<i2").tobytes())
        assert sum(len(b) for b in _blocks_until(source, 160)) == 160


def test_duration_is_honoured_when_no_client_ever_sends():
    port, out = free_tcp_port(), free_tcp_port()
    r = subprocess.run([sys.executable, "-m", "visemes", "live", "--source", f"ws://127.0.0.1:{port}",
                        "--sink", f"ws://127.0.0.1:{out}", "--duration", "1", "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_listening_on_every_interface_without_a_token_warns():
    port, out = free_tcp_port(), free_tcp_port()
    r = subprocess.run([sys.executable, "-m", "visemes", "live", "--source", f"ws://0.0.0.0:{port}",
                        "--sink", f"ws://127.0.0.1:{out}", "--duration", "0.5"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "every network interface" in r.stderr
