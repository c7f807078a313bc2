"""Timing inputs: phone and viseme timings that TTS engines and tools already give.

Supported, detected by content (never by file name):

- ``rhubarb-tsv``  Rhubarb Lip Sync TSV: ``time<TAB>shape`` change points, the last line the end
- ``rhubarb-json`` Rhubarb JSON: ``{"metadata": {...}, "mouthCues": [{start, end, value}]}``
- ``rhubarb-xml``  Rhubarb XML: ``<rhubarbResult>...<mouthCue start end>X</mouthCue>``
- ``azure``        Azure Speech viseme events: JSON list of ``{audioOffset (100-ns ticks), visemeId}``
- ``polly``        Amazon Polly speech marks: JSON lines ``{"time": ms, "type": "viseme", "value": V}``
- ``textgrid``     Praat TextGrid (long or short text form): the phone tier
- ``phones-tsv``   plain TSV ``start end phone`` (IPA, ARPAbet, X-SAMPA, kana or pinyin phones,
                   or the 15 visemes, optionally with a 4th confidence column)

Every reader returns a :class:`~visemes.tracks.Track` of phones or visemes.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree

from .errors import VisemesError, file_error
from .fileio import read_input
from .limits import check_duration, max_duration
from .phones import VISEMES, guess_phone_set, is_silence, phone_to_viseme
from .tracks import Segment, Track, make_contiguous, merge_repeats

# Rhubarb shapes as visemes (the inverse of the rhubarb rig profile's shape table where it is unique).
RHUBARB_SHAPE_VISEME = {"A": "PP", "B": "DD", "C": "E", "D": "aa", "E": "oh", "F": "ou", "G": "FF", "H": "nn",
                        "X": "sil"}
AZURE_VISEME = {
    0: "sil", 1: "aa", 2: "aa", 3: "oh", 4: "E", 5: "RR", 6: "ih", 7: "ou", 8: "oh", 9: "aa", 10: "oh",
    11: "aa", 12: None, 13: "RR", 14: "nn", 15: "SS", 16: "CH", 17: "TH", 18: "FF", 19: "DD", 20: "kk", 21: "PP",
}
POLLY_VISEME = {"sil": "sil", "p": "PP", "t": "DD", "S": "CH", "T": "TH", "f": "FF", "k": "kk", "i": "ih",
                "r": "RR", "s": "SS", "u": "ou", "@": "aa", "a": "aa", "e": "E", "E": "E", "o": "oh", "O": "oh"}
AZURE_TICKS_PER_S = 10_000_000
TAIL_S = 0.15  # how long the last event of an onset-only format lasts
MAX_TIMING_BYTES = 64 << 20  # hours of phones fit in a few MB; more is not a timing file
DETECT_LINES = 200

FORMATS = ("rhubarb-tsv", "rhubarb-json", "rhubarb-xml", "azure", "polly", "textgrid", "phones-tsv")
EXPECTED = "a Rhubarb TSV/JSON/XML, Azure viseme JSON, Polly speech marks, Praat TextGrid or 'start end phone' TSV"


def read_timing(path: str | Path, duration: float | None = None) -> Track:
    """Read a timing file of any supported kind.

    Parameters
    ----------
    path : str or Path
    duration : float, optional
        Length of the matching audio, when known: extends the end with silence.

    Returns
    -------
    Track
        Phones (with their phone set) or visemes, contiguous from 0.

    Raises
    ------
    VisemesError
        ``PATH: problem`` for unreadable, empty or unrecognised files.
    """
    path = Path(path)
    text = _read_text(path)
    try:
        fmt = detect_format(text)
    except RecursionError:
        raise file_error(path, "JSON nested too deeply to be a timing file") from None
    if fmt is None:
        raise file_error(path, f"not a timing file this tool reads (expected {EXPECTED})")
    try:
        track = READERS[fmt](text)
        for s in track.segments:
            if not (math.isfinite(s.start) and math.isfinite(s.end)):
                raise ValueError(f"{s.label!r} has a time that is not a number")
        if track.segments:
            check_duration(max(s.end for s in track.segments), "the timing")
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError, RecursionError,
            ElementTree.ParseError, VisemesError) as e:
        raise file_error(path, f"looks like {fmt} but cannot be read: {_why(e)}") from None
    if not track.segments:
        raise file_error(path, f"{fmt} file with no timed entries")
    track.segments = make_contiguous(track.segments, duration=duration)
    return track


def _why(e: Exception) -> str:
    if isinstance(e, KeyError):
        return f"unknown label {e.args[0]!r}"
    if isinstance(e, RecursionError):
        return "nested too deeply"
    if isinstance(e, (AttributeError, TypeError)):
        return "an entry has the wrong shape (expected objects with times and labels)"
    return str(e) or type(e).__name__


def _read_text(path: Path) -> str:
    raw = read_input(path, "timing file", MAX_TIMING_BYTES)
    if not raw.strip():
        raise file_error(path, "empty file")
    for bom, enc in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"), (b"\xef\xbb\xbf", "utf-8")):
        if raw.startswith(bom):
            return raw[len(bom):].decode(enc, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise file_error(path, f"binary data, not a timing file (expected {EXPECTED})") from None


def detect_format(text: str) -> str | None:
    """Name of the timing format ``text`` is in, or None."""
    s = text.lstrip()
    if s.startswith("File type") or ('"ooTextFile"' in s[:200] and "TextGrid" in s[:200]):
        return "textgrid"
    if s.startswith("<"):
        return "rhubarb-xml" if "<rhubarbResult" in s[:500] or "<mouthCues" in s else None
    first = s.splitlines()[0].strip() if s else ""
    if (first.startswith("{") and not first.endswith("}")) or s.startswith("["):
        return _detect_json(s)
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except ValueError:
            return _detect_json(s)
        if isinstance(obj, dict) and "type" in obj and "time" in obj:
            return "polly"
        return _detect_json(s)
    return _detect_columns(s)


def _detect_json(s: str) -> str | None:
    try:
        obj = json.loads(s)
    except ValueError:
        return None
    if isinstance(obj, dict) and "mouthCues" in obj:
        return "rhubarb-json"
    events = _azure_events(obj)
    if events and all(_azure_key(e, "offset") is not None and _azure_key(e, "viseme") is not None for e in events):
        return "azure"
    return None


def _detect_columns(s: str) -> str | None:
    # the first lines decide: splitting every line of a large file here would copy it several times over
    rows = [ln.split() for ln in itertools.islice(_lines(s), DETECT_LINES)]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]  # a header line
    if not rows:
        return None
    if all(len(r) == 2 and _is_number(r[0]) and r[1] in RHUBARB_SHAPE_VISEME for r in rows):
        return "rhubarb-tsv"
    if all(len(r) >= 3 and _is_number(r[0]) and _is_number(r[1]) for r in rows):
        return "phones-tsv"
    return None


def _is_number(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


def _onsets_to_segments(onsets: list[tuple[float, str | None]], end: float | None = None) -> list[Segment]:
    """Change points (time, label) -> segments; ``None`` labels continue the previous label."""
    onsets = sorted(onsets, key=lambda x: x[0])
    out, prev = [], "sil"
    for i, (t, lab) in enumerate(onsets):
        lab = lab if lab is not None else prev
        nxt = onsets[i + 1][0] if i + 1 < len(onsets) else (end if end is not None else t + TAIL_S)
        if nxt > t:
            out.append(Segment(t, nxt, lab))
        prev = lab
    return merge_repeats(out)


def read_rhubarb_tsv(text: str) -> Track:
    rows = [ln.split() for ln in _lines(text)]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]
    points = [(float(t), RHUBARB_SHAPE_VISEME[shape]) for t, shape in rows]
    # the last line marks the end of the recording
    return Track(_onsets_to_segments(points[:-1], end=points[-1][0]) if len(points) > 1 else [], "visemes")


def read_rhubarb_json(text: str) -> Track:
    cues = json.loads(text)["mouthCues"]
    return Track([Segment(float(c["start"]), float(c["end"]), RHUBARB_SHAPE_VISEME[c["value"]]) for c in cues],
                 "visemes")


def read_rhubarb_xml(text: str) -> Track:
    root = ElementTree.fromstring(text)
    cues = root.iter("mouthCue")
    return Track([Segment(float(c.get("start")), float(c.get("end")), RHUBARB_SHAPE_VISEME[(c.text or "").strip()])
                  for c in cues], "visemes")


def _azure_events(obj) -> list | None:
    if isinstance(obj, dict):
        lists = [v for v in obj.values() if isinstance(v, list)]
        obj = lists[0] if len(lists) == 1 else None
    if isinstance(obj, list) and obj and all(isinstance(e, dict) for e in obj):
        return obj
    return None


def _azure_key(event: dict, what: str):
    names = {"offset": ("audiooffset", "audio_offset", "offset"), "viseme": ("visemeid", "viseme_id", "viseme")}
    for k, v in event.items():
        if k.lower() in names[what]:
            return v
    return None


def read_azure(text: str) -> Track:
    events = _azure_events(json.loads(text)) or []
    onsets = []
    for e in events:
        vid = int(_azure_key(e, "viseme"))
        if vid not in AZURE_VISEME:
            raise ValueError(f"viseme id {vid} is not an Azure viseme id (0..21)")
        onsets.append((float(_azure_key(e, "offset")) / AZURE_TICKS_PER_S, AZURE_VISEME[vid]))
    return Track(_onsets_to_segments(onsets), "visemes")


def read_polly(text: str) -> Track:
    onsets = []
    for line in text.splitlines():
        if not line.strip():
            continue
        mark = json.loads(line)
        if not isinstance(mark, dict):
            raise ValueError(f"line {line[:40]!r} is not a speech mark object")
        if mark.get("type") != "viseme":
            continue
        value = str(mark["value"])
        viseme = POLLY_VISEME.get(value)
        if viseme is None:  # other languages add symbols: Polly's letters are X-SAMPA-like
            viseme = phone_to_viseme(value, "xsampa")
        onsets.append((float(mark["time"]) / 1000.0, viseme))
    return Track(_onsets_to_segments(onsets), "visemes")


# a bracketed index such as [3] is skipped; stopping at the next "[" keeps a run of unclosed brackets linear
_TG_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|<(exists|absent)>|\[[^\][]*\]')
_PHONE_TIER = re.compile(r"phon|seg|^phn$|^mau$", re.IGNORECASE)


def parse_textgrid(text: str) -> list[tuple[str, list[tuple[float, float, str]]]]:
    """Interval tiers of a TextGrid (long or short form) as ``[(name, [(xmin, xmax, text)])]``."""
    tokens = []
    for m in _TG_TOKEN.finditer(text):
        if m.group(1) is not None:
            tokens.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:
            tokens.append(float(m.group(2)))
        elif m.group(3) is not None:
            tokens.append(m.group(3))
    try:
        return _textgrid_tiers(iter(tokens))
    except StopIteration:
        raise ValueError("the TextGrid ends early") from None


def _textgrid_tiers(it) -> list[tuple[str, list[tuple[float, float, str]]]]:
    if next(it) != "ooTextFile" or next(it) != "TextGrid":
        raise ValueError("not a TextGrid")
    next(it), next(it)  # xmin, xmax
    if next(it) != "exists":
        return []
    tiers = []
    for _ in range(int(next(it))):
        cls, name = next(it), next(it)
        next(it), next(it)
        count = int(next(it))
        if cls == "IntervalTier":
            tiers.append((str(name), [(float(next(it)), float(next(it)), str(next(it))) for _ in range(count)]))
        else:
            for _ in range(2 * count):
                next(it)
    return tiers


def read_textgrid(text: str) -> Track:
    tiers = parse_textgrid(text)
    if not tiers:
        raise ValueError("no interval tier")
    named = [t for t in tiers if _PHONE_TIER.search(t[0])]
    _, intervals = named[0] if named else max(tiers, key=lambda t: len(t[1]))
    return _phones_track([(a, b, lab.strip() or "sil") for a, b, lab in intervals])


def _lines(text: str) -> Iterator[str]:
    """Lines that are neither blank nor comments, one at a time (no list of the whole file)."""
    for line in io.StringIO(text):
        if line.strip() and not line.lstrip().startswith("#"):
            yield line.rstrip("\r\n")


def read_phones_tsv(text: str) -> Track:
    rows = []
    limit = max_duration()
    for line in _lines(text):
        parts = line.split("\t") if "\t" in line else line.split()
        if not _is_number(parts[0]):
            if rows:
                raise ValueError(f"line {line!r} is not 'start end phone'")
            continue  # header
        conf = float(parts[3]) if len(parts) > 3 and _is_number(parts[3]) else 1.0
        rows.append((float(parts[0]), float(parts[1]), parts[2].strip(), conf))
        if rows[-1][1] > limit:  # stop at the first row past the limit, before the rest is read
            check_duration(rows[-1][1], "the timing")
    return _phones_track(rows)


def _phones_track(rows: list[tuple]) -> Track:
    """Rows of visemes stay visemes; otherwise they are phones of the best-fitting phone set."""
    segs = [Segment(r[0], r[1], r[2], r[3] if len(r) > 3 else 1.0) for r in rows]
    for s in segs:
        if s.end < s.start:
            raise ValueError(f"segment {s.label!r} ends ({s.end}) before it starts ({s.start})")
    labels = {s.label for s in segs}
    if labels <= set(VISEMES):
        return Track(segs, "visemes")
    phone_set = guess_phone_set(labels)
    for lab in labels:
        if not is_silence(lab):
            phone_to_viseme(lab, phone_set)  # KeyError names a phone no table knows
    return Track(segs, "phones", phone_set)


READERS: dict[str, Callable[[str], Track]] = {
    "rhubarb-tsv": read_rhubarb_tsv, "rhubarb-json": read_rhubarb_json, "rhubarb-xml": read_rhubarb_xml,
    "azure": read_azure, "polly": read_polly, "textgrid": read_textgrid, "phones-tsv": read_phones_tsv,
}
