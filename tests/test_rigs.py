"""Rig profiles are data: built-ins load, user files work, and mistakes are named precisely."""

import json

import numpy as np
import pytest

from visemes.errors import VisemesError
from visemes.phones import VISEMES
from visemes.rigs import builtin_names, load_rig

ARKIT_SPEECH = ["jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthSmileRight",
                "mouthPressLeft", "mouthRollLower", "mouthRollUpper", "mouthShrugUpper", "mouthLowerDownLeft",
                "mouthUpperUpRight", "tongueOut"]


def test_the_profiles_users_expect_ship_with_the_package():
    assert {"oculus", "arkit", "vrm", "vrm0", "rhubarb", "vtubestudio", "live2d"} <= set(builtin_names())


def test_arkit_has_the_52_apple_names_and_poses_speech_with_them():
    rig = load_rig("arkit")
    assert len(rig.channels) == 52 and len(set(rig.channels)) == 52
    assert rig.channels[17] == "jawOpen" and rig.channels[-1] == "tongueOut"
    used = {ch for pose in rig.poses.values() for ch in pose}
    assert set(ARKIT_SPEECH) <= used
    pm = rig.pose_matrix()
    jaw = rig.channels.index("jawOpen")
    assert pm[VISEMES.index("aa"), jaw] > pm[VISEMES.index("ih"), jaw] > pm[VISEMES.index("PP"), jaw]


def test_vrm_profiles_use_the_lip_expression_names():
    assert load_rig("vrm").channels == ("aa", "ih", "ou", "ee", "oh")
    assert load_rig("vrm0").channels == ("A", "I", "U", "E", "O")


def test_oculus_rig_is_one_channel_per_viseme():
    rig = load_rig("oculus")
    assert np.array_equal(rig.pose_matrix(), np.eye(15, dtype=np.float32))


def test_rhubarb_is_discrete_with_a_shape_per_viseme():
    rig = load_rig("rhubarb")
    assert rig.discrete and set(rig.channels) == set("ABCDEFGHX")
    assert rig.shapes["PP"] == "A" and rig.shapes["FF"] == "G" and rig.shapes["sil"] == "X"


def test_rest_values_fill_unposed_channels():
    rig = load_rig("live2d")
    form = rig.channels.index("ParamMouthForm")
    assert rig.pose_matrix()[0, form] == pytest.approx(0.5)
    assert rig.ranges["ParamMouthForm"] == (-1.0, 1.0)


@pytest.mark.parametrize("name", builtin_names())
def test_a_profile_written_out_loads_back_the_same(tmp_path, name):
    rig = load_rig(name)
    p = tmp_path / f"{name}-copy.json"
    p.write_text(json.dumps(rig.to_dict()))
    again = load_rig(p)
    assert again.to_dict() == rig.to_dict()


def good_profile() -> dict:
    return load_rig("vrm").to_dict()


@pytest.mark.parametrize(("mutate", "key", "expected"), [
    (lambda d: d.update(poeses=d.pop("poses")), "poeses", "did you mean 'poses'"),
    (lambda d: d["poses"]["aa"].update(aaa=1.0), "poses.aa.aaa", "not one of the profile's channels"),
    (lambda d: d["poses"]["E"].update(ee=1.5), "poses.E.ee", "number from 0 to 1"),
    (lambda d: d["poses"].pop("ou"), "poses", "missing visemes ou"),
    (lambda d: d["poses"].update(Aa=d["poses"].pop("aa")), "poses.Aa", "did you mean 'aa'"),
    (lambda d: d.update(kind="smooth"), "kind", "continuous, discrete"),
    (lambda d: d.pop("channels"), "channels", "missing"),
    (lambda d: d.update(timing={"anticipaton_s": 0.1}), "timing.anticipaton_s", "did you mean 'anticipation_s'"),
    (lambda d: d.update(loudness_channels=["jaw"]), "loudness_channels.jaw", "not one of the profile's channels"),
])
def test_a_bad_profile_names_the_file_the_key_and_what_was_expected(tmp_path, mutate, key, expected):
    d = good_profile()
    mutate(d)
    p = tmp_path / "mine.json"
    p.write_text(json.dumps(d))
    with pytest.raises(VisemesError) as e:
        load_rig(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: {key}:") and expected in msg and "\n" not in msg


def test_a_profile_that_is_not_json_says_so(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"name": "x", ')
    with pytest.raises(VisemesError, match=r"broken\.json: not a valid profile file"):
        load_rig(p)


def test_an_unknown_rig_name_lists_the_built_ins():
    with pytest.raises(VisemesError, match=r"unknown rig 'arkt'.*arkit"):
        load_rig("arkt")


def test_toml_profiles_load_too(tmp_path):
    p = tmp_path / "tiny.toml"
    lines = ['name = "tiny"', 'kind = "continuous"', 'channels = ["open"]', "[poses]"]
    lines += [f'{v} = {{ open = {0.8 if v in ("aa", "E", "oh") else 0.0} }}' for v in VISEMES]
    p.write_text("\n".join(lines) + "\n")
    rig = load_rig(p)
    assert rig.name == "tiny" and rig.pose_matrix()[VISEMES.index("aa"), 0] == pytest.approx(0.8)
