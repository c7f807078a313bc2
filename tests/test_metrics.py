"""The accuracy ruler: what each metric counts, on hand-made tracks and on the bundled real speech."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, real_speech_alignments, run_cli, shared_folder
from hypothesis import given
from hypothesis import strategies as st

from visemes import metrics
from visemes.errors import VisemesError
from visemes.phones import VISEME_INDEX, VISEMES


def write(path, rows):
    path.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))
    return path


def frames(*labels_and_lengths):
    """Per-frame viseme indices from (viseme or None, frames) pairs."""
    return np.concatenate([np.full(n, -1 if v is None else VISEME_INDEX[v]) for v, n in labels_and_lengths])


def classes(v15):
    return np.where(v15 >= 0, metrics._CLASS_OF_VISEME[np.maximum(v15, 0)], 0)


def test_a_prediction_equal_to_the_reference_scores_one(tmp_path):
    ref = write(tmp_path / "ref.tsv", [(0, 0.3, "sil"), (0.3, 0.4, "M"), (0.4, 0.6, "AA1"), (0.6, 0.8, "sil")])
    pred = write(tmp_path / "pred.tsv", [(0, 0.3, "sil"), (0.3, 0.4, "PP"), (0.4, 0.6, "aa"), (0.6, 0.8, "sil")])
    s = metrics.score_files(ref, pred)
    assert (s.frames, s.acc15, s.acc6, s.acc6_tol, s.close_f1, s.speech) == (80, 1.0, 1.0, 1.0, 1.0, 1.0)


def test_frames_without_a_lip_shape_are_left_out(tmp_path):
    ref = write(tmp_path / "ref.tsv", [(0, 0.5, "HH"), (0.5, 1.0, "AA1")])
    pred = write(tmp_path / "pred.tsv", [(0, 0.5, "PP"), (0.5, 1.0, "aa")])
    s = metrics.score_files(ref, pred)
    assert s.frames == 50 and s.acc6 == 1.0


def test_rhubarb_change_points_score_by_mouth_class_only(tmp_path):
    ref = write(tmp_path / "ref.tsv", [(0, 0.2, "sil"), (0.2, 0.3, "B"), (0.3, 0.5, "AA1"), (0.5, 0.6, "F")])
    pred = write(tmp_path / "pred.tsv", [(0.0, "X"), (0.2, "A"), (0.3, "D"), (0.5, "G"), (0.6, "X")])
    s = metrics.score_files(ref, pred)
    assert s.acc15 is None and s.acc6 == 1.0 and s.close_f1 == 1.0


def test_the_tolerant_accuracy_forgives_30_ms_and_no_more():
    ref = frames(("sil", 20), ("aa", 20), ("sil", 20))
    for shift, tol_acc in ((3, 1.0), (4, 58 / 60)):
        pred = np.roll(ref, shift)
        s = metrics.score_frames(ref, pred, classes(pred))
        assert s.acc6_tol == pytest.approx(tol_acc)


def test_a_closure_is_found_within_40_ms_and_missed_beyond():
    ref = frames(("sil", 30), ("PP", 8), ("aa", 30))
    near = frames(("sil", 41), ("PP", 5), ("aa", 22))  # starts 3 frames after the reference closure ends
    far = frames(("sil", 42), ("PP", 5), ("aa", 21))
    assert metrics.score_frames(ref, near, classes(near)).closures == metrics.Closures(1, 1, 1, 1)
    assert metrics.score_frames(ref, far, classes(far)).closures == metrics.Closures(1, 0, 1, 0)


def test_closure_f1_pools_counts_over_files():
    a, b = metrics.Closures(4, 3, 4, 3), metrics.Closures(0, 0, 2, 0)  # b: a file without p/b/m
    assert (a + b).f1 == pytest.approx(2 * 0.5 * 0.75 / 1.25)
    assert metrics.Closures().f1 is None and metrics.Closures(0, 0, 1, 0).f1 == 0.0


def test_totals_weigh_files_by_their_frames():
    ref = frames(("aa", 30))
    right = metrics.score_frames(ref, ref, classes(ref), "right")
    wrong_pred = frames(("ou", 10))
    wrong = metrics.score_frames(frames(("aa", 10)), wrong_pred, classes(wrong_pred), "wrong")
    assert metrics.total([right, wrong])["acc6"] == pytest.approx(0.75)
    assert metrics.report([right, wrong]).splitlines()[-1].startswith("TOTAL files=2 frames=40 acc15=0.750")


@given(st.lists(st.tuples(st.sampled_from(VISEMES), st.integers(1, 40)), min_size=1, max_size=30),
       st.lists(st.tuples(st.sampled_from(VISEMES), st.integers(1, 40)), min_size=1, max_size=30))
def test_every_metric_is_a_fraction_and_identity_scores_one(ref_runs, pred_runs):
    ref = frames(*ref_runs)
    pred = np.resize(frames(*pred_runs), len(ref))
    s = metrics.score_frames(ref, pred, classes(pred))
    assert all(0.0 <= x <= 1.0 for x in (s.acc15, s.acc6, s.acc6_tol, s.speech, s.close_f1 or 0.0))
    assert s.acc6 >= s.acc15 and s.acc6_tol >= s.acc6
    same = metrics.score_frames(ref, ref, classes(ref))
    assert (same.acc15, same.acc6, same.acc6_tol, same.speech) == (1.0, 1.0, 1.0, 1.0)
    assert same.close_f1 in (None, 1.0)


@given(st.text(max_size=200))
def test_any_prediction_text_is_read_or_refused_with_the_file_named(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("p") / "pred.tsv"
    path.write_text(text, encoding="utf-8")
    try:
        rows = metrics.read_prediction(path)
    except VisemesError as e:
        assert str(e).startswith(str(path))
    else:
        assert rows and all(isinstance(s, float) and isinstance(e, float) for s, e, _ in rows)


def test_labels_that_are_neither_visemes_nor_shapes_are_refused(tmp_path):
    ref = write(tmp_path / "ref.tsv", [(0, 0.5, "AA1")])
    pred = write(tmp_path / "pred.tsv", [(0, 0.5, "open")])
    with pytest.raises(VisemesError, match=r"pred\.tsv: labels open are neither"):
        metrics.score_files(ref, pred)


def test_the_score_command_prints_a_row_per_file_and_the_totals(tmp_path):
    refs = real_speech_alignments()[:3]
    for ref in refs:
        assert run_cli("bake", ref, "-f", "segments", "-o", tmp_path / ref.name).returncode == 0
    r = run_cli("score", "--ref-dir", refs[0].parent, "--pred-dir", tmp_path)
    assert r.returncode == 2 and "no prediction" in r.stderr  # the other five files are not baked
    one = run_cli("score", refs[0], tmp_path / refs[0].name)
    assert one.returncode == 0, one.stderr
    lines = one.stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["file", "frames", "acc15", "acc6"]
    assert lines[-1].startswith("TOTAL files=1") and "acc6=1.000" in lines[-1]


# ---- the team's data folder (run when VISEMES_SHARED names it; .ci/run does) -----------------------


@pytest.mark.shared
def test_the_ruler_agrees_with_the_teams_score_py_on_the_validation_set():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "metrics_agree.py"), "--eval-dir",
                        str(shared_folder() / "eval")], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" same") == 5


@pytest.mark.shared
def test_the_japanese_validation_recording_maps_and_bakes(tmp_path):
    from visemes.timing import read_timing

    ref = shared_folder() / "eval" / "real-speech" / "jsut_basic5000_0001.tsv"
    assert read_timing(ref).phone_set == "kana"
    out = tmp_path / "ja.tsv"
    assert run_cli("bake", ref.with_suffix(".wav"), "-f", "segments", "-o", out).returncode == 0
    assert metrics.score_files(ref, out).acc6 >= 0.6
