"""Mandarin transcripts: hanzi to phones through their pinyin (pypinyin, optional extra ``visemes[zh]``).

espeak-ng 1.51 (Debian's) reads most hanzi as English letter names, so Mandarin
words are read here instead: pypinyin gives each character's initial and final
in context (行 is xíng in 不行, háng in 银行), and each becomes IPA phones that
the aligner knows. A final becomes its main vowel, the sound that shapes the lips
for most of the syllable (the schwa-like e of 这, 很, 冷 as ə, which looks and sounds open); glides
and nasal codas are left to the blend.
"""

from __future__ import annotations

import re
from functools import lru_cache

HANZI = re.compile("([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")

INITIALS = {
    "b": "p", "p": "pʰ", "m": "m", "f": "f", "d": "t", "t": "tʰ", "n": "n", "l": "l", "g": "k", "k": "kʰ",
    "h": "x", "j": "tɕ", "q": "tɕʰ", "x": "ɕ", "zh": "ʈʂ", "ch": "ʈʂʰ", "sh": "ʂ", "r": "ɻ", "z": "ts",
    "c": "tsʰ", "s": "s",
}
# final (pypinyin's strict spelling, ü as v) -> its main vowel
_VOWELS = {
    "a": "a ai ao an ang ia iao iang ian ua uai uan uang van",
    "ə": "e en eng uen un ueng",  # Mandarin e is [ɤ], its nasal finals [ən] [əŋ]: a relaxed, open mouth
    "e": "ei ie uei ui ve ê",
    "i": "i in ing",
    "o": "o ou uo iou iu",
    "u": "u ong iong",
    "y": "v vn",
    "ɚ": "er",
}
FINALS = {final: vowel for vowel, finals in _VOWELS.items() for final in finals.split()}


@lru_cache(maxsize=1)
def _pinyin():
    try:
        from pypinyin import Style, pinyin
    except ImportError:
        return None
    return lambda text, style: pinyin(text, style=getattr(Style, style), strict=True, errors=lambda x: list(x))


def available() -> bool:
    """Whether pypinyin is installed."""
    return _pinyin() is not None


def read(hanzi: str) -> list[list[str] | None]:
    """IPA phones of each character of a run of ``hanzi``; None for a character pypinyin cannot read.

    Raises
    ------
    ImportError
        When pypinyin is not installed.
    """
    reader = _pinyin()
    if reader is None:
        raise ImportError("pypinyin")
    initials, finals = reader(hanzi, "INITIALS"), reader(hanzi, "FINALS")
    out: list[list[str] | None] = []
    for char, (initial,), (final,) in zip(hanzi, initials, finals, strict=True):
        final = final.replace("ü", "v")
        if final not in FINALS or (initial and initial not in INITIALS) or final == char:
            out.append(None)
            continue
        out.append(([INITIALS[initial]] if initial else []) + [FINALS[final]])
    return out
