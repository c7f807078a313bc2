"""Retargeting: rig channels find the user's morph targets whatever their spelling."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from visemes.curves import Curves
from visemes.errors import VisemesError
from visemes.rigs import load_rig
from visemes.rigs.retarget import apply, match, normalise, read_mapping

ARKIT = load_rig("arkit")
OCULUS = load_rig("oculus")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name)


def _side_suffix(name: str) -> str:
    return re.sub(r"Left$", "_L", re.sub(r"Right$", "_R", name))


SPELLINGS = [
    lambda n: n, str.upper, str.lower, _snake, lambda n: _snake(n).title(), _side_suffix,
    lambda n: "blendShape1." + n, lambda n: "Head:" + n, lambda n: "Genesis9__facs_bs_" + n,
    lambda n: n[0].upper() + n[1:], lambda n: "CTRL_expressions_" + n, lambda n: _side_suffix(n).replace("_", "-"),
]


@given(st.sampled_from(ARKIT.channels), st.sampled_from(SPELLINGS), st.sampled_from(SPELLINGS))
def test_spelling_does_not_matter(channel, spell_a, spell_b):
    assert normalise(spell_a(channel)) == normalise(spell_b(channel)) == normalise(channel)


def test_different_channels_stay_different():
    names = {normalise(c) for c in ARKIT.channels} | {normalise(c) for c in OCULUS.channels}
    assert len(names) == len(ARKIT.channels) + len(OCULUS.channels)


@given(st.permutations(ARKIT.channels), st.sampled_from(SPELLINGS))
def test_every_arkit_channel_finds_its_target_in_any_spelling(order, spell):
    m = match(ARKIT, [spell(c) for c in order])
    assert m.unmatched == () and m.unused == ()
    assert all(m.pairs[c] == (spell(c),) for c in ARKIT.channels)


def test_ready_player_me_and_vroid_names_come_from_the_alias_tables():
    m = match(OCULUS, ["viseme_sil", "viseme_PP", "viseme_I", "viseme_O", "viseme_U"])
    assert m.pairs["viseme_ih"] == ("viseme_I",) and m.pairs["viseme_ou"] == ("viseme_U",)
    m = match(load_rig("vrm"), ["Fcl_MTH_A", "Fcl_MTH_I", "Fcl_MTH_U", "Fcl_MTH_E", "Fcl_MTH_O", "Fcl_EYE_Close"])
    assert m.pairs == {"aa": ("Fcl_MTH_A",), "ih": ("Fcl_MTH_I",), "ou": ("Fcl_MTH_U",), "ee": ("Fcl_MTH_E",),
                       "oh": ("Fcl_MTH_O",)}
    assert m.unused == ("Fcl_EYE_Close",)


def test_nothing_matching_is_refused_with_examples_of_the_names():
    with pytest.raises(VisemesError, match=r"none of the 52 arkit channels matches any of its 3 morph targets "
                                           r"\(e.g. Key 1, Key 2, Key 3\)"):
        match(ARKIT, ["Key 1", "Key 2", "Key 3"], source="x.glb")


def test_several_channels_on_one_target_take_the_larger_weight():
    m = match(OCULUS, ["V_Open", "V_Explosive"])
    assert m.pairs["viseme_aa"] == ("V_Open",) and m.pairs["viseme_kk"] == ("V_Open",)
    values = np.zeros((3, len(OCULUS.channels)), np.float32)
    values[:, OCULUS.channels.index("viseme_aa")] = [0.2, 0.9, 0.0]
    values[:, OCULUS.channels.index("viseme_kk")] = [0.5, 0.1, 0.0]
    values[:, OCULUS.channels.index("viseme_PP")] = [0.0, 0.0, 1.0]
    out = apply(Curves(60, list(OCULUS.channels), values), m)
    assert set(out.channels) == {"V_Open", "V_Explosive"}
    np.testing.assert_allclose(out.channel("V_Open"), [0.5, 0.9, 0.0])
    np.testing.assert_allclose(out.channel("V_Explosive"), [0.0, 0.0, 1.0])


def test_mapping_files_in_json_and_csv(tmp_path):
    j = tmp_path / "m.json"
    j.write_text('{"jawOpen": "MouthOpen", "mouthPucker": ["Pucker_L", "Pucker_R"], "eyeBlinkLeft": ""}')
    c = tmp_path / "m.csv"
    c.write_text("# channel,target\njawOpen,MouthOpen\nmouthPucker,Pucker_L\nmouthPucker,Pucker_R\neyeBlinkLeft,\n")
    assert read_mapping(j) == read_mapping(c) == {"jawOpen": ["MouthOpen"], "mouthPucker": ["Pucker_L", "Pucker_R"],
                                                  "eyeBlinkLeft": []}
    m = match(ARKIT, ["MouthOpen", "Pucker_L", "Pucker_R", "eyeBlinkLeft", "jawOpen"], read_mapping(j))
    assert m.pairs["jawOpen"] == ("MouthOpen",) and "eyeBlinkLeft" in m.unmatched
    assert m.unused == ("eyeBlinkLeft", "jawOpen")
    bad = tmp_path / "bad.csv"
    bad.write_text("jawOpen,a,b\n")
    with pytest.raises(VisemesError, match=r"bad.csv: line 1: expected 'channel,target'"):
        read_mapping(bad)
