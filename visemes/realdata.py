"""Real recordings for training, labelled by forced alignment of the words they are known to say.

Two sources may be used for training (``../shared/train/README.md``, ``docs/TRAINING-DATA.md``):

- ``fsdd/`` in the training folder: 3,000 spoken digits, six real voices, 8 kHz. Single digits are
  short, so they are strung together, as people read out numbers, into utterances of a few seconds.
- Debian's ``pocketsphinx-testdata``: a few read sentences (LibriVox, playing cards, a robot command).

Phone timings come from the pocketsphinx engine aligning the known words (its en-us model and
dictionary ship in the PyPI wheel). Each utterance is used clean and degraded like the synthetic corpus.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, load_audio
from .augment import degrade
from .corpus import Utterance, frame_labels
from .errors import VisemesError
from .features import log_mel
from .inventory import arpabet_class

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TESTDATA = Path("/usr/share/pocketsphinx/test/data")
Segments = list[tuple[float, float, str | None]]


def aligned_phones(samples: np.ndarray, words: str) -> Segments | None:
    """``(start, end, class)`` rows for 16 kHz ``samples`` saying ``words`` (pocketsphinx alignment);
    None where pocketsphinx cannot align them (the recording is then left out)."""
    from .engines import pocketsphinx

    try:
        phones = pocketsphinx(samples, words).phones
    except (RuntimeError, VisemesError):
        return None
    out = []
    for s in phones.segments:
        try:
            out.append((s.start, s.end, arpabet_class(s.label)))
        except KeyError:
            out.append((s.start, s.end, None))
    return out


def fsdd_recordings(folder: Path) -> list[tuple[str, np.ndarray, Segments]]:
    """(speaker, samples, phones) of every ``{digit}_{speaker}_{n}.wav`` in ``folder``."""
    out = []
    for wav in sorted(folder.glob("*.wav")):
        m = re.fullmatch(r"(\d)_([a-z]+)_\d+", wav.stem)
        if m:
            x = load_audio(wav)
            phones = aligned_phones(x, DIGITS[int(m.group(1))])
            if phones and any(c != "sil" for _, _, c in phones):
                out.append((m.group(2), x, phones))
    return out


def testdata_recordings(folder: Path = TESTDATA) -> list[tuple[np.ndarray, Segments]]:
    """(samples, phones) of the transcribed read speech in Debian's pocketsphinx-testdata."""
    items = []
    for sub in ("librivox/transcription", "cards/cards.transcription"):
        lines = (folder / sub).read_text().splitlines() if (folder / sub).exists() else []
        for line in lines:
            m = re.fullmatch(r"<s>(.*)</s>\s*\((\S+)\)", line.strip())
            if m and (folder / sub).with_name(f"{m.group(2)}.wav").exists():
                items.append(((folder / sub).with_name(f"{m.group(2)}.wav"), " ".join(m.group(1).split())))
    if (folder / "goforward.raw").exists():
        items.append((folder / "goforward.raw", "go forward ten meters"))
    out = []
    for path, words in items:
        x = _raw_pcm(path) if path.suffix == ".raw" else load_audio(path)
        phones = aligned_phones(x, words)
        if phones is not None:
            out.append((x, phones))
    return out


def _raw_pcm(path: Path) -> np.ndarray:
    """A headerless 16 kHz 16-bit mono file, as pocketsphinx's test data keeps some."""
    return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0


def digit_strings(recordings: list[tuple[str, np.ndarray, Segments]], rng: np.random.Generator,
                  ) -> list[tuple[np.ndarray, Segments]]:
    """Every recording once, in strings of 3-8 digits by one speaker with short gaps between them."""
    by_speaker: dict[str, list[int]] = {}
    for i, (speaker, _, _) in enumerate(recordings):
        by_speaker.setdefault(speaker, []).append(i)
    out = []
    for indices in by_speaker.values():
        order = rng.permutation(indices)
        while len(order):
            take = order[:int(rng.integers(3, 9))]
            order = order[len(take):]
            parts, segs, t = [], [], 0.0
            for i in take:
                gap = np.zeros(int(rng.uniform(0.0, 0.25) * SAMPLE_RATE), np.float32)
                t += len(gap) / SAMPLE_RATE
                _, x, phones = recordings[i]
                parts += [gap, x]
                segs += [(a + t, b + t, c) for a, b, c in phones]
                t += len(x) / SAMPLE_RATE
            out.append((np.concatenate(parts), segs))
    return out


def real_utterances(train_dir: Path | None, seed: int, copies: int = 3) -> list[Utterance]:
    """The real training utterances, each ``copies`` times: once clean, then degraded.

    Raises
    ------
    VisemesError
        When ``train_dir`` is given but holds no ``fsdd/`` recordings.
    """
    rng = np.random.default_rng(seed + 7)
    clips: list[tuple[np.ndarray, Segments]] = testdata_recordings()
    if train_dir is not None:
        fsdd = fsdd_recordings(train_dir / "fsdd")
        if not fsdd:
            raise VisemesError(f"{train_dir / 'fsdd'}: no spoken-digit recordings ({{digit}}_{{speaker}}_{{n}}.wav)")
        clips += digit_strings(fsdd, rng)
    out = []
    for x, segs in clips:
        lead, tail = rng.uniform(0.05, 0.4, size=2)
        x = np.concatenate([np.zeros(int(lead * SAMPLE_RATE), np.float32), x,
                            np.zeros(int(tail * SAMPLE_RATE), np.float32)])
        segs = [(a + lead, b + lead, c) for a, b, c in segs]
        for k in range(copies):
            y, factor = degrade(x, rng) if k else (x, 1.0)
            feats = log_mel(y)
            out.append(Utterance(feats.astype(np.float16),
                                 frame_labels([(a * factor, b * factor, c) for a, b, c in segs], len(feats))))
    return out
