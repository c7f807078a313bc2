"""Audio engines behind one interface: 16 kHz samples in, timed visemes (and phones) out.

- ``neural`` (default): our network, shipped in the package; offline or causal mode;
  with a transcript, the words are phonemised by espeak-ng and force-aligned.
- ``pocketsphinx``: CMU PocketSphinx phone recognition (English; its model ships in the
  PyPI package): an honest baseline. With a transcript it aligns the words instead.
- ``allosaurus``: universal phone recognition, only with a model the user provides.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import mandarin
from .decoding import align, free_phones, viseme_posteriors, viterbi_segments
from .errors import VisemesError
from .features import FPS, log_mel
from .inventory import CLASS_INDEX, CLASSES, ipa_class
from .tracks import Segment, Track, make_contiguous, merge_repeats, phones_to_visemes

WEIGHTS = Path(__file__).parent / "weights" / "visemes-net.pt"
ENGINES = ("neural", "pocketsphinx", "allosaurus")
MODES = ("offline", "causal")
MAX_ALIGNMENT_CELLS = 100_000_000  # frames x phones: about three bytes each for the alignment's back-pointers
# language code -> espeak-ng voice for phonemising transcripts
ESPEAK_VOICES = {"en": "en-us", "en-us": "en-us", "en-gb": "en-gb-x-rp", "es": "es", "fr": "fr", "de": "de",
                 "it": "it", "pt": "pt-br", "pt-br": "pt-br", "pt-pt": "pt", "ja": "ja", "zh": "cmn", "nl": "nl",
                 "pl": "pl", "ru": "ru", "ko": "ko", "sv": "sv", "tr": "tr"}
UNREAD = "*"  # a word of the transcript with unknown sounds: aligned to whatever phones the audio holds
UNREAD_COST = 2.0  # nats per frame


@dataclass
class Analysis:
    """What an engine found in one utterance."""

    visemes: Track
    phones: Track | None = None
    warnings: list[str] = field(default_factory=list)


@lru_cache(maxsize=3)
def load_network(mode: str = "offline", path: Path = WEIGHTS):
    """The shipped network for ``mode``, on the CPU, ready for inference: ``offline`` and ``causal`` give phone
    class posteriors; ``live`` (the live runtime's head, 20 ms lookahead) gives the 15-viseme animation blend."""
    import torch

    from .model import ModelConfig, PhoneNet

    if not path.is_file():
        raise VisemesError(f"{path}: model weights are missing (train them with 'python -m visemes.train')")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if list(blob["classes"]) != list(CLASSES):
        raise VisemesError(f"{path}: weights were trained for another phone inventory")
    if mode not in blob:
        raise VisemesError(f"{path}: these weights have no {mode} network (train it: python -m visemes.live_train)")
    config = ModelConfig.from_dict(blob.get(f"{mode}_config", blob["config"]))
    net = PhoneNet(config, causal=mode != "offline")
    net.load_state_dict(blob[mode])
    net.eval()
    return net


def neural(samples: np.ndarray, mode: str = "offline", transcript: str | None = None,
           language: str | None = None) -> Analysis:
    """Our network: posteriors -> smoothed visemes, or forced alignment to a transcript."""
    from .model import class_posteriors

    probs = class_posteriors(load_network(mode), log_mel(samples))
    if transcript:
        return _aligned(probs, transcript, language or "en")
    return Analysis(viterbi_segments(viseme_posteriors(probs)))


# scripts an espeak-ng voice cannot read: it skips them or spells them in another language
_UNREADABLE = {"ja": re.compile("([\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")}  # kanji


@lru_cache(maxsize=1)
def _japanese_tokenizer():
    """janome's tokenizer (its dictionary ships in the wheel), or None where it is not installed."""
    try:
        from janome.tokenizer import Tokenizer
    except ImportError:
        return None
    return Tokenizer()


def _kana(text: str) -> str:
    """Japanese ``text`` with each word the dictionary knows in katakana as it is spoken.

    A kanji's reading depends on the word around it (買 in 買わ is "ka"), so whole
    words are looked up; particles take their spoken form (は as ワ). Unknown
    words stay as written. Without janome the text comes back unchanged.
    """
    tokenizer = _japanese_tokenizer()
    if tokenizer is None:
        return text
    return "".join(t.surface if t.phonetic == "*" else t.phonetic for t in tokenizer.tokenize(text))


_READERS = {"ja": _kana}  # text a voice reads better once rewritten
MANDARIN = frozenset({"zh", "cmn", "zh-cn", "zh-hans", "zh-hant", "zh-tw"})


def phonemise(text: str, language: str) -> tuple[list[list[str]], list[str]]:
    """IPA phones of each word of ``text`` by espeak-ng, and the words it could not phonemise.

    Japanese kanji are first rewritten in kana where janome is installed; Mandarin hanzi are read through
    their pinyin where pypinyin is (:mod:`visemes.mandarin`), since espeak-ng reads them as letters. A word
    espeak-ng still cannot read in ``language`` is reported and stands as
    ``[UNREAD]``: its sounds are unknown.
    """
    voice = ESPEAK_VOICES.get(language.lower(), language)
    text = _READERS.get(language.lower(), str)(text)
    mandarin_text = language.lower() in MANDARIN
    unreadable = mandarin.HANZI if mandarin_text else _UNREADABLE.get(language.lower())
    parts = unreadable.split(text) if unreadable else [text]
    words: list[list[str]] = []
    missing: list[str] = []
    for k, part in enumerate(parts):
        if k % 2 and mandarin_text:  # hanzi, read through their pinyin
            found, lost = _hanzi_words(part)
        elif k % 2:  # what the pattern matched: espeak-ng cannot read it
            found, lost = [[UNREAD]], [part]
        elif part.strip():
            found, lost = _espeak_words(part, voice)
        else:
            continue
        words += [w for w in found if w != [UNREAD] or not words or words[-1] != [UNREAD]]  # one per stretch
        missing += lost
    return words, list(dict.fromkeys(missing))


def _hanzi_words(hanzi: str) -> tuple[list[list[str]], list[str]]:
    """One word per character, read through its pinyin; without pypinyin, or for a character it does not
    know, the sounds are unknown (and reported)."""
    if not mandarin.available():
        return [[UNREAD]], [hanzi]
    read = mandarin.read(hanzi)
    return [phones or [UNREAD] for phones in read], [c for c, phones in zip(hanzi, read, strict=True) if not phones]


def _espeak_words(text: str, voice: str) -> tuple[list[list[str]], list[str]]:
    from .espeak import synthesize

    utt = synthesize(text, voice)
    word_times = [t for t, _, _ in utt.words] + [float("inf")]
    words: list[list[str]] = [[] for _ in utt.words]
    for seg in utt.phones.segments:
        if seg.label == "sil":
            continue
        i = max(0, int(np.searchsorted(word_times, seg.start + 1e-6, side="right")) - 1)
        words[min(i, len(words) - 1)].append(seg.label)
    covered = np.zeros(len(text) + 1, dtype=bool)  # characters inside a word that produced phones
    texts = _word_texts(text, utt.words)
    unread: list[tuple[int, int, str]] = []
    for i, ((_, pos, length), phones) in enumerate(zip(utt.words, words, strict=True)):
        if any(p.startswith("(") for p in phones):  # a switch such as "(en)": letter names, not the word
            words[i] = [UNREAD]
            unread.append((pos, i, texts[i]))
        elif phones:
            covered[max(0, pos - 1):pos - 1 + max(1, length)] = True
    silent = [(m.start() + 1, -1, m.group()) for m in re.finditer(r"\S+", text)
              if not all(unicodedata.category(c)[0] == "P" for c in m.group())
              and not covered[m.start():m.end()].any() and not any(m.start() < p <= m.end() for p, _, _ in unread)
              and not _reads_alone(m.group(), voice)]
    return [w for w in words if w], [word for *_, word in sorted(silent + unread)]


@lru_cache(maxsize=4096)
def _reads_alone(word: str, voice: str) -> bool:
    """Whether espeak-ng gives ``word`` phones of its own when it stands alone. A word it merged into a
    neighbour ("the", "a", "more" before the next word) has no event of its own, yet its phones are there:
    only a word that yields nothing alone is really missing."""
    from .espeak import synthesize

    phones = [s.label for s in synthesize(word, voice).phones.segments if s.label != "sil"]
    return bool(phones) and not any(p.startswith("(") for p in phones)


def _word_texts(text: str, events: list[tuple[float, int, int]]) -> list[str]:
    """The text of each espeak-ng word event.

    Where espeak-ng reads a chunk without spaces character by character
    (Japanese), its events all carry the chunk's position; then each takes
    one character, when the counts agree.
    """
    chunks = [text[max(0, pos - 1):pos - 1 + max(1, length)] for _, pos, length in events]
    out = list(chunks)
    for pos in {p for _, p, _ in events}:
        idx = [i for i, (_, p, _) in enumerate(events) if p == pos]
        chars = [c for c in unicodedata.normalize("NFD", chunks[idx[0]]) if unicodedata.category(c)[0] != "P"]
        if len(idx) > 1 and len(chars) == len(idx):
            for i, c in zip(idx, chars, strict=True):
                out[i] = unicodedata.normalize("NFC", c)
    return out


def _aligned(probs: np.ndarray, transcript: str, language: str) -> Analysis:
    words, missing = phonemise(transcript, language)
    unread = len(CLASSES)  # an extra column: the best phone of each frame, at a cost
    states, optional, labels = [CLASS_INDEX["sil"]], [True], ["sil"]
    for phones in words:
        for p in phones:
            try:
                states.append(unread if p == UNREAD else CLASS_INDEX[ipa_class(p)])
            except KeyError:
                continue
            optional.append(False)
            labels.append(p)
        states.append(CLASS_INDEX["sil"])
        optional.append(True)
        labels.append("sil")
    if len(states) > len(probs):
        raise VisemesError(f"the transcript has {len(states)} phones, too many for {len(probs) / FPS:.2f} s of audio")
    if len(states) * len(probs) > MAX_ALIGNMENT_CELLS:
        raise VisemesError(f"transcript alignment is for lines up to a few minutes; this one is "
                           f"{len(probs) / FPS / 60:.0f} min with {len(states)} phones: split it into lines")
    logp = np.log(np.maximum(probs, 1e-8))
    # the cost keeps an unread word from taking frames its neighbours' phones explain
    logp = np.column_stack([logp, logp[:, 1:].max(axis=1) - UNREAD_COST])
    path = align(logp, states, optional)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(path)) + 1])
    ends = np.append(starts[1:], len(path))
    segs = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        state = states[path[a]]
        if state != unread:
            segs.append(Segment(a / FPS, b / FPS, labels[path[a]], float(probs[a:b, state].mean())))
            continue
        best = free_phones(logp[a:b, :unread])  # the audio alone says what an unread word holds
        run_starts = np.concatenate([[0], np.flatnonzero(np.diff(best)) + 1])
        run_ends = np.append(run_starts[1:], len(best))
        segs += [Segment((a + i) / FPS, (a + j) / FPS, CLASSES[best[i]], float(probs[a + i:a + j, best[i]].mean()))
                 for i, j in zip(run_starts.tolist(), run_ends.tolist(), strict=True)]
    phones = Track(merge_repeats(segs), "phones", "ipa")
    warnings = [f"could not phonemise: {' '.join(missing)}" + _hint(language, missing)] if missing else []
    return Analysis(phones_to_visemes(phones), phones, warnings)


def _hint(language: str, missing: list[str]) -> str:
    """What would let the G2P read the ``missing`` words, where that is not installed."""
    kanji = _UNREADABLE["ja"]
    if language.lower() == "ja" and _japanese_tokenizer() is None and any(kanji.search(w) for w in missing):
        return " (install janome to read kanji: pip install 'visemes[ja]')"
    if language.lower() in MANDARIN and not mandarin.available() and any(mandarin.HANZI.search(w) for w in missing):
        return " (install pypinyin to read hanzi: pip install 'visemes[zh]')"
    return ""


@lru_cache(maxsize=2)
def _sphinx_decoder(align: bool):
    """One decoder per kind and process: loading the model costs more than aligning a short line."""
    try:
        from pocketsphinx import Decoder, get_model_path
    except ImportError:
        raise VisemesError("the pocketsphinx engine needs 'pip install pocketsphinx'") from None
    model = Path(get_model_path()) / "en-us"
    if align:
        return Decoder(hmm=str(model / "en-us"), dict=str(model / "cmudict-en-us.dict"), logfn=os.devnull)
    return Decoder(hmm=str(model / "en-us"), allphone=str(model / "en-us-phone.lm.bin"), lw=2.0, beam=1e-20,
                   pbeam=1e-20, logfn=os.devnull)


def pocketsphinx(samples: np.ndarray, transcript: str | None = None) -> Analysis:
    """PocketSphinx phone recognition (or word alignment with a transcript), ARPAbet phones."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes()
    warnings: list[str] = []
    if transcript:
        d = _sphinx_decoder(align=True)
        # hyphenated words ("ninety-seven") are separate words in its dictionary; dashes are punctuation
        words = [w.strip(".,;:!?\"'()").lower() for w in re.split(r"[\s\-–—]+", transcript)]
        known = [w for w in words if w and d.lookup_word(w) is not None]
        if len(known) < len([w for w in words if w]):
            warnings.append(f"not in pocketsphinx's dictionary: {' '.join(w for w in words if w and w not in known)}")
        if not known:
            raise VisemesError("pocketsphinx knows none of the transcript's words")
        d.set_align_text(" ".join(known))
        for second_pass in (False, True):  # words first, then phones within them
            if second_pass:
                d.set_alignment()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
        alignment = d.get_alignment()
        if alignment is None:
            raise VisemesError("pocketsphinx could not align the transcript to the audio")
        segs = [Segment(p.start / 100, (p.start + p.duration) / 100, p.name) for word in alignment for p in word]
    else:
        d = _sphinx_decoder(align=False)
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        segs = [Segment(s.start_frame / 100, (s.end_frame + 1) / 100, s.word) for s in d.seg()]
    segs = [Segment(s.start, s.end, "sil" if s.label in ("SIL", "+NSN+", "+SPN+", "<sil>") else s.label)
            for s in segs if s.end > s.start]
    if not segs:
        segs = [Segment(0.0, len(samples) / 16000, "sil")]
    phones = Track(make_contiguous(segs, duration=len(samples) / 16000), "phones", "arpabet")
    return Analysis(phones_to_visemes(phones), phones, warnings)


def allosaurus(samples: np.ndarray, model: str | None = None) -> Analysis:
    """Allosaurus universal phone recognition with a model the user provides (never downloaded)."""
    model = model or os.environ.get("VISEMES_ALLOSAURUS_MODEL")
    if not model or not Path(model).is_dir():
        raise VisemesError("the allosaurus engine needs a model you provide: download one with allosaurus' own "
                           "tools and set VISEMES_ALLOSAURUS_MODEL=/path/to/model (nothing is fetched here)")
    try:
        from allosaurus.app import read_recognizer
    except ImportError:
        raise VisemesError("the allosaurus engine needs 'pip install allosaurus'") from None
    import tempfile

    import soundfile as sf

    path = Path(model)
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        sf.write(f.name, samples, 16000)
        recognizer = read_recognizer(path.name, alt_model_path=path.parent)
        lines = recognizer.recognize(f.name, timestamp=True).splitlines()
    segs = []
    for line in lines:
        start, dur, phone = line.split()
        segs.append(Segment(float(start), float(start) + float(dur), phone))
    phones = Track(make_contiguous(segs, duration=len(samples) / 16000), "phones", "ipa")
    return Analysis(phones_to_visemes(phones), phones)


def analyse(samples: np.ndarray, engine: str = "neural", mode: str = "offline", transcript: str | None = None,
            language: str | None = None) -> Analysis:
    """Run ``engine`` on 16 kHz mono ``samples``."""
    if engine == "neural":
        return neural(samples, mode, transcript, language)
    if engine == "pocketsphinx":
        return pocketsphinx(samples, transcript)
    if engine == "allosaurus":
        return allosaurus(samples)
    raise VisemesError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
