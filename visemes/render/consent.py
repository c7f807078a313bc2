"""Consent: no renderer is trained on a face without a record of the person's consent.

A consent record is the consenting text (given inline or as a file) with its
SHA-256. ``prepare`` stores it beside the reference footage and its hash;
training copies both into the checkpoint; inference refuses a checkpoint whose
record is missing or does not match its hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from visemes.errors import VisemesError, file_error


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record(consent: str | None) -> dict[str, str]:
    """A consent record from text, or from the path of a text file holding it."""
    if not consent or not consent.strip():
        raise VisemesError("no consent given: --consent \"TEXT\" or --consent FILE, from the person whose face "
                           "this is, is required before their face is prepared or trained on")
    path = Path(consent)
    if len(consent) < 4096 and path.suffix and path.is_file():
        try:
            consent = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise file_error(path, f"cannot read the consent record ({e})") from None
    text = consent.strip()
    if len(text) < 10:
        raise VisemesError("the consent record is too short to say who agreed to what (10 characters at least)")
    return {"text": text, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def check(rec: object, what: str) -> dict[str, str]:
    """``rec`` if it is a whole consent record whose hash matches its text; else a clear error about ``what``."""
    if not isinstance(rec, dict) or not rec.get("text") or not rec.get("sha256"):
        raise VisemesError(f"{what}: no consent record; refusing to use it")
    if hashlib.sha256(str(rec["text"]).encode("utf-8")).hexdigest() != rec["sha256"]:
        raise VisemesError(f"{what}: the consent record does not match its hash; refusing to use it")
    return rec
