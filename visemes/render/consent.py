"""Consent: no renderer is trained on a face without a record of the person's consent.

A consent record is a small JSON object that names the person and the use they
agreed to (given inline or as a file), with a SHA-256 over its fields. ``prepare``
stores it beside the reference footage and the footage's hash; training copies
both into the checkpoint; inference refuses a checkpoint whose record is missing,
names nobody, or does not match its hash. A hash shows that a record was not
changed after the fact, not who wrote it: a signed C2PA manifest (``--c2pa``) is
what ties a video to a signer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from visemes.errors import VisemesError, file_error
from visemes.fileio import read_input


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


FIELDS = {"person": 200, "use": 2000, "date": 40, "statement": 20_000, "contact": 400}  # field: longest
REQUIRED = ("person", "use")
EXAMPLE = '{"person": "Ada Lovelace", "use": "re-animate my mouth for the visemes demo video", "date": "2026-12-06"}'


def record(consent: str | None) -> dict[str, str]:
    """A consent record from JSON text, or from the path of a JSON file holding it.

    The record names the ``person`` whose face it is and the ``use`` they agreed to (both required), and
    may add ``date``, ``statement`` (their own words) and ``contact``. Free text is not a record: nobody
    could tell who agreed to what. The record's SHA-256 covers every field.
    """
    if not consent or not consent.strip():
        raise VisemesError("no consent given: --consent FILE.json (or the JSON itself), from the person whose face "
                           f"this is, is required before their face is prepared or trained on, e.g. {EXAMPLE}")
    path = Path(consent)
    where = "the consent record"
    if len(consent) < 4096 and path.suffix and path.is_file():
        where = str(path)
        try:
            consent = read_input(path, "consent record", 1 << 20).decode("utf-8")
        except UnicodeDecodeError as e:
            raise file_error(path, f"cannot read the consent record ({e})") from None
    try:
        data = json.loads(consent)
    except (ValueError, RecursionError):
        raise VisemesError(f"{where}: a consent record is JSON that names the person and the use they agreed to, "
                           f"e.g. {EXAMPLE}") from None
    return _validated(data, where)


def _validated(data: object, where: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise VisemesError(f"{where}: expected a JSON object such as {EXAMPLE}")
    unknown = set(data) - set(FIELDS) - {"sha256"}
    if unknown:
        raise VisemesError(f"{where}: unknown field {sorted(unknown)[0]!r} (fields: {', '.join(FIELDS)})")
    fields = {}
    for key, longest in FIELDS.items():
        value = data.get(key)
        if value is None and key not in REQUIRED:
            continue
        if not isinstance(value, str) or not value.strip():
            raise VisemesError(f"{where}: '{key}' must name {'who agreed' if key == 'person' else 'what to'}"
                               if key in REQUIRED else f"{where}: '{key}' must be text")
        if len(value) > longest:
            raise VisemesError(f"{where}: '{key}' is longer than {longest} characters")
        fields[key] = value.strip()
    return {**fields, "sha256": digest(fields)}


def digest(fields: dict[str, str]) -> str:
    """SHA-256 of the record's fields (canonical JSON: sorted keys, UTF-8)."""
    canon = json.dumps({k: fields[k] for k in sorted(fields) if k in FIELDS}, ensure_ascii=False,
                       separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def check(rec: object, what: str) -> dict[str, str]:
    """``rec`` if it is a whole consent record (a named person and use) whose hash matches its fields; else a
    clear error about ``what``."""
    if not isinstance(rec, dict) or not rec.get("sha256"):
        raise VisemesError(f"{what}: no consent record; refusing to use it")
    if not all(isinstance(rec.get(k), str) and rec[k].strip() for k in REQUIRED):
        raise VisemesError(f"{what}: the consent record names no person or no use; refusing to use it")
    if digest(rec) != rec["sha256"]:
        raise VisemesError(f"{what}: the consent record does not match its hash; refusing to use it")
    return rec
