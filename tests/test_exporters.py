"""Exporters write each format the way its readers expect, atomically."""

import csv
import itertools
import json
import os
import stat
from xml.etree import ElementTree

import jsonschema
import numpy as np
import pytest
from conftest import ROOT, SAMPLES

from visemes.bake import Settings, bake_file
from visemes.exporters import EXPORTERS, ExportOptions
from visemes.fileio import atomic_write
from visemes.phones import VISEMES

SCHEMA = json.loads((ROOT / "exporters" / "visemes.schema.json").read_text())


def bake(tmp_path, fmt, rig="arkit", **export):
    out = tmp_path / f"out{EXPORTERS[fmt].SUFFIX}"
    ls = bake_file(SAMPLES / "hello.tsv", [(fmt, out)], Settings(rig=rig, export=ExportOptions(**export)))
    return ls, out


def test_json_follows_the_published_schema_with_keyframes(tmp_path):
    ls, out = bake(tmp_path, "json", keyframe_error=0.02)
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["format"] == "visemes" and doc["version"] == 1
    assert doc["curves"]["frames"] == len(doc["curves"]["values"]) == ls.curves.frames
    assert len(doc["curves"]["values"][0]) == len(doc["rig"]["channels"]) == 52
    assert doc["phone_set"] == "ipa" and doc["phones"][2]["phone"] == "h"
    jaw = doc["keyframes"]["channels"]["jawOpen"]
    frames = np.array(doc["curves"]["values"])[:, doc["rig"]["channels"].index("jawOpen")]
    rebuilt = np.interp(np.arange(len(frames)) / doc["curves"]["fps"], jaw["times"], jaw["values"])
    assert np.max(np.abs(rebuilt - frames)) <= 0.02 + 1e-3  # + rounding to 4 decimals
    assert len(jaw["times"]) < 0.7 * len(frames)


def test_json_of_a_discrete_rig_carries_its_cues(tmp_path):
    _, out = bake(tmp_path, "json", rig="rhubarb")
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert {c["shape"] for c in doc["cues"]} <= set("ABCDEFGHX")


def test_csv_has_a_time_column_and_one_column_per_channel(tmp_path):
    ls, out = bake(tmp_path, "csv", rig="vrm")
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["time", "aa", "ih", "ou", "ee", "oh"]
    assert len(rows) - 1 == ls.curves.frames
    assert float(rows[2][0]) == pytest.approx(1 / 60, abs=1e-6)
    assert all(0 <= float(x) <= 1 for r in rows[1:] for x in r[1:])


def test_segments_are_contiguous_canonical_visemes_with_confidence(tmp_path):
    ls, out = bake(tmp_path, "segments")
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert all(len(r) == 4 and r[2] in VISEMES and 0 <= float(r[3]) <= 1 for r in rows)
    assert float(rows[0][0]) == 0 and float(rows[-1][1]) == pytest.approx(ls.duration, abs=1e-3)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(rows))


def test_rhubarb_tsv_json_and_xml_agree(tmp_path):
    _, tsv = bake(tmp_path, "rhubarb-tsv")
    _, js = bake(tmp_path, "rhubarb-json")
    _, xml = bake(tmp_path, "rhubarb-xml")
    points = [line.split("\t") for line in tsv.read_text().splitlines()]
    assert all(len(t.split(".")[1]) == 2 for t, _ in points), "centiseconds, as Rhubarb writes"
    assert points[0] == ["0.00", "X"] and points[-1][1] == "X"
    cues = json.loads(js.read_text())["mouthCues"]
    assert [(f"{c['start']:.2f}", c["value"]) for c in cues] == [tuple(p) for p in points[:-1]]
    assert f"{cues[-1]['end']:.2f}" == points[-1][0]
    root = ElementTree.parse(xml).getroot()
    assert root.tag == "rhubarbResult" and root.find("metadata/soundFile").text == "hello.tsv"
    assert [(c.get("start"), c.text) for c in root.iter("mouthCue")] == [tuple(p) for p in points[:-1]]


@pytest.mark.parametrize(("preston", "names"), [(False, set("ABCDEFGHX")),
                                                 (True, {"MBP", "etc", "E", "AI", "O", "U", "FV", "L", "rest"})])
def test_moho_switch_data(tmp_path, preston, names):
    ls, out = bake(tmp_path, "moho-dat", moho_fps=24, preston_blair=preston)
    lines = out.read_text().splitlines()
    assert lines[0] == "MohoSwitch1"
    frames = [int(line.split()[0]) for line in lines[1:]]
    assert frames[0] == 1 and frames == sorted(set(frames))
    assert frames[-1] == 1 + int(24 * ls.duration)
    assert {line.split()[1] for line in lines[1:]} <= names


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "keep.json"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(out) as f:
        f.write("half")
        raise RuntimeError("disk on fire")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_outputs_get_the_usual_file_permissions(tmp_path):
    _, out = bake(tmp_path, "csv")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_every_format_is_listed_with_a_suffix_and_description():
    assert set(EXPORTERS) == {"json", "csv", "segments", "rhubarb-tsv", "rhubarb-json", "rhubarb-xml", "moho-dat",
                              "gltf", "fbx", "unity", "unreal", "vrma"}
    suffixes = [m.SUFFIX for m in EXPORTERS.values()]
    assert len(set(suffixes)) == len(suffixes), "several formats can share one output folder"
