"""Timing inputs: every supported format is read, detected by content, and bad files say why."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from visemes.curves import Curves
from visemes.errors import VisemesError
from visemes.exporters import EXPORTERS, ExportOptions
from visemes.lipsync import Lipsync
from visemes.rigs import load_rig
from visemes.timing import RHUBARB_SHAPE_VISEME, detect_format, parse_textgrid, read_timing
from visemes.tracks import Segment, Track, phones_to_visemes


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def labels(track):
    return [(round(s.start, 3), round(s.end, 3), s.label) for s in track.segments]


def test_plain_phone_tsv_with_arpabet(tmp_path):
    p = write(tmp_path, "a.tsv", "0.0\t0.1\tsil\n0.1\t0.2\tM\n0.2\t0.35\tAA1\n0.35\t0.5\tsil\n")
    t = read_timing(p)
    assert t.kind == "phones" and t.phone_set == "arpabet"
    assert labels(phones_to_visemes(t)) == [(0, 0.1, "sil"), (0.1, 0.2, "PP"), (0.2, 0.35, "aa"), (0.35, 0.5, "sil")]


def test_phone_tsv_with_a_header_spaces_and_gaps(tmp_path):
    p = write(tmp_path, "a.txt", "start end phone\n0.1 0.2 p\n0.3 0.4 a\n")
    t = read_timing(p)
    assert labels(t) == [(0, 0.1, "sil"), (0.1, 0.2, "p"), (0.2, 0.3, "sil"), (0.3, 0.4, "a")]


def test_segments_tsv_of_visemes_is_read_back_as_visemes(tmp_path):
    p = write(tmp_path, "v.tsv", "0.000\t0.100\tsil\t1.000\n0.100\t0.200\tPP\t0.800\n")
    t = read_timing(p)
    assert t.kind == "visemes" and t.segments[1] == Segment(0.1, 0.2, "PP", 0.8)


def test_rhubarb_tsv_change_points_end_with_the_last_line(tmp_path):
    p = write(tmp_path, "r.tsv", "0.00\tX\n0.05\tA\n0.20\tD\n0.47\tX\n")
    assert labels(read_timing(p)) == [(0, 0.05, "sil"), (0.05, 0.2, "PP"), (0.2, 0.47, "aa")]


def test_rhubarb_json_and_xml(tmp_path):
    j = {"metadata": {"soundFile": "a.wav", "duration": 0.3},
         "mouthCues": [{"start": 0.0, "end": 0.1, "value": "X"}, {"start": 0.1, "end": 0.3, "value": "G"}]}
    x = ('<?xml version="1.0"?><rhubarbResult><metadata><duration>0.3</duration></metadata><mouthCues>'
         '<mouthCue start="0.00" end="0.10">X</mouthCue><mouthCue start="0.10" end="0.30">F</mouthCue>'
         "</mouthCues></rhubarbResult>")
    assert labels(read_timing(write(tmp_path, "r.json", json.dumps(j)))) == [(0, 0.1, "sil"), (0.1, 0.3, "FF")]
    assert labels(read_timing(write(tmp_path, "r.xml", x))) == [(0, 0.1, "sil"), (0.1, 0.3, "ou")]


def test_azure_viseme_events_in_ticks(tmp_path):
    events = [{"AudioOffset": 0, "VisemeId": 0}, {"AudioOffset": 1_000_000, "VisemeId": 21},
              {"AudioOffset": 2_000_000, "VisemeId": 2}, {"AudioOffset": 3_500_000, "VisemeId": 0}]
    t = read_timing(write(tmp_path, "azure.json", json.dumps(events)))
    assert labels(t) == [(0, 0.1, "sil"), (0.1, 0.2, "PP"), (0.2, 0.35, "aa"), (0.35, 0.5, "sil")]


def test_azure_events_in_snake_case_inside_an_object(tmp_path):
    doc = {"visemes": [{"audio_offset": 0, "viseme_id": 18}, {"audio_offset": 500_000, "viseme_id": 0}]}
    assert labels(read_timing(write(tmp_path, "a.json", json.dumps(doc))))[0] == (0, 0.05, "FF")


def test_polly_speech_marks_skip_word_marks(tmp_path):
    marks = [{"time": 0, "type": "sentence", "start": 0, "end": 9, "value": "Mia ate."},
             {"time": 6, "type": "word", "start": 0, "end": 3, "value": "Mia"},
             {"time": 6, "type": "viseme", "value": "p"}, {"time": 100, "type": "viseme", "value": "i"},
             {"time": 200, "type": "viseme", "value": "a"}, {"time": 300, "type": "viseme", "value": "sil"}]
    t = read_timing(write(tmp_path, "m.marks", "\n".join(json.dumps(m) for m in marks)))
    assert [s.label for s in t.segments] == ["sil", "PP", "ih", "aa", "sil"]
    assert t.segments[1].start == pytest.approx(0.006)


LONG_TG = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 0.5
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 0.5
        intervals: size = 1
        intervals [1]:
            xmin = 0
            xmax = 0.5
            text = "ma"
    item [2]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 0.5
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.1
            text = ""
        intervals [2]:
            xmin = 0.1
            xmax = 0.2
            text = "m"
        intervals [3]:
            xmin = 0.2
            xmax = 0.5
            text = "ɑː"
'''


def test_textgrid_long_form_reads_the_phone_tier(tmp_path):
    t = read_timing(write(tmp_path, "a.TextGrid", LONG_TG))
    assert labels(phones_to_visemes(t)) == [(0, 0.1, "sil"), (0.1, 0.2, "PP"), (0.2, 0.5, "aa")]


def test_textgrid_in_utf16_with_bom(tmp_path):
    t = read_timing(write(tmp_path, "a.TextGrid", "\ufeff" + LONG_TG, "utf-16-le"))
    assert [s.label for s in t.segments] == ["sil", "m", "ɑː"]


def textgrid_text(tiers, short: bool, end: float) -> str:
    def q(s):
        return '"' + s.replace('"', '""') + '"'
    if short:
        lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", str(end), "<exists>"]
        lines.append(str(len(tiers)))
        for name, ivs in tiers:
            lines += ['"IntervalTier"', q(name), "0", str(end), str(len(ivs))]
            for a, b, lab in ivs:
                lines += [repr(a), repr(b), q(lab)]
        return "\n".join(lines) + "\n"
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {end}",
             "tiers? <exists>", f"size = {len(tiers)}", "item []:"]
    for i, (name, ivs) in enumerate(tiers, 1):
        lines += [f"    item [{i}]:", '        class = "IntervalTier"', f"        name = {q(name)}",
                  "        xmin = 0", f"        xmax = {end}", f"        intervals: size = {len(ivs)}"]
        for j, (a, b, lab) in enumerate(ivs, 1):
            lines += [f"        intervals [{j}]:", f"            xmin = {a!r}", f"            xmax = {b!r}",
                      f"            text = {q(lab)}"]
    return "\n".join(lines) + "\n"


tier_labels = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=6)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0.001, 2.0), tier_labels), min_size=1, max_size=20), st.booleans())
def test_textgrid_parser_reads_back_what_was_written(items, short):
    t, ivs = 0.0, []
    for dur, lab in items:
        ivs.append((t, t + dur, lab))
        t += dur
    tiers = [("phones", ivs), ("words", [(0.0, t, 'say "hi" [1]')])]
    parsed = parse_textgrid(textgrid_text(tiers, short, t))
    assert parsed == tiers


cue_shapes = st.sampled_from(list("ABCDEFGHX"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(cue_shapes, st.integers(1, 60)), min_size=1, max_size=30),
       st.sampled_from(["rhubarb-tsv", "rhubarb-json", "rhubarb-xml"]))
def test_rhubarb_files_we_write_read_back_to_the_same_cues(tmp_path_factory, items, fmt):
    cues, t = [], 0
    for shape, cs in items:
        cues.append(Segment(t / 100, (t + cs) / 100, shape))
        t += cs
    cues = Track(cues, "shapes")
    rig = load_rig("rhubarb")
    ls = Lipsync("a.wav", t / 100, Track([Segment(0, t / 100, "sil")]), Curves(100, ["A"], np.zeros((1, 1))), rig,
                 cues=cues)
    path = tmp_path_factory.mktemp("rt") / ("out" + EXPORTERS[fmt].SUFFIX)
    path.write_text(EXPORTERS[fmt].render(ls, ExportOptions()))
    assert detect_format(path.read_text()) == fmt
    back = read_timing(path)
    want = [(round(s.start, 2), RHUBARB_SHAPE_VISEME[s.label]) for s in cues.segments]
    got = [(round(s.start, 2), s.label) for s in back.segments]
    merged = [w for i, w in enumerate(want) if i == 0 or w[1] != want[i - 1][1]]
    assert got == merged
    assert back.duration == pytest.approx(t / 100)


@pytest.mark.parametrize(("content", "problem"), [
    ("", "empty file"),
    ("   \n\n", "empty file"),
    ("hello there\nthis is prose\n", "not a timing file"),
    ('{"foo": 1}', "not a timing file"),
    ("0.0 0.1 §§\n", "unknown label '§§'"),
    ("0.0 0.1 sil\n0.1 nope p\n", "not a timing file"),
    ('[{"AudioOffset": 0, "VisemeId": 99}]', "not an Azure viseme id"),
    ("<html><body>hi</body></html>", "not a timing file"),
    ('File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n', "cannot be read"),
])
def test_bad_timing_files_get_a_one_line_error_naming_the_file(tmp_path, content, problem):
    p = write(tmp_path, "bad.tsv", content)
    with pytest.raises(VisemesError) as e:
        read_timing(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and problem in msg and "\n" not in msg


def test_binary_files_are_refused(tmp_path):
    p = tmp_path / "noise.tsv"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(VisemesError, match="binary data"):
        read_timing(p)
