"""The invisible watermark: invisible (a few grey levels), found after re-encoding at a quarter of the
bitrate with the metadata stripped, and not found in video that never carried it."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from visemes.preview import ffmpeg
from visemes.render import video, watermark


def footage(n: int = 50, size: tuple[int, int] = (288, 360), seed: int = 0) -> list[np.ndarray]:
    """A talking-head-like clip made by code: a smooth lit background, a face-coloured ellipse with a
    mouth that opens and closes, a little camera noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    background = 90 + 60 * np.sin(xx / 47) * np.cos(yy / 61) + 30 * (yy / h)
    face = ((xx - w / 2) / (w / 5)) ** 2 + ((yy - h / 2) / (h / 3)) ** 2 < 1
    frames = []
    for i in range(n):
        img = np.repeat(background[..., None], 3, axis=2) * np.array([0.8, 0.9, 1.0])
        img[face] = [200, 160, 140]
        opening = 4 + 10 * abs(np.sin(i / 4))
        mouth = ((xx - w / 2) / (w / 14)) ** 2 + ((yy - h * 0.62) / opening) ** 2 < 1
        img[mouth] = [70, 20, 25]
        img += rng.normal(0, 2, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def encode(frames: list[np.ndarray], out, extra: tuple[str, ...] = ()) -> None:
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25",
           "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", *extra, str(out)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)


def reencode_quarter(src, out) -> None:
    kbps = src.stat().st_size * 8 / video.probe(src)["frames"] * 25 / 1000
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(src), "-map_metadata", "-1", "-c:v", "libx264",
                    "-b:v", f"{max(20, int(kbps / 4))}k", str(out)], check=True)


def test_the_mark_moves_no_pixel_by_more_than_a_few_grey_levels():
    frame = footage(1)[0]
    marked = watermark.embed(frame)
    diff = np.abs(marked.astype(int) - frame)
    assert diff.max() <= np.ceil(watermark.STRENGTH) and 1.5 < diff.mean() < watermark.STRENGTH + 0.5


@pytest.mark.parametrize("size", [(288, 360), (720, 1280)])
def test_the_mark_survives_reencoding_at_a_quarter_of_the_bitrate_without_metadata(tmp_path, size):
    frames = footage(40, size)
    encode([watermark.embed(f) for f in frames], tmp_path / "marked.mp4", ("-metadata", "comment=AI"))
    reencode_quarter(tmp_path / "marked.mp4", tmp_path / "low.mp4")
    assert video.read_tags(tmp_path / "low.mp4").get("comment") is None
    assert watermark.detect(video.frames(tmp_path / "marked.mp4"))["found"]
    found = watermark.detect(video.frames(tmp_path / "low.mp4"))
    assert found["found"] and found["frames"] == 40, found


def test_video_without_the_mark_is_not_flagged(tmp_path):
    for seed in range(3):
        encode(footage(30, seed=seed), tmp_path / "plain.mp4")
        assert abs(watermark.detect(video.frames(tmp_path / "plain.mp4"))["z"]) < 3


def test_another_key_does_not_read_our_mark():
    marked = [watermark.embed(f) for f in footage(10)]
    assert watermark.detect(marked)["found"]
    assert not watermark.detect(marked, key=watermark.KEY + 1000)["found"]
