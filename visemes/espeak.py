"""espeak-ng through its C library: speech with the time of every phoneme.

The command-line ``espeak-ng`` gives no phone timings; the library does, as
phoneme events in its synthesis callback (IPA names, sample positions). Used
to make the bundled samples and synthetic training speech, and for offline
phonemisation in many languages. Needs Debian's ``espeak-ng`` (libespeak-ng1).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np

from .errors import VisemesError
from .inventory import VOWELS, ipa_class
from .tracks import Segment, Track, make_contiguous, merge_repeats

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA, _INIT_DONT_EXIT = 0x0001, 0x0002, 0x8000
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_END, _EVENT_PHONEME = 0, 1, 5, 7
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_lock = threading.Lock()
_lib = None
_rate = 0


@dataclass
class Utterance:
    """Synthesised speech and its phone timings."""

    samples: np.ndarray  # int16 mono
    sample_rate: int
    phones: Track  # IPA phones, contiguous, pauses as "sil"
    words: list[tuple[float, int, int]]  # (time, text offset, length in characters)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def _library():
    global _lib, _rate
    if _lib is None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            raise VisemesError("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)") from None
        lib.espeak_Initialize.restype = ctypes.c_int
        _rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                      _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
        if _rate <= 0:
            raise VisemesError("espeak-ng could not start (its data folder is missing?)")
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        _lib = lib
    return _lib


def synthesize(text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50, pitch_range: int = 50) -> Utterance:
    """Speak ``text`` with an espeak-ng ``voice`` (e.g. ``"en-us"``, ``"de+f3"``) and time its phones.

    Phone segments run from one phoneme event to the next; stretches where no
    phoneme sounds (pauses between clauses, the silence at either end) are ``sil``.
    """
    with _lock:
        lib = _library()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise VisemesError(f"espeak-ng has no voice '{voice}'")
        for param, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range)):
            lib.espeak_SetParameter(param, int(value), 0)
        chunks: list[np.ndarray] = []
        events: list[tuple[int, int, str, int, int]] = []

        def callback(wav, n, ev):
            if n > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            i = 0
            while ev[i].type != _EVENT_LIST_TERMINATED:
                e = ev[i]
                if e.type == _EVENT_PHONEME:
                    events.append((e.sample, e.type, e.id.string.decode("utf-8", "replace"), 0, 0))
                elif e.type == _EVENT_WORD:
                    events.append((e.sample, e.type, "", e.text_position, e.length))
                elif e.type == _EVENT_END:
                    events.append((e.sample, e.type, "_", 0, 0))
                i += 1
            return 0

        cb = _CALLBACK(callback)
        lib.espeak_SetSynthCallback(cb)
        data = text.encode("utf-8") + b"\0"
        if lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8, None, None) != 0:
            raise VisemesError(f"espeak-ng failed to speak {text[:40]!r}")
        lib.espeak_Synchronize()
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    phones = _phone_track(events, _rate, len(samples), rhotic=voice.split("+")[0] in _RHOTIC_VOICES)
    return Utterance(samples, _rate, _trim_pauses(phones, samples, _rate),
                     [(s / _rate, pos, length) for s, t, _, pos, length in events if t == _EVENT_WORD])


# American voices write the r-coloured vowel of "word" as ɜː; elsewhere (German -er, British English) ɜ has
# no r colour
_RHOTIC_VOICES = {"en-us"}


def _phone_track(events, rate: int, n_samples: int, rhotic: bool = False) -> Track:
    """Phoneme events -> contiguous phone segments; clause ends and pause marks become silence."""
    onsets = [(s / rate, "sil" if t == _EVENT_END or name.strip().startswith(("_", "|")) else name.strip())
              for s, t, name, _, _ in events if t in (_EVENT_PHONEME, _EVENT_END)]
    onsets = [(t, "ɝ" if rhotic and p.startswith("ɜ") else p) for t, p in onsets if p]
    end = n_samples / rate
    segs = [Segment(t, onsets[i + 1][0] if i + 1 < len(onsets) else end, p) for i, (t, p) in enumerate(onsets)]
    segs = [part for s in segs if s.end > s.start for part in split_compound(s)]
    return Track(make_contiguous(segs, duration=end), "phones", "ipa")


# espeak-ng names an r-coloured vowel or a syllabic l as one phoneme ("ɑːɹ", "ɛɹ", "aɪɚ", "əl"); the mouth
# passes through two shapes there, and aligners and annotators write two phones
_COMPOUND_TAILS = ("ɹ", "ɚ", "l")
_VOWEL_SHARE = 0.6


def split_compound(seg: Segment) -> list[Segment]:
    """A vowel+r or vowel+l phoneme as the vowel, then the consonant; any other phone unchanged."""
    head, tail = seg.label[:-1], seg.label[-1:]
    try:
        is_compound = tail in _COMPOUND_TAILS and bool(head) and ipa_class(head) in VOWELS
    except KeyError:
        is_compound = False
    if not is_compound:
        return [seg]
    cut = seg.start + _VOWEL_SHARE * (seg.end - seg.start)
    return [Segment(seg.start, cut, head, seg.confidence), Segment(cut, seg.end, tail, seg.confidence)]


def _trim_pauses(track: Track, samples: np.ndarray, rate: int, quiet_db: float = -40.0,
                 min_pause: float = 0.06, min_inner_pause: float = 0.1) -> Track:
    """Cut a long quiet tail off a phone: that tail is a pause.

    espeak-ng reports a clause end only after the pause that follows it (and
    sometimes on the same sample as the next phoneme), so the last phone of
    each clause would otherwise swallow the pause. Before a known clause end a
    shorter quiet tail counts; elsewhere it must outlast a stop closure.
    """
    hop = rate // 200
    x = samples.astype(np.float64)
    n = len(x) // hop
    if n == 0:
        return track
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-9)
    quiet = 20 * np.log10(rms / rms.max()) < quiet_db
    segs = list(track.segments)
    out = []
    for i, seg in enumerate(segs):
        before_pause = i + 1 == len(segs) or segs[i + 1].label == "sil"
        a, b = int(seg.start * rate) // hop, min(n, int(seg.end * rate) // hop)
        if seg.label == "sil" or b <= a:
            out.append(seg)
            continue
        loud = np.flatnonzero(~quiet[a:b])
        cut = float((a + loud[-1] + 1) * hop / rate) if len(loud) else seg.start
        if seg.end - cut >= (min_pause if before_pause else min_inner_pause) and cut > seg.start:
            out += [Segment(seg.start, cut, seg.label), Segment(cut, seg.end, "sil")]
        else:
            out.append(seg)
    return Track(merge_repeats(out), "phones", "ipa")

