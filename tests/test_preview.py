"""Pictures: timeline plots and preview videos, checked for content, not just existence."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from conftest import SAMPLES, run_cli

from visemes.animate import AnimationParams
from visemes.bake import lipsync_from_timing
from visemes.curves import Curves
from visemes.exporters.gltf import head_gltf, serialise
from visemes.mesh import MeshPart
from visemes.rigs import load_rig
from visemes.rigs.head import sample_head


def _png(path):
    import matplotlib.image

    return matplotlib.image.imread(path)


def test_a_timeline_png_shows_waveform_segments_and_curves(tmp_path):
    out = tmp_path / "timeline.png"
    r = run_cli("plot", SAMPLES / "hello.wav", "--rig", "arkit", "-o", out)
    assert r.returncode == 0, r.stderr
    img = _png(out)
    assert img.shape[1] > 800 and img.shape[0] > 400
    assert img[..., :3].std() > 0.1  # not blank
    colours = {tuple(np.round(px, 1)) for px in img[::7, ::7, :3].reshape(-1, 3)}
    assert len(colours) > 20  # segments, curves and text in many colours


def test_a_timeline_svg_carries_the_labels(tmp_path):
    out = tmp_path / "timeline.svg"
    r = run_cli("plot", SAMPLES / "hello.tsv", "--audio", SAMPLES / "hello.wav", "--rig", "vrm", "-o", out)
    assert r.returncode == 0, r.stderr
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for word in ("visemes", "phones", "seconds", "vrm"):
        assert word in svg


def test_plot_refuses_other_image_types(tmp_path):
    r = run_cli("plot", SAMPLES / "hello.tsv", "-o", tmp_path / "t.jpg")
    assert r.returncode == 1 and "write the plot as .png or .svg" in r.stderr and not (tmp_path / "t.jpg").exists()


def _probe(path) -> tuple[int, str]:
    import imageio_ffmpeg

    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path)], capture_output=True, text=True).stderr
    return frames, info


def test_a_preview_video_has_a_frame_per_tick_and_the_audio(tmp_path):
    out = tmp_path / "preview.mp4"
    r = run_cli("preview", SAMPLES / "hello.wav", "--rig", "arkit", "--fps", "15", "--size", "96", "-o", out)
    assert r.returncode == 0, r.stderr
    import soundfile as sf

    duration = sf.info(SAMPLES / "hello.wav").duration
    frames, info = _probe(out)
    assert frames == round(duration * 15)
    assert "Video: h264" in info and "Audio: aac" in info
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _render(weights: list[dict[str, float]], size: int = 128) -> np.ndarray:
    from visemes.preview import Renderer, Scene

    parts = sample_head()
    w = [np.array([[ws.get(name, 0.0) for name in p.targets] for ws in weights]).reshape(len(weights), -1)
         for p in parts]
    sc = Scene(parts, w, centre=np.array([0.0, -0.03, 0.05]), radius=0.09)
    r = Renderer(sc, size, views=("front",))
    try:
        return np.stack([r.frame(i).astype(float) for i in range(len(weights))])
    finally:
        r.release()


def test_the_mouth_region_differs_between_a_closed_and_an_open_viseme():
    closed, opened, closed_again = _render([{"viseme_PP": 1.0}, {"viseme_aa": 1.0}, {"viseme_PP": 1.0}])
    assert closed.std() > 20  # a face, not a blank frame
    np.testing.assert_array_equal(closed, closed_again)  # deterministic
    diff = np.abs(opened - closed).mean(axis=2)
    ys, xs = np.nonzero(diff > 30)
    assert len(ys) > 0.01 * diff.size  # a clear margin: over 1 % of the picture changes strongly
    h, w = diff.shape
    assert h * 0.45 < ys.mean() < h * 0.9 and abs(xs.mean() - w / 2) < w * 0.1  # and it is the mouth that moved


def test_preview_of_a_mesh_without_usable_targets_is_refused(tmp_path):
    head = sample_head()[0]
    plain = tmp_path / "plain.glb"
    plain.write_bytes(serialise(head_gltf([MeshPart("plain", head.positions, head.triangles)])))
    r = run_cli("preview", SAMPLES / "hello.tsv", "--mesh", plain, "-o", tmp_path / "p.mp4")
    assert r.returncode == 1 and "has no meshes with morph targets" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "p.mp4").exists()


def test_preview_follows_a_users_mesh_with_other_target_names(tmp_path):
    """A CC-named mesh previews through retargeting; its frames change with the speech."""
    from visemes.preview import Renderer, scene

    head = sample_head()[0]
    mesh = tmp_path / "cc.glb"
    mesh.write_bytes(serialise(head_gltf([MeshPart("Body", head.positions, head.triangles, head.colors,
                                                   {"Jaw_Open": head.targets["jawOpen"]})])))
    rig = load_rig("arkit")
    ls = lipsync_from_timing(SAMPLES / "hello.tsv", rig, AnimationParams.for_rig(rig))
    sc = scene(ls, mesh, 10.0)
    jaw = sc.weights[0][:, 0]
    assert jaw.max() > 0.3
    r = Renderer(sc, 64, views=("front",))
    try:
        a, b = r.frame(int(np.argmin(jaw))), r.frame(int(np.argmax(jaw)))
    finally:
        r.release()
    assert np.abs(a.astype(float) - b).mean() > 0.5
    assert isinstance(ls.curves, Curves)


def test_preview_takes_the_map_its_advice_names(tmp_path):
    head = sample_head()[0]
    mesh = tmp_path / "odd.glb"
    mesh.write_bytes(serialise(head_gltf([MeshPart("Body", head.positions, head.triangles, head.colors,
                                                   {"Kiefer": head.targets["jawOpen"]})])))
    r = run_cli("preview", SAMPLES / "hello.tsv", "--mesh", mesh, "-o", tmp_path / "p.png")
    assert r.returncode == 1 and "--map" in r.stderr and "usage:" not in r.stderr
    (tmp_path / "map.json").write_text('{"jawOpen": "Kiefer"}')
    r = run_cli("preview", SAMPLES / "hello.tsv", "--mesh", mesh, "--map", tmp_path / "map.json", "--at", "1.0",
                "-o", tmp_path / "p.png")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.parametrize("bad", ["--fps=0", "--size=8"])
def test_preview_checks_its_options(tmp_path, bad):
    r = run_cli("preview", SAMPLES / "hello.tsv", bad, "-o", tmp_path / "p.mp4")
    assert r.returncode == 1 and "--fps must be positive" in r.stderr


def test_a_png_output_is_one_still_of_both_views(tmp_path):
    out = tmp_path / "still.png"
    r = run_cli("preview", SAMPLES / "hello.tsv", "--at", "1.7", "--size", "80", "-o", out)
    assert r.returncode == 0, r.stderr
    img = _png(out)
    assert img.shape[:2] == (80, 160) and img[..., :3].std() > 0.05


def test_several_times_make_a_captioned_contact_sheet_of_front_views(tmp_path):
    out = tmp_path / "sheet.png"
    r = run_cli("preview", SAMPLES / "visemes.tsv", "--rig", "oculus", "--at", "0.25,0.75,1.25", "--columns", "2",
                "--size", "80", "-o", out)
    assert r.returncode == 0, r.stderr
    img = _png(out)
    assert img.shape[0] > 2 * 80 and 2 * 80 <= img.shape[1] < 3 * 80, "two rows of two columns"
    bad = run_cli("preview", SAMPLES / "visemes.tsv", "--at", "0.2,soon", "-o", tmp_path / "bad.png")
    assert bad.returncode == 1 and "--at takes seconds separated by commas" in bad.stderr
    assert not (tmp_path / "bad.png").exists()
