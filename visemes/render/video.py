"""Video in and out through the ffmpeg of ``imageio-ffmpeg``: frames, the audio track, labelled MP4s.

Every MP4 the renderer writes says what it is: a visible "AI-generated" badge
burned into the picture (:func:`burn_label`; it can be moved, and leaving it out
takes an explicit flag that the metadata records), and tags in the container
(``comment``, ``description`` and custom keys such as ``ai_generated`` kept with
``-movflags use_metadata_tags``), read back by :func:`read_tags`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from visemes.errors import file_error
from visemes.preview import ffmpeg, write_mp4

__all__ = ["LABEL", "audio", "burn_label", "ffmpeg", "frames", "probe", "read_tags", "write_mp4"]

LABEL = "AI-generated"
CORNERS = ("bottom-left", "bottom-right", "top-left", "top-right")


def probe(path: str | Path) -> dict:
    """``fps``, ``size`` (w, h), ``frames`` (estimated) and ``audio`` (bool) of a video or image file."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise file_error(path, "no such file")
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
        reader.close()
    except (RuntimeError, OSError, StopIteration) as e:
        raise file_error(path, f"cannot read video ({str(e).strip().splitlines()[-1][:120] if str(e) else e})") \
            from None
    info = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    return {"fps": float(meta.get("fps") or 25.0), "size": tuple(meta["size"]),
            "frames": round(meta.get("duration", 0) * (meta.get("fps") or 25.0)),
            "audio": "Audio:" in info}


def frames(path: str | Path) -> Iterator[np.ndarray]:
    """RGB ``uint8 [H, W, 3]`` frames of a video (or the one frame of an image)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    w, h = meta["size"]
    for raw in reader:
        yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def audio(path: str | Path) -> np.ndarray:
    """The audio track of a video as 16 kHz mono float32."""
    path = Path(path)
    if not probe(path)["audio"]:
        raise file_error(path, "the video has no audio track (the renderer learns from the speech in it)")
    r = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000", "-f", "f32le",
                        "-"], capture_output=True)
    if r.returncode != 0 or not r.stdout:
        raise file_error(path, f"cannot decode its audio ({r.stderr.decode(errors='replace').strip()[-120:]})")
    return np.frombuffer(r.stdout, np.float32).copy()


def burn_label(frame: np.ndarray, corner: str = "bottom-left", text: str = LABEL) -> np.ndarray:
    """``frame`` with a half-transparent badge saying ``text`` in a corner."""
    import cv2

    h, w = frame.shape[:2]
    scale = max(0.35, h / 720)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(4, round(8 * scale))
    x = pad if "left" in corner else w - tw - 3 * pad
    y = pad if "top" in corner else h - th - base - 3 * pad
    out = frame.copy()
    badge = out[y:y + th + base + 2 * pad, x:x + tw + 2 * pad]
    badge[:] = (badge.astype(np.float32) * 0.45).astype(np.uint8)  # darken behind the text
    cv2.putText(out, text, (x + pad, y + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                cv2.LINE_AA)
    return out


def read_tags(path: str | Path) -> dict[str, str]:
    """The container tags of an MP4 (as ffmpeg reads them)."""
    r = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"], capture_output=True,
                       text=True)
    tags = {}
    for line in r.stdout.splitlines():
        if "=" in line and not line.startswith(";"):
            key, _, value = line.partition("=")
            tags[key.strip().lower()] = value.strip()
    return tags
