"""Robustness of the renderer's invisible watermark on real footage.

    python bench/watermark.py [--frames 75]

For each clip with a face in ../shared/render (GRID, CREMA-D, the Obama addresses): the first FRAMES
frames, marked and unmarked, are encoded with H.264 (libx264, default quality), then re-encoded at a quarter
of that bitrate with ``-map_metadata -1``. Prints the detector's z for each, as Markdown for
docs/benchmarks.md (found above 5).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import tempfile
from pathlib import Path

from visemes.preview import ffmpeg
from visemes.render import video, watermark

SHARED = Path(__file__).resolve().parents[2] / "shared" / "render"


def encode(frames, out: Path) -> float:
    """H.264 at default quality; returns the bitrate in kbit/s."""
    h, w = frames[0].shape[:2]
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                    "-r", "25", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)],
                   input=b"".join(f.tobytes() for f in frames), check=True)
    return out.stat().st_size * 8 / (len(frames) / 25) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=75)
    a = ap.parse_args()
    clips = sorted((SHARED / "grid").glob("*.mpg"))[:3] + sorted((SHARED / "cremad-1001").glob("*.flv"))[:2] + \
        sorted((SHARED / "obama").glob("*.mp4"))[:3]
    print(f"Machine: {platform.machine()}, command: `python bench/watermark.py --frames {a.frames}`\n")
    print("| clip | size | bitrate | z unmarked (re-encoded) | z marked | z marked, re-encoded at 1/4, "
          "metadata stripped |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip in clips:
            frames = [f for _, f in zip(range(a.frames), video.frames(clip), strict=False)]
            row = []
            for marked in (False, True):
                fr = [watermark.embed(f) for f in frames] if marked else frames
                kbps = encode(fr, tmp / "a.mp4")
                subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(tmp / "a.mp4"), "-map_metadata", "-1",
                                "-c:v", "libx264", "-b:v", f"{int(kbps / 4)}k", str(tmp / "b.mp4")], check=True)
                row += [watermark.detect(video.frames(tmp / "a.mp4"))["z"],
                        watermark.detect(video.frames(tmp / "b.mp4"))["z"]]
            h, w = frames[0].shape[:2]
            print(f"| {clip.parent.name}/{clip.name[:28]} | {w}x{h} | {kbps:.0f} kbit/s | {row[1]} | {row[2]} | "
                  f"{row[3]} |")


if __name__ == "__main__":
    main()
