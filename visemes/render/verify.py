"""``visemes render verify FILE``: what says that a video came from the renderer.

Three independent marks, so that one removed is not all removed: the container tags (with the visible
label's setting), a C2PA manifest when the video was signed, and the invisible watermark in the pixels
(:mod:`visemes.render.watermark`), which survives re-encoding and ``ffmpeg -map_metadata -1``.
"""

from __future__ import annotations

from pathlib import Path

from visemes.errors import VisemesError, file_error

from . import provenance, video, watermark

TAGS = ("ai_generated", "generator", "comment", "label", "consent_sha256", "reference_sha256", "watermark")


def verify(path: str | Path) -> dict:
    """The tags, C2PA manifest and watermark of a video; ``ai_generated`` is True when any of them says so.

    Raises
    ------
    VisemesError
        When the file is missing or is not a video ffmpeg can read.
    """
    path = Path(path)
    if not path.is_file():
        raise file_error(path, "no such video")
    info = video.probe(path)  # a file ffmpeg cannot read fails here, with its name
    tags = {k: v for k, v in video.read_tags(path).items() if k in TAGS}
    try:
        manifest, state = provenance.read(path)
    except VisemesError:  # c2pa-python missing: say so rather than fail
        manifest, state = None, "not checked (pip install 'visemes[render]')"
    mark = watermark.detect(video.frames(path))
    c2pa = {"state": state, "generator": (manifest or {}).get("claim_generator")} if manifest or state else None
    return {"file": str(path), "frames": info["frames"], "tags": tags or None, "c2pa": c2pa, "watermark": mark,
            "ai_generated": bool(tags.get("ai_generated") == "true" or manifest or mark["found"])}
