"""Synthetic training speech with exact phone timings, made here from free synthesizers.

Sources: espeak-ng through its C library (many languages and voice variants,
phoneme events) and Flite's English voices (``-psdur`` phone end times). Texts:
Debian's fortune files (English, German, Spanish, Italian, Brazilian
Portuguese) and random kana for Japanese. Every utterance is padded with
silence, degraded (rooms, noise, bands, codecs, tempo, level) and turned into
log-mel frames with one phone-class label per frame.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .audio import SAMPLE_RATE, resample
from .augment import degrade
from .errors import VisemesError
from .espeak import synthesize
from .features import FPS, log_mel
from .inventory import CLASS_INDEX, VOWELS, arpabet_class, ipa_class

FORTUNES = Path("/usr/share/games/fortunes")
# espeak-ng voice -> (text source, share of espeak utterances)
ESPEAK_LANGUAGES = {
    "en-us": ("en", 0.24), "en-gb-x-rp": ("en", 0.08), "en-gb-scotland": ("en", 0.03), "de": ("de", 0.12),
    "es": ("es", 0.1), "es-419": ("es", 0.04), "it": ("it", 0.1), "pt-br": ("pt", 0.08), "fr": ("en", 0.06),
    "ja": ("kana", 0.08), "nl": ("en", 0.03), "pl": ("en", 0.02), "ru": ("en", 0.02),
}
VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "Andy", "Annie", "Denis", "Gene", "Hugo", "Mario", "Michael", "adam", "anika", "belinda",
            "benjamin", "david", "ed"]
FLITE_VOICES = ["slt", "rms", "awb", "kal16", "kal"]
# espeak-ng's phoneme events come about 8 ms after a forced aligner's boundaries (TRAINING-DATA.md)
ESPEAK_LAG = 0.008
# bump when the labels of the same seeds change, so no cached corpus of older labels is read
LABELS_VERSION = 3
KANA = ("あいうえおかきくけこがぎぐげごさしすせそざじずぜぞたちつてとだでどなにぬねのはひふへほばびぶべぼぱぴぷぺぽ"
        "まみむめもやゆよらりるれろわをんきゃしゅちょにゃりょっ")
IGNORE = -1  # label of frames whose phone maps to no class


@dataclass
class Utterance:
    """Features and labels of one training utterance."""

    feats: np.ndarray  # float16 [frames, N_MELS]
    labels: np.ndarray  # int16 [frames], class index or IGNORE


def load_texts(source: str, limit: int = 20000) -> list[str]:
    """Sentences of 20..160 characters from the fortune files of a language ('en', 'de', 'es', 'it', 'pt')."""
    def text_files(folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        return [p for p in folder.iterdir()
                if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8")]

    files = [FORTUNES / "brasil"] if source == "pt" else text_files(FORTUNES if source == "en" else FORTUNES / source)
    out: list[str] = []
    for f in sorted(files):
        text = f.read_bytes().decode("utf-8", errors="ignore")
        for chunk in text.split("\n%\n"):
            for sent in re.split(r"(?<=[.!?])\s+", " ".join(chunk.split())):
                letters = sum(c.isalpha() for c in sent)
                if 20 <= len(sent) <= 160 and letters > 0.7 * len(sent) and "--" not in sent:
                    out.append(sent)
        if len(out) >= limit:
            break
    if not out:
        raise VisemesError(f"no {source} texts found under {FORTUNES} (install Debian's fortunes packages)")
    return out


def kana_text(rng: np.random.Generator) -> str:
    words = ["".join(rng.choice(list(KANA), size=int(rng.integers(2, 6)))) for _ in range(int(rng.integers(3, 9)))]
    return "、".join(words) + "。"


def frame_labels(segments: list[tuple[float, float, str]], n: int) -> np.ndarray:
    """Class index per frame (frame i at i / FPS) from ``(start, end, class)`` rows."""
    labels = np.full(n, CLASS_INDEX["sil"], dtype=np.int16)
    for start, end, cls in segments:
        a, b = round(start * FPS), round(end * FPS)
        labels[max(0, a):min(n, b)] = CLASS_INDEX[cls] if cls is not None else IGNORE
    return labels


def _classify(label: str, fn) -> str | None:
    try:
        return fn(label)
    except KeyError:
        return None


def speak_espeak(text: str, voice: str, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    utt = synthesize(text, voice, rate=int(rng.integers(120, 230)), pitch=int(rng.integers(25, 80)),
                     pitch_range=int(rng.integers(20, 90)))
    x = resample(utt.samples.astype(np.float32) / 32768.0, utt.sample_rate, SAMPLE_RATE)
    return x, [(max(0.0, s.start - ESPEAK_LAG), max(0.0, s.end - ESPEAK_LAG), _classify(s.label, ipa_class))
               for s in utt.phones.segments]


def speak_flite(text: str, voice: str, tmp: Path) -> tuple[np.ndarray, list]:
    wav = tmp / "flite.wav"
    out = subprocess.run(["flite", "-voice", voice, "-psdur", "-t", text, "-o", str(wav)], capture_output=True,
                         text=True, check=True).stdout
    x, rate = sf.read(wav, dtype="float32")
    segs, t = [], 0.0
    for item in out.split():
        phone, _, end = item.rpartition(":")
        segs.append((t, float(end), _classify(phone, arpabet_class)))
        t = float(end)
    return resample(x, rate, SAMPLE_RATE), segs


def make_utterance(seed: int, clean_share: float = 0.15, flite_share: float = 0.3, hold_share: float = 0.3
                   ) -> Utterance:
    """One random utterance: a voice, a text, silence around it, degradations, features and labels."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        if shutil.which("flite") and rng.random() < flite_share:
            x, segs = speak_flite(str(rng.choice(_texts("en"))), str(rng.choice(FLITE_VOICES)), Path(tmp))
        else:
            langs = list(ESPEAK_LANGUAGES)
            shares = np.array([ESPEAK_LANGUAGES[k][1] for k in langs])
            lang = str(rng.choice(langs, p=shares / shares.sum()))
            source = ESPEAK_LANGUAGES[lang][0]
            text = kana_text(rng) if source == "kana" else str(rng.choice(_texts(source)))
            variant = str(rng.choice(VARIANTS))
            x, segs = speak_espeak(text, f"{lang}+{variant}" if variant else lang, rng)
    lead, tail = rng.uniform(0.05, 0.6, size=2)
    x = np.concatenate([np.zeros(int(lead * SAMPLE_RATE), np.float32), x,
                        np.zeros(int(tail * SAMPLE_RATE), np.float32)])
    segs = [(a + lead, b + lead, c) for a, b, c in segs]
    factor = 1.0
    if rng.random() > clean_share:
        x, factor = degrade(x, rng)
    else:
        x = x * 10 ** (rng.uniform(-20, 0) / 20) / (np.max(np.abs(x)) + 1e-9)
    feats = log_mel(x)
    segs = [(a * factor, b * factor, c) for a, b, c in segs]
    labels = frame_labels(segs, len(feats))
    if rng.random() < hold_share:
        feats, labels = hold_sound(feats, labels, rng)
    return Utterance(feats.astype(np.float16), labels)


HELD = [CLASS_INDEX["m"]]  # the hum of "um", "hmm", "mmm": half the held sounds
HELD_VOWELS = [CLASS_INDEX[c] for c in VOWELS]


def hold_sound(feats: np.ndarray, labels: np.ndarray, rng: np.random.Generator, longest: float = 0.6
               ) -> tuple[np.ndarray, np.ndarray]:
    """Hold one m or vowel for up to ``longest`` seconds by repeating the frames at its middle.

    Synthesizers seldom hold a sound, people do (a hesitant "um", a drawn-out
    "sooo"); a little noise keeps the repeated frames from being identical.
    """
    kinds = HELD if rng.random() < 0.5 else HELD_VOWELS
    edges = np.flatnonzero(np.diff(labels.astype(np.int64), prepend=-1, append=-1))
    runs = [(a, b) for a, b in itertools.pairwise(edges) if labels[a] in kinds and b - a >= 3]
    if not runs:
        return feats, labels
    a, b = runs[rng.integers(len(runs))]
    mid, extra = (a + b) // 2, int(rng.integers(10, int(longest * FPS)))
    held = feats[mid - 1:mid + 1][np.arange(extra) % 2] + rng.normal(0, 0.3, (extra, feats.shape[1]))
    return (np.concatenate([feats[:mid], held.astype(feats.dtype), feats[mid:]]),
            np.concatenate([labels[:mid], np.full(extra, labels[a], labels.dtype), labels[mid:]]))


_TEXT_CACHE: dict[str, list[str]] = {}


def _texts(source: str) -> list[str]:
    if source not in _TEXT_CACHE:
        _TEXT_CACHE[source] = load_texts(source)
    return _TEXT_CACHE[source]
