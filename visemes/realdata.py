"""Real recordings for training, labelled by forced alignment of the words they are known to say.

Sources that may be used for training (``../shared/train/README.md``, ``docs/TRAINING-DATA.md``):

- ``fsdd/`` in the training folder: 3,000 spoken digits, six real voices, 8 kHz. Single digits are
  short, so they are strung together, as people read out numbers, into utterances of a few seconds.
  The voices in :data:`HELDOUT_FSDD` are never trained on: they validate (see :func:`heldout_set`).
- ``ljspeech/`` in the training folder: 385 clips of connected read English, one reader.
- ``../shared/render/grid-s1``: 131 GRID sentences of one talker, rich in p/b/m ("bin blue by ... please").
- Debian's ``pocketsphinx-testdata``: a few read sentences (LibriVox, playing cards, a robot command).

Phone timings come from the pocketsphinx engine aligning the known words (its en-us model and
dictionary ship in the PyPI wheel). A clip is rejected when a word is missing from the dictionary or
when our own network, aligning the same words (transcript mode), agrees with pocketsphinx on fewer than
:data:`MIN_AGREEMENT` of the speech frames: two independent aligners that disagree mean a bad
transcript or a bad alignment. Each utterance is used clean and degraded like the synthetic corpus.
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
HELDOUT_FSDD = ("theo", "yweweler")  # whole speakers kept out of training for honest selection
MIN_AGREEMENT = 0.5
GRID_WORDS = {  # GRID file names spell "command colour preposition letter digit adverb"
    0: {"b": "bin", "l": "lay", "p": "place", "s": "set"},
    1: {"b": "blue", "g": "green", "r": "red", "w": "white"},
    2: {"a": "at", "b": "by", "i": "in", "w": "with"},
    4: {"z": "zero", **{str(i): d for i, d in enumerate(DIGITS) if i}},
    5: {"a": "again", "n": "now", "p": "please", "s": "soon"},
}
Segments = list[tuple[float, float, str | None]]


def aligned_phones(samples: np.ndarray, words: str, strict: bool = False) -> Segments | None:
    """``(start, end, class)`` rows for 16 kHz ``samples`` saying ``words`` (pocketsphinx alignment);
    None where pocketsphinx cannot align them, or (``strict``) does not know every word: the recording
    is then left out."""
    from .engines import pocketsphinx

    try:
        analysis = pocketsphinx(samples, words)
    except (RuntimeError, VisemesError):
        return None
    if strict and analysis.warnings:
        return None
    out = []
    for s in analysis.phones.segments:
        try:
            out.append((s.start, s.end, arpabet_class(s.label)))
        except KeyError:
            out.append((s.start, s.end, None))
    return out


def agreement(samples: np.ndarray, words: str, segs: Segments) -> float:
    """Share of speech frames where our network's transcript-mode alignment of ``words`` gives the same
    viseme as ``segs`` (a cross-check of the pocketsphinx labels)."""
    from .engines import analyse
    from .phones import phone_to_viseme

    ours = analyse(samples, "neural", "offline", words, "en-us").visemes
    n = int(len(samples) / SAMPLE_RATE * 100)
    theirs = np.full(n, "", dtype=object)
    for a, b, c in segs:
        theirs[int(a * 100):int(b * 100)] = (phone_to_viseme(c, "ipa") or "") if c else ""
    mine = np.full(n, "", dtype=object)
    for s in ours.segments:
        mine[int(s.start * 100):int(s.end * 100)] = s.label
    speech = (theirs != "") & (theirs != "sil")
    return float(np.mean(mine[speech] == theirs[speech])) if speech.any() else 0.0


def checked(samples: np.ndarray, words: str) -> Segments | None:
    """Pocketsphinx phones of a clip that passes both checks (every word known, aligners agree)."""
    segs = aligned_phones(samples, words, strict=True)
    if segs is None or agreement(samples, words, segs) < MIN_AGREEMENT:
        return None
    return segs


def ljspeech_recordings(folder: Path) -> list[tuple[np.ndarray, Segments]]:
    """(samples, phones) of the LJ Speech clips in ``folder`` (``transcripts.tsv``: file, text) that pass
    :func:`checked`."""
    from tqdm import tqdm

    rows = [ln.split("\t", 1) for ln in (folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    out = []
    for name, text in tqdm(rows, desc="ljspeech", unit="clip"):
        x = load_audio(folder / name)
        segs = checked(x, text)
        if segs is not None:
            out.append((x, segs))
    return out


def grid_words(stem: str) -> str | None:
    """The sentence a GRID clip says, spelled by its six-letter name (``bbaf2n`` = bin blue at f two now)."""
    if len(stem) != 6:
        return None
    try:
        words = [GRID_WORDS[i][c] if i != 3 else c for i, c in enumerate(stem)]
    except KeyError:
        return None
    return " ".join(words)


def grid_recordings(folders: list[Path]) -> list[tuple[np.ndarray, Segments]]:
    """(samples, phones) of the GRID clips (``*.mpg``) in ``folders`` that pass :func:`checked`."""
    from .render.video import audio

    out = []
    for wav in sorted(p for f in folders for p in f.glob("*.mpg")):
        words = grid_words(wav.stem)
        if words:
            x = audio(wav)
            segs = checked(x, words)
            if segs is not None:
                out.append((x, segs))
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


def real_clips(train_dir: Path | None, seed: int, log=print) -> list[tuple[np.ndarray, Segments]]:
    """Every real training clip (samples, phones), by source; the held-out voices are left out.

    Raises
    ------
    VisemesError
        When ``train_dir`` is given but holds no ``fsdd/`` recordings.
    """
    rng = np.random.default_rng(seed + 7)
    sources: dict[str, list[tuple[np.ndarray, Segments]]] = {"pocketsphinx-testdata": testdata_recordings()}
    if train_dir is not None:
        fsdd = [r for r in fsdd_recordings(train_dir / "fsdd") if r[0] not in HELDOUT_FSDD]
        if not fsdd:
            raise VisemesError(f"{train_dir / 'fsdd'}: no spoken-digit recordings ({{digit}}_{{speaker}}_{{n}}.wav)")
        sources["fsdd"] = digit_strings(fsdd, rng)
        if (train_dir / "ljspeech" / "transcripts.tsv").exists():
            sources["ljspeech"] = ljspeech_recordings(train_dir / "ljspeech")
        grid = train_dir.parent / "render" / "grid-s1"
        if grid.is_dir():
            sources["grid-s1"] = grid_recordings([grid / "train", grid / "heldout"])
    for name, clips in sources.items():
        minutes = sum(len(x) for x, _ in clips) / SAMPLE_RATE / 60
        log(f"real speech, {name}: {len(clips)} clips kept, {minutes:.1f} min")
    return [c for clips in sources.values() for c in clips]


def real_utterances(clips: list[tuple[np.ndarray, Segments]], seed: int, copies: int = 3) -> list[Utterance]:
    """The real training utterances, each ``copies`` times: once clean, then degraded."""
    rng = np.random.default_rng(seed + 11)
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


def heldout_set(shared: Path, work: Path, seed: int = 0) -> list[tuple[Path, np.ndarray]]:
    """(reference TSV, log-mel) of real speech by voices never trained on, for choosing epochs and decoder
    settings beside ``../shared/eval``: the FSDD voices in :data:`HELDOUT_FSDD` (strings of digits) and the
    eleven GRID talkers in ``render/grid``. References are the checked pocketsphinx alignments, written
    once into ``work/heldout``."""
    folder = work / "heldout"
    if not folder.is_dir():
        clips: list[tuple[str, np.ndarray, Segments]] = []
        fsdd = [r for r in fsdd_recordings(shared / "train" / "fsdd") if r[0] in HELDOUT_FSDD]
        rng = np.random.default_rng(seed + 13)
        clips += [(f"fsdd-{i:03d}", x, segs) for i, (x, segs) in enumerate(digit_strings(fsdd, rng))]
        grid = shared / "render" / "grid"
        clips += [(f"grid-{i:02d}", x, segs) for i, (x, segs) in enumerate(grid_recordings([grid]))]
        tmp = work / "heldout.part"
        tmp.mkdir(parents=True, exist_ok=True)
        for name, x, segs in clips:
            import soundfile as sf

            sf.write(tmp / f"{name}.wav", x, SAMPLE_RATE)
            rows = [f"{a:.3f}\t{b:.3f}\t{c or 'h'}\n" for a, b, c in segs]
            (tmp / f"{name}.tsv").write_text("".join(rows), encoding="utf-8")
        tmp.rename(folder)
    return [(wav.with_suffix(".tsv"), log_mel(load_audio(wav))) for wav in sorted(folder.glob("*.wav"))]
