"""The live monitor page in headless Chromium: its drawn mouth follows the weights streamed to it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SAMPLES

ARTIFACTS = Path(os.environ.get("VISEMES_TEST_ARTIFACTS", ROOT / "test-artifacts"))
MOUTH_COUNT_JS = """
const c = document.getElementById('face');
const d = c.getContext('2d').getImageData(90, 180, 180, 150).data;
let n = 0;
for (let i = 0; i < d.length; i += 4) { if (d[i] < 110 && d[i] > 40 && d[i + 1] < 40 && d[i + 2] < 40) n++; }
const m = window.monitor;
return [m.frames, m.drawnHeight, m.mouthOpen, n];
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    assert browser and driver, "Chromium and its driver are needed (apt-get install chromium chromium-driver)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,800"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture
def live_server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "visemes", "live", "--source", f"file:{SAMPLES / 'hello.wav'}",
                             "--rig", "arkit", "--sink", f"ws://127.0.0.1:{port}", "--monitor", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
    yield url, proc
    proc.kill()
    proc.wait()


def test_the_drawn_mouth_opens_and_closes_with_the_streamed_weights(live_server):
    url, proc = live_server
    browser = _chromium()
    try:
        browser.get(url)
        samples = []
        best = None
        while proc.poll() is None:  # until the file has been played through
            row = browser.execute_script(MOUTH_COUNT_JS)
            samples.append(row)
            if best is None or row[3] > best[3]:
                best = row
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(str(ARTIFACTS / "monitor.png"))
            time.sleep(0.05)
    finally:
        browser.quit()
    frames, height, opening, pixels = (np.array(col, dtype=float) for col in zip(*samples, strict=True))
    live = frames > 0
    assert live.sum() > 40 and frames.max() > 200, "the page received the stream"
    assert pixels[live].max() > 3 * max(pixels[live].min(), 1) + 300, "the drawn mouth opens and closes"
    assert len(np.unique(np.round(height[live]))) > 8
    assert np.corrcoef(opening[live], pixels[live])[0, 1] > 0.8, "what is drawn follows the weights"
    assert (ARTIFACTS / "monitor.png").stat().st_size > 5000


def test_the_page_is_served_only_with_monitor_and_needs_the_token(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "visemes", "live", "--source", f"file:{SAMPLES / 'hello.wav'}",
                             "--sink", f"ws://127.0.0.1:{port}", "--token", "s3cret", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import websockets.sync.client as client

        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            except urllib.error.HTTPError as e:
                assert e.code == 404  # no --monitor: no page
                break
            except OSError:
                time.sleep(0.05)
        with pytest.raises(Exception, match="403"):
            client.connect(f"ws://127.0.0.1:{port}/ws?token=wrong", open_timeout=5)
        with client.connect(f"ws://127.0.0.1:{port}/ws?token=s3cret", open_timeout=5) as ws:
            assert '"type": "hello"' in ws.recv(timeout=5)
            ws.send("not json at all {")  # a malformed message is ignored
            assert '"type": "frame"' in ws.recv(timeout=5)
    finally:
        proc.kill()
        proc.wait()
