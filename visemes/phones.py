"""Phone sets, the 15 canonical visemes and the 6 coarse mouth classes.

Every phone set maps onto the 15 Oculus/Meta visemes (``VISEMES``); every rig
maps from them. Phones with no lip shape of their own (/h/, a glottal stop)
map to ``None``: animation lets the neighbouring shapes cover them.

Phone sets: ``ipa``, ``arpabet`` (CMUdict / TIMIT, stress digits allowed),
``xsampa`` and ``kana`` (Japanese HTS / Open JTalk phones) and ``pinyin`` (Mandarin initials and finals).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)
VISEME_INDEX = {v: i for i, v in enumerate(VISEMES)}

MOUTH_CLASSES: tuple[str, ...] = ("rest", "closed", "labiodental", "rounded", "open", "other")
VISEME_CLASS: dict[str, str] = {
    "sil": "rest", "PP": "closed", "FF": "labiodental", "oh": "rounded", "ou": "rounded",
    "aa": "open", "E": "open",
    **{v: "other" for v in ("TH", "DD", "kk", "CH", "SS", "nn", "RR", "ih")},
}

_SILENCE = frozenset({"", "sil", "sp", "spn", "pau", "_", "#", "h#", "silence", "p:", "sil_b", "sil_e", "nsn"})


def is_silence(label: str) -> bool:
    """True for the many ways aligners write silence or pause (``sil``, ``<sil>``, ``[SIL]``, ``pau``, ``_``)."""
    return label.strip().strip("<>[]").lower() in _SILENCE

# Each table: viseme -> space-separated phones. None collects phones without a lip shape.
_IPA = {
    "PP": "p b m ɸ β ʙ",
    "FF": "f v ɱ ʋ",
    "TH": "θ ð",
    "DD": "t d ɾ ɽ ɺ ʈ ɖ ɗ",
    "kk": "k g ɡ ŋ x ɣ q ɢ χ c ɟ ɰ",
    "CH": "ʃ ʒ tʃ dʒ ʧ ʤ ɕ ʑ tɕ dʑ ʂ ʐ ʈʂ",
    "SS": "s z ts dz ʦ ʣ",
    "nn": "n l ɫ ɲ ɳ ʎ ɭ ɬ ɮ ɴ",
    "RR": "ɹ r ʁ ɻ ɚ ɝ ʀ",
    "aa": "a ɑ æ ʌ ə ɐ ɶ ä aɪ aʊ",
    "E": "e ɛ ɜ eɪ ɘ",
    "ih": "i ɪ j ɨ ᵻ ʝ",
    "oh": "o ɔ ɒ oʊ ɔɪ ɤ əʊ ɞ",
    "ou": "u ʊ w y ʏ ø œ ɯ ɥ ʉ ɵ",
    None: "h ɦ ʔ ħ ʕ",
}
_ARPABET = {
    "PP": "p b m em",
    "FF": "f v",
    "TH": "th dh",
    "DD": "t d dx",
    "kk": "k g ng nx",
    "CH": "ch jh sh zh",
    "SS": "s z",
    "nn": "n l el en",
    "RR": "r er axr",
    "aa": "aa ae ah ax aw ay ax-h",
    "E": "eh ey",
    "ih": "ih iy ix y",
    "oh": "ao ow oy",
    "ou": "uh uw ux w",
    None: "hh hv q",
}
_XSAMPA = {
    "PP": "p b m B",
    "FF": "f v F P",
    "TH": "T D",
    "DD": "t d 4",
    "kk": "k g N x G q c J\\",
    "CH": "tS dZ S Z s\\ z\\ ts\\ dz\\",
    "SS": "s z ts dz",
    "nn": "n l 5 J L",
    "RR": "r R r\\ 3` @` R\\ 3 @: 3:",
    "aa": "A { V @ 6 a aI aU ai au",
    "E": "e E eI ei",
    "ih": "i I j 1",
    "oh": "o O Q oU OI 7 oi @U @u",
    "ou": "u U w y Y 2 9 M",
    None: "h ? h\\ H",
}
_KANA = {  # Japanese HTS-style labels; capital vowels are devoiced
    "PP": "p b m py by my",
    "FF": "f v",
    "DD": "t d r ry",
    "kk": "k g ky gy",
    "CH": "sh j ch",
    "SS": "s z ts",
    "nn": "n N ny",
    "aa": "a A",
    "E": "e E",
    "ih": "i I y",
    "oh": "o O",
    "ou": "u U w",
    None: "h hy cl",
}

_PINYIN = {  # Mandarin initials and finals (tone digits dropped); a final takes its main vowel's shape
    "PP": "b p m",
    "FF": "f",
    "DD": "d t",
    "kk": "g k",
    "CH": "j q x zh ch sh",
    "SS": "z c s",
    "nn": "n l",
    "RR": "r er",
    "aa": "a ai ao an ang ia iao iang ian ua uai uan uang van",
    "E": "e ei en eng ie ui un ve ueng",
    "ih": "i y in ing ii iii",
    "oh": "o ou uo iu",
    "ou": "u w ong iong v vn",
    None: "h",
}

PHONE_SETS: dict[str, dict[str, str | None]] = {
    name: {p: v for v, phones in table.items() for p in phones.split()}
    for name, table in (("arpabet", _ARPABET), ("ipa", _IPA), ("xsampa", _XSAMPA), ("kana", _KANA),
                        ("pinyin", _PINYIN))
}

# Marks that change a phone's length, stress or voicing but not its mouth shape.
_IPA_MARKS = set("ːˑʰʲʷˠˤˈˌ'ʼ.̥̬̩̯̃̚͡‿") | {"\u0361", "\u035c"}
_XSAMPA_MARKS = set(':"%=~_0')


def normalise_phone(phone: str, phone_set: str) -> list[str]:
    """Candidate spellings of ``phone`` to look up, most specific first."""
    p = unicodedata.normalize("NFC", phone.strip())
    if phone_set == "arpabet":
        q = p.lower().rstrip("0123456789")
        return [q]
    if phone_set == "ipa":
        base = "".join(c for c in unicodedata.normalize("NFD", p) if c not in _IPA_MARKS
                       and unicodedata.category(c) != "Mn")
        base = base.replace("g", "ɡ") if base not in PHONE_SETS["ipa"] else base
        return [p, base, base[:2], base[:1]]
    if phone_set == "xsampa":
        base = "".join(c for c in p if c not in _XSAMPA_MARKS).rstrip("0123456789")
        return [p, base, base[:3], base[:2], base[:1]]
    return [p.rstrip("0123456789"), p]


def phone_to_viseme(phone: str, phone_set: str) -> str | None:
    """Map one phone to a canonical viseme.

    Parameters
    ----------
    phone : str
        The phone as written in the source (``"AA1"``, ``"ɑː"``, ``"tS"``, ``"ky"``).
    phone_set : {"ipa", "arpabet", "xsampa", "kana", "pinyin"}

    Returns
    -------
    str or None
        One of ``VISEMES``, or ``None`` for a phone without a lip shape.

    Raises
    ------
    KeyError
        When the phone is not in the set.
    """
    if is_silence(phone):
        return "sil"
    table = PHONE_SETS[phone_set]
    for cand in normalise_phone(phone, phone_set):
        if cand and cand in table:
            return table[cand]
    raise KeyError(phone)


def guess_phone_set(phones: Iterable[str]) -> str:
    """The phone set that maps most of the distinct ``phones``, then spells most of them exactly.

    Remaining ties go to arpabet, ipa, xsampa, kana, pinyin, in that order.
    """
    distinct = {p for p in phones if not is_silence(p)}
    order = list(PHONE_SETS)

    def fit(name: str) -> tuple[int, int, int]:
        table = PHONE_SETS[name]
        mapped = 0
        for p in distinct:
            try:
                phone_to_viseme(p, name)
                mapped += 1
            except KeyError:
                pass
        exact = sum(normalise_phone(p, name)[0] in table for p in distinct)
        return mapped, exact, -order.index(name)

    return max(order, key=fit)


# How each viseme shapes a generic mouth, for drawings such as the live monitor: (open, wide, round), 0..1.
MOUTH_SHAPES: dict[str, tuple[float, float, float]] = {
    "sil": (0.0, 0.5, 0.0), "PP": (0.0, 0.45, 0.1), "FF": (0.1, 0.5, 0.0), "TH": (0.25, 0.5, 0.0),
    "DD": (0.3, 0.55, 0.0), "kk": (0.35, 0.5, 0.0), "CH": (0.25, 0.3, 0.6), "SS": (0.15, 0.7, 0.0),
    "nn": (0.3, 0.5, 0.0), "RR": (0.3, 0.35, 0.5), "aa": (1.0, 0.6, 0.0), "E": (0.6, 0.8, 0.0),
    "ih": (0.4, 0.8, 0.0), "oh": (0.7, 0.3, 0.8), "ou": (0.35, 0.2, 1.0),
}

