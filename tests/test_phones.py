"""Phone sets map onto the 15 canonical visemes and the 6 mouth classes."""

import pytest
from conftest import real_speech_alignments

from visemes.phones import MOUTH_CLASSES, VISEME_CLASS, VISEMES, guess_phone_set, is_silence, phone_to_viseme
from visemes.timing import read_timing


def test_fifteen_visemes_in_the_oculus_order():
    assert VISEMES == ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")


def test_every_viseme_has_one_of_six_mouth_classes():
    assert set(VISEME_CLASS) == set(VISEMES)
    assert set(VISEME_CLASS.values()) == set(MOUTH_CLASSES)
    assert VISEME_CLASS["PP"] == "closed" and VISEME_CLASS["FF"] == "labiodental"
    assert {v for v, c in VISEME_CLASS.items() if c == "rounded"} == {"oh", "ou"}


@pytest.mark.parametrize(("phone", "phone_set", "viseme"), [
    ("P", "arpabet", "PP"), ("M", "arpabet", "PP"), ("V", "arpabet", "FF"), ("DH", "arpabet", "TH"),
    ("AA1", "arpabet", "aa"), ("ow0", "arpabet", "oh"), ("UW2", "arpabet", "ou"), ("JH", "arpabet", "CH"),
    ("b", "ipa", "PP"), ("ɱ", "ipa", "FF"), ("θ", "ipa", "TH"), ("tʃ", "ipa", "CH"), ("ɑː", "ipa", "aa"),
    ("pʰ", "ipa", "PP"), ("oʊ", "ipa", "oh"), ("ɡ", "ipa", "kk"), ("g", "ipa", "kk"), ("ʁ", "ipa", "RR"),
    ("tS", "xsampa", "CH"), ("{", "xsampa", "aa"), ("i:", "xsampa", "ih"), ("U", "xsampa", "ou"),
    ("N", "kana", "nn"), ("ky", "kana", "kk"), ("ang2", "pinyin", "aa"), ("zh", "pinyin", "CH"),
])
def test_phones_map_to_their_viseme(phone, phone_set, viseme):
    assert phone_to_viseme(phone, phone_set) == viseme


@pytest.mark.parametrize(("phone", "phone_set"), [("HH", "arpabet"), ("h", "ipa"), ("ʔ", "ipa"), ("?", "xsampa")])
def test_phones_without_a_lip_shape_map_to_none(phone, phone_set):
    assert phone_to_viseme(phone, phone_set) is None


@pytest.mark.parametrize("label", ["sil", "SIL", "<sil>", "[SIL]", "sp", "pau", "_", ""])
def test_silence_is_recognised_however_it_is_written(label):
    assert is_silence(label)
    assert phone_to_viseme(label, "ipa") == "sil"


def test_unknown_phone_raises_key_error():
    with pytest.raises(KeyError):
        phone_to_viseme("QQQ", "arpabet")


def test_phone_set_is_guessed_from_the_labels():
    assert guess_phone_set(["HH", "AH0", "L", "OW1"]) == "arpabet"
    assert guess_phone_set(["h", "ə", "l", "oʊ"]) == "ipa"
    assert guess_phone_set(["h", "@", "l", "@U", "tS"]) == "xsampa"
    assert guess_phone_set(["ch", "a", "N", "cl", "ky"]) == "kana"


def test_every_validation_alignment_maps_without_unknown_phones():
    for f in real_speech_alignments():
        track = read_timing(f)
        for seg in track.segments:
            phone_to_viseme(seg.label, track.phone_set)  # raises on an unknown phone


def test_every_phone_the_network_inventory_reads_has_a_viseme():
    """Transcript mode aligns any phone the inventory can class; its viseme track must map each of them too
    (Spanish 'yo' gives ʝ, Swedish and Norwegian ɵ)."""
    from visemes.inventory import _FOLD, CLASSES

    for phone in [*CLASSES, *_FOLD]:
        phone_to_viseme(phone, "ipa")  # raises KeyError for a phone it does not know


def test_a_spanish_transcript_with_a_palatal_fricative_bakes():
    from visemes.audio import SAMPLE_RATE, resample
    from visemes.engines import neural
    from visemes.espeak import synthesize

    utt = synthesize("yo llamo a mi hermano", "es")
    x = resample(utt.samples.astype("float32") / 32768.0, utt.sample_rate, SAMPLE_RATE)
    found = neural(x, transcript="yo llamo a mi hermano", language="es")
    assert "ʝ" in {s.label for s in found.phones.segments}
    assert "PP" in {s.label for s in found.visemes.segments}
