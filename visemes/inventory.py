"""The model's universal phone-class inventory (IPA based) and how any phone maps into it.

46 classes cover the consonants and vowels of English, Spanish, French, German,
Italian, Portuguese and Japanese (and most of what espeak-ng speaks) at the
level of detail that matters for the mouth. Each class maps to one of the 15
visemes; ``h`` has no lip shape of its own.
"""

from __future__ import annotations

import unicodedata

from .phones import VISEMES, is_silence, phone_to_viseme

CLASSES: tuple[str, ...] = (
    "sil", "p", "b", "m", "f", "v", "θ", "ð", "t", "d", "k", "ɡ", "tʃ", "dʒ", "ʃ", "ʒ", "s", "z", "ts",
    "n", "ŋ", "ɲ", "l", "ɹ", "r", "j", "w", "h", "x",
    "i", "ɪ", "e", "ɛ", "a", "ɑ", "ɔ", "o", "ʊ", "u", "ə", "æ", "ʌ", "y", "ø", "ɯ", "ɚ",
)
CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}
VOWELS = frozenset(CLASSES[CLASSES.index("i"):])

# IPA symbols folded onto a class: nearest place and lip shape.
_FOLD = {
    "g": "ɡ", "ɾ": "r", "ʁ": "r", "ʀ": "r", "ɽ": "r", "ɻ": "ɹ", "ɺ": "r", "ɝ": "ɚ", "ɫ": "l", "ʎ": "l", "ɭ": "l",
    "ɬ": "l", "ɮ": "l", "ɳ": "n", "ɴ": "ŋ", "ɱ": "m", "β": "b", "ɸ": "p", "ʋ": "v", "ɣ": "ɡ", "χ": "x", "ç": "x",
    "ʝ": "j", "c": "k", "ɟ": "ɡ", "q": "k", "ɢ": "ɡ", "ʈ": "t", "ɖ": "d", "ɗ": "d", "ɕ": "ʃ", "ʑ": "ʒ", "ʂ": "ʃ",
    "ʐ": "ʒ", "ʧ": "tʃ", "ʤ": "dʒ", "tɕ": "tʃ", "dʑ": "dʒ", "ʈʂ": "tʃ", "dz": "z", "ʦ": "ts", "pf": "f",
    "ɦ": "h", "ħ": "h", "ʔ": "h", "ʕ": "h", "ɥ": "w", "ɰ": "ɯ", "ɐ": "a", "ä": "a", "ɶ": "a", "ɜ": "ə",
    "ɘ": "ə", "ᵻ": "ɪ", "ɨ": "i", "ɤ": "o", "ɒ": "ɔ", "ʏ": "y", "œ": "ø", "ɵ": "ø", "ʉ": "u", "ɞ": "ɔ",
}
_ARPABET = {
    "aa": "ɑ", "ae": "æ", "ah": "ʌ", "ax": "ə", "axr": "ɚ", "ao": "ɔ", "aw": "a", "ay": "a", "eh": "ɛ", "er": "ɚ",
    "ey": "e", "ih": "ɪ", "ix": "ɪ", "iy": "i", "ow": "o", "oy": "ɔ", "uh": "ʊ", "uw": "u", "ux": "u",
    "b": "b", "ch": "tʃ", "d": "d", "dh": "ð", "dx": "r", "f": "f", "g": "ɡ", "hh": "h", "hv": "h", "jh": "dʒ",
    "k": "k", "l": "l", "el": "l", "m": "m", "em": "m", "n": "n", "en": "n", "ng": "ŋ", "nx": "n", "p": "p",
    "r": "ɹ", "s": "s", "sh": "ʃ", "t": "t", "th": "θ", "v": "v", "w": "w", "y": "j", "z": "z", "zh": "ʒ",
    "q": "h", "pau": "sil", "sil": "sil", "h#": "sil",
}
_MARKS = set("ːˑʰʲʷˠˤˈˌ'ʼ.‿̥̬̩̯̃̚͡") | {"\u0361", "\u035c"}


def ipa_class(phone: str) -> str:
    """The class of an IPA phone; diphthongs take their first vowel, affricates stay whole.

    Raises
    ------
    KeyError
        For a symbol nothing here knows.
    """
    if is_silence(phone):
        return "sil"
    p = "".join(c for c in unicodedata.normalize("NFD", phone.strip())
                if c not in _MARKS and unicodedata.category(c) != "Mn")
    for cand in (p, p[:2], p[:1]):
        if cand in CLASS_INDEX:
            return cand
        if cand in _FOLD:
            return _FOLD[cand]
    raise KeyError(phone)


def arpabet_class(phone: str) -> str:
    """The class of an ARPAbet (or Festival/Flite 'radio') phone, stress digits ignored."""
    return _ARPABET[phone.lower().rstrip("012")]


def class_visemes() -> list[str | None]:
    """The viseme of each class, in ``CLASSES`` order (None for ``h``)."""
    return [phone_to_viseme(c, "ipa") for c in CLASSES]


assert all(v is None or v in VISEMES for v in class_visemes())
