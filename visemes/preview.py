"""Preview videos: a mesh with the curves applied, rendered off-screen and muxed with the audio.

``visemes preview speech.wav --rig arkit [--mesh character.glb] -o preview.mp4``
renders the sample head (or the user's glTF/VRM, retargeted like ``--into``)
from the front and at three-quarter view, side by side, one frame per
``1/fps``, and muxes the speech with ffmpeg (the binary from ``imageio-ffmpeg``).
Rendering is OpenGL 3.3 through moderngl on an EGL context, which Mesa's
llvmpipe provides without a display or a GPU.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .curves import Curves
from .errors import VisemesError, file_error
from .lipsync import Lipsync
from .mesh import MeshPart, vertex_normals

VERTEX_SHADER = """
#version 330
uniform mat4 mvp;
in vec3 in_position;
in vec3 in_normal;
in vec3 in_color;
out vec3 v_normal;
out vec3 v_color;
void main() {
    gl_Position = mvp * vec4(in_position, 1.0);
    v_normal = in_normal;
    v_color = in_color;
}
"""
FRAGMENT_SHADER = """
#version 330
uniform vec3 light;
in vec3 v_normal;
in vec3 v_color;
out vec4 f_color;
void main() {
    float diffuse = abs(dot(normalize(v_normal), light));  // two-sided: the mouth's inside is lit too
    f_color = vec4(v_color * (0.3 + 0.75 * diffuse), 1.0);
}
"""
VIEWS = {"front": 0.0, "three-quarter": 35.0}  # degrees about the vertical axis
BACKGROUND = (0.16, 0.17, 0.2)


@dataclass
class Scene:
    """Mesh parts, their per-frame target weights, and the region the camera frames."""

    parts: list[MeshPart]
    weights: list[np.ndarray]  # per part, [frames, targets] in the part's target order
    centre: np.ndarray
    radius: float
    turns: np.ndarray | None = None  # [frames, 3, 3] head rotations about ``pivot`` (expression layer)
    pivot: np.ndarray | None = None


def scene(lipsync: Lipsync, mesh: str | Path | None, fps: float, duration: float | None = None,
          mapping: str | Path | None = None) -> Scene:
    """The curves of ``lipsync`` (resampled to ``fps``) on the sample head or on ``mesh``, one frame per tick of
    ``duration`` (the audio's length; default the lipsync's).

    Raises
    ------
    VisemesError
        When the mesh has no morph targets the rig's channels can drive.
    """
    from visemes.exporters import ExportOptions, retarget
    from visemes.exporters.gltf import head_gltf, head_rotations, node_weights, read_gltf, scene_parts
    from visemes.rigs.head import sample_head

    g = read_gltf(mesh) if mesh else head_gltf(sample_head())
    lipsync = retarget(lipsync, "gltf", ExportOptions(into=str(mesh) if mesh else None,
                                                      mapping=str(mapping) if mapping else None))
    c = lipsync.curves.resample(fps)
    frames = max(1, round((duration or lipsync.duration) * fps))
    values = np.vstack([c.values, np.repeat(c.values[-1:], max(0, frames - c.frames), axis=0)])[:frames]
    per_node = node_weights(g.doc, c.channels, values)
    placed = scene_parts(g)
    if not placed:
        raise file_error(mesh or "sample head", "has no triangle meshes to render")
    parts = [p for _, p in placed]
    weights = [per_node.get(n, np.zeros((frames, len(p.targets))))[:, :len(p.targets)] for n, p in placed]
    moving = [p.positions[np.any(np.abs(np.stack(list(p.targets.values()))).sum(axis=0) > 1e-6, axis=1)]
              for (n, p) in placed if n in per_node and p.targets]
    moving = [m for m in moving if len(m)]
    region = np.concatenate(moving or [p.positions for p in parts])
    lo, hi = region.min(axis=0), region.max(axis=0)
    centre = (lo + hi) / 2
    radius = float(max(np.linalg.norm(hi - lo) / 2, 1e-3))
    if moving:  # frame the face around the moving region, not the whole body
        radius = max(radius * 1.2, 0.06)
    turns = pivot = None
    q = head_rotations(replace(lipsync, curves=Curves(fps, c.channels, values))) if mesh is None else None
    if q is not None:  # the sample head turns about its neck
        from scipy.spatial.transform import Rotation

        turns = Rotation.from_quat(q).as_matrix()
        everything = np.concatenate([p.positions for p in parts])
        pivot = np.array([0.0, everything[:, 1].min(), 0.0])
    return Scene(parts, weights, centre, radius, turns, pivot)


def _perspective(fov_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    f = 1 / np.tan(np.radians(fov_deg) / 2)
    return np.array([[f / aspect, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)], [0, 0, -1, 0]])


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, [0, 1, 0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = right, up, -fwd
    m[:3, 3] = -m[:3, :3] @ eye
    return m


class Renderer:
    """Off-screen OpenGL renderer of a :class:`Scene`: ``frame(i)`` gives ``uint8 [H, W*views, 3]``."""

    def __init__(self, sc: Scene, size: int = 360, views: tuple[str, ...] = tuple(VIEWS)):
        import moderngl

        try:
            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception:  # no EGL: a desktop context, where there is a display
            try:
                self.ctx = moderngl.create_standalone_context()
            except Exception as e:
                raise VisemesError(f"no OpenGL available for rendering ({e}); install Mesa's EGL "
                                   "(Debian: libegl1 libgl1-mesa-dri)") from None
        self.scene, self.size, self.views = sc, size, views
        self.prog = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        self.fbo = self.ctx.simple_framebuffer((size * len(views), size))
        self.buffers = []
        for p in sc.parts:
            vbo = self.ctx.buffer(reserve=len(p.positions) * 9 * 4, dynamic=True)
            ibo = self.ctx.buffer(p.triangles.astype("u4").tobytes())
            vao = self.ctx.vertex_array(self.prog, [(vbo, "3f 3f 3f", "in_position", "in_normal", "in_color")], ibo)
            deltas = np.stack(list(p.targets.values())).reshape(len(p.targets), -1) if p.targets else None
            self.buffers.append((vbo, vao, deltas))

    def _matrix(self, degrees: float) -> np.ndarray:
        sc = self.scene
        a = np.radians(degrees)
        distance = sc.radius / np.tan(np.radians(30) / 2) * 1.05
        eye = sc.centre + distance * np.array([np.sin(a), 0.0, np.cos(a)])
        proj = _perspective(30, 1.0, distance * 0.1, distance * 10)
        return (proj @ _look_at(eye, sc.centre)).astype("f4")

    def frame(self, i: int) -> np.ndarray:
        import moderngl

        self.fbo.use()
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.fbo.clear(*BACKGROUND, 1.0)
        for p, w, (vbo, _, deltas) in zip(self.scene.parts, self.scene.weights, self.buffers, strict=True):
            pos = p.positions + (w[i] @ deltas).reshape(-1, 3) if deltas is not None else p.positions
            if self.scene.turns is not None:
                pos = (pos - self.scene.pivot) @ self.scene.turns[i].T + self.scene.pivot
            data = np.hstack([pos, vertex_normals(pos.astype(np.float32), p.triangles), p.colors])
            vbo.write(data.astype("f4").tobytes())
        self.prog["light"].value = tuple(np.array([0.3, 0.4, 0.87]) / np.linalg.norm([0.3, 0.4, 0.87]))
        for k, view in enumerate(self.views):
            self.ctx.viewport = (k * self.size, 0, self.size, self.size)
            self.prog["mvp"].write(self._matrix(VIEWS[view]).T.tobytes())
            for _, vao, _ in self.buffers:
                vao.render()
        raw = self.fbo.read(components=3)
        return np.frombuffer(raw, np.uint8).reshape(self.size, self.size * len(self.views), 3)[::-1]

    def release(self) -> None:
        self.ctx.release()


def lip_gaps(sc: Scene, frames, interior: tuple[str, ...], size: int = 360, view: str = "front") -> np.ndarray:
    """The opening between the lips, in pixels, as one view of each frame shows it.

    Each frame is rendered as it is seen, with the same geometry and camera, but with the parts named by
    ``interior`` (the start of a part's name: ``teeth_upper`` matches ``teeth_upper.0``) painted green and
    every other part red, so what lips and skin hide stays hidden and what shows between them is counted
    exactly. The gap is the longest vertical run of mouth interior in any pixel column; 0 means closed lips."""
    def paint(p: MeshPart) -> MeshPart:
        inside = p.name.split(".")[0] in interior
        return replace(p, colors=np.tile(np.array((0.0, 1.0, 0.0) if inside else (1.0, 0.0, 0.0), np.float32),
                                         (len(p.positions), 1)))

    renderer = Renderer(replace(sc, parts=[paint(p) for p in sc.parts]), size, (view,))
    try:
        gaps = []
        for i in frames:
            pixels = renderer.frame(i).astype(int)
            gaps.append(lip_gap((pixels[..., 1] > 40) & (pixels[..., 0] < 20)))
    finally:
        renderer.release()
    return np.array(gaps, dtype=int)


def lip_gap(mask: np.ndarray) -> int:
    """The longest vertical run of True in any column of a ``[rows, columns]`` mask of mouth interior."""
    padded = np.pad(mask.astype(np.int8), ((1, 1), (0, 0)))
    edges = np.diff(padded, axis=0)
    best = 0
    for col in range(mask.shape[1]):
        starts, stops = np.flatnonzero(edges[:, col] == 1), np.flatnonzero(edges[:, col] == -1)
        if len(starts):
            best = max(best, int((stops - starts).max()))
    return best


def render_stills(sc: Scene, out: str | Path, frames: list[int], size: int = 360,
                  labels: list[str] | None = None, columns: int = 5) -> None:
    """Stills of ``sc`` as one PNG, atomically: one frame shows both views at ``size`` pixels; several make a
    contact sheet of front views, ``columns`` to a row, each captioned by its ``labels``."""
    import io

    from matplotlib import image

    from .fileio import write_bytes

    renderer = Renderer(sc, size, tuple(VIEWS) if len(frames) == 1 else ("front",))
    try:
        tiles = [renderer.frame(i) for i in frames]
    finally:
        renderer.release()
    buf = io.BytesIO()
    if len(tiles) == 1:
        image.imsave(buf, tiles[0], format="png")
    else:
        _contact_sheet(tiles, labels or [""] * len(tiles), columns).savefig(buf, format="png")
    write_bytes(out, buf.getvalue())


def _contact_sheet(tiles: list[np.ndarray], labels: list[str], columns: int):
    from matplotlib.figure import Figure

    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    size = tiles[0].shape[0]
    fig = Figure(figsize=(columns * size / 100, rows * (size + 28) / 100), dpi=100,
                 facecolor=BACKGROUND)
    for k, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.imshow(tile)
        ax.set_title(label, color="white", fontsize=11)
        ax.axis("off")
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - 26 / (rows * (size + 28)), wspace=0.02,
                        hspace=28 / size)  # room above each tile for its caption
    return fig


def ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise VisemesError("videos need ffmpeg: pip install 'visemes[preview]' (or 'visemes[render]')") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_mp4(out: str | Path, images, fps: float, sound: str | Path | None, tags: dict[str, str] | None = None,
              progress=None, finish=None) -> None:
    """Encode RGB ``uint8 [H, W, 3]`` frames (H.264) with ``sound`` (AAC) and container ``tags`` into ``out``,
    atomically (custom tag keys are kept with ``movflags use_metadata_tags``); ``finish(path)``, when given,
    works on the finished temporary file before it takes the output's name (a C2PA signature)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
    except OSError as e:
        raise file_error(out, f"cannot write here ({e.strerror or e})") from None
    proc = None
    try:
        for img in images:
            if proc is None:  # the size is known with the first frame
                h, w = img.shape[:2]
                cmd = [ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                       "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-"]
                if sound is not None:
                    cmd += ["-i", str(sound), "-c:a", "aac", "-b:a", "128k"]
                for key, value in (tags or {}).items():
                    cmd += ["-metadata", f"{key}={value}"]
                cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "20",
                        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart+use_metadata_tags",
                        "-f", "mp4", tmp]
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            proc.stdin.write(np.ascontiguousarray(img, np.uint8).tobytes())
            if progress:
                progress(1)
        if proc is None:
            raise file_error(out, "no frames to write")
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise file_error(out, f"ffmpeg failed ({err.strip().splitlines()[-1] if err.strip() else 'no message'})")
        if finish is not None:
            finish(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        if proc is not None and proc.poll() is None:
            proc.kill()
        Path(tmp).unlink(missing_ok=True)
        raise


def render_video(sc: Scene, out: str | Path, fps: float, audio: str | Path | None, size: int = 360,
                 progress=None) -> None:
    """Encode every frame of ``sc`` (H.264) with ``audio`` (AAC) into ``out``, atomically."""
    renderer = Renderer(sc, size)
    try:
        write_mp4(out, (renderer.frame(i) for i in range(len(sc.weights[0]) if sc.weights else 0)), fps, audio,
                  progress=progress)
    finally:
        renderer.release()
