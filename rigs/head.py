"""The sample head: a procedural mesh with the 52 ARKit morph targets and the 15 Oculus visemes.

Built from numbers alone (nothing is fetched), so previews and tests always have
a rig to drive. The head is an ellipsoid with a nose, a mouth slit whose upper
and lower lips are separate vertices (so the mouth really opens), teeth, a
tongue and a dark mouth cavity. Each ARKit target is a displacement field
around the region it names; the jaw rotates about a hinge behind the mouth. The
Oculus viseme targets are the ARKit targets mixed by the ``arkit`` rig
profile's poses, so both rigs move the same face the same way.

Coordinates are metres, +Y up, the face looking along +Z; the subject's left is +X.
"""

from __future__ import annotations

import numpy as np

from visemes.mesh import MeshPart
from visemes.phones import VISEMES

from . import load_rig

RADII = np.array([0.075, 0.1, 0.09])
MOUTH_LAT = -0.36          # latitude of the mouth line (radians)
MOUTH_HALF_ANGLE = 0.42    # half the mouth width as a longitude (radians)
JAW_HINGE = np.array([0.0, -0.015, -0.02])
JAW_ANGLE = np.radians(24.0)
INTERIOR = ("teeth_upper", "teeth_lower", "tongue", "mouth")  # parts seen only through parted lips
SKIN, LIPS, DARK, WHITE, TONGUE = (0.8, 0.55, 0.45), (0.62, 0.22, 0.22), (0.04, 0.03, 0.03), (0.92, 0.9, 0.85), \
    (0.75, 0.3, 0.32)
HAIR = (0.18, 0.11, 0.07)


def sample_head(n_lat: int = 36, n_lon: int = 60) -> list[MeshPart]:
    """The sample head's parts: ``head``, ``teeth_upper``, ``teeth_lower``, ``tongue``, ``mouth``, ``ear_left``,
    ``ear_right``."""
    head = _head(n_lat, n_lon)
    mouth = _mouth_line()
    lower_teeth = _teeth(upper=False)
    tongue, cavity = _inside(_tongue()), _inside(_cavity())
    parts = [head, _teeth(upper=True), lower_teeth, tongue, cavity, _ear(1), _ear(-1)]
    _jaw_targets(lower_teeth, np.ones(len(lower_teeth.positions)))
    _jaw_targets(tongue, np.ones(len(tongue.positions)))
    # the floor of the mouth goes down with the jaw, so the cavity stays behind the chin as it turns
    _jaw_targets(cavity, _smooth(mouth[0][1] + 0.004, mouth[0][1] - 0.012, cavity.positions[:, 1]))
    _add_visemes(cavity)
    tongue.targets["tongueOut"] = _tongue_out(tongue.positions, mouth)
    _add_visemes(head)
    _add_visemes(lower_teeth)
    _add_visemes(tongue, extra={"DD": 0.8, "nn": 0.8, "SS": 0.4, "RR": 0.3})
    return parts


# ---------------------------------------------------------------- head surface

def _grid(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Latitudes (one row exactly on the mouth line), longitudes, and the mouth row's index."""
    below = np.linspace(-np.pi / 2, MOUTH_LAT, n_lat // 3 + 1)[1:]
    above = np.linspace(MOUTH_LAT, np.pi / 2, n_lat - len(below) + 1)[1:-1]
    lat = np.concatenate([below, above])
    lon = np.linspace(-np.pi, np.pi, n_lon, endpoint=False)
    return lat, lon, len(below) - 1


def _surface(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the head for latitude/longitude arrays: an ellipsoid with a nose, lips and a chin."""
    lat, lon = np.broadcast_arrays(lat, lon)
    d = np.stack([np.cos(lat) * np.sin(lon), np.sin(lat), np.cos(lat) * np.cos(lon)], axis=-1)
    p = d * RADII
    nose = 0.018 * np.exp(-(lon / 0.16) ** 2 - ((lat + 0.08) / 0.14) ** 2)
    lips = 0.006 * np.exp(-(lon / 0.45) ** 2 - ((lat - MOUTH_LAT) / 0.08) ** 2)
    chin = 0.006 * np.exp(-(lon / 0.35) ** 2 - ((lat + 0.7) / 0.15) ** 2)
    p[..., 2] += (nose + lips + chin) * np.clip(np.cos(lon), 0, None)
    p[..., 0] *= 1.0 - 0.18 * np.clip(-np.sin(lat), 0, None)  # narrower jaw
    return p


def _head(n_lat: int, n_lon: int) -> MeshPart:
    lat, lon, row = _grid(n_lat, n_lon)
    rows, cols = len(lat), len(lon)
    grid = _surface(lat[:, None], lon[None, :]).reshape(-1, 3)
    slit = np.flatnonzero(np.abs(lon) < MOUTH_HALF_ANGLE - 1e-9)   # columns whose lips part
    lower = {int(j): rows * cols + k for k, j in enumerate(slit)}  # lower-lip copies of those vertices
    south, north = rows * cols + len(slit), rows * cols + len(slit) + 1
    positions = np.concatenate([grid, grid[row * cols + slit], [[0, -RADII[1], 0], [0, RADII[1], 0]]])

    def vid(i: int, j: int, below_mouth: bool) -> int:
        j %= cols
        return lower[j] if below_mouth and i == row and j in lower else i * cols + j

    tris = []
    for i in range(rows - 1):
        for j in range(cols):
            a, b = vid(i, j, False), vid(i, j + 1, False)
            c, d = vid(i + 1, j + 1, True), vid(i + 1, j, True)
            tris += [(a, b, c), (a, c, d)]
    tris += [(south, (j + 1) % cols, j) for j in range(cols)]
    top = (rows - 1) * cols
    tris += [(north, top + j, top + (j + 1) % cols) for j in range(cols)]

    is_lower = np.zeros(len(positions), bool)
    is_lower[list(lower.values())] = True
    head = MeshPart("head", positions, np.array(tris), targets={})
    fields = _Fields(head.positions, is_lower)
    head.colors = fields.colors().astype(np.float32)
    head.targets = fields.arkit()
    return head


def _smooth(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _surface_radius(directions: np.ndarray) -> np.ndarray:
    """Distance from the head's centre to its surface along each unit direction (the surface is not a
    sphere: the latitude and longitude that point along a direction are found by a few fixed-point steps)."""
    want_lat, want_lon = np.arcsin(np.clip(directions[:, 1], -1, 1)), np.arctan2(directions[:, 0], directions[:, 2])
    lat, lon = want_lat.copy(), want_lon.copy()
    for _ in range(12):
        s = _surface(lat, lon)
        d = s / np.linalg.norm(s, axis=1, keepdims=True)
        lat += want_lat - np.arcsin(np.clip(d[:, 1], -1, 1))
        lon += want_lon - np.arctan2(d[:, 0], d[:, 2])
    return np.linalg.norm(_surface(lat, lon), axis=1)


def _inside(part: MeshPart, margin: float = 0.003) -> MeshPart:
    """``part`` with every vertex pulled at least ``margin`` inside the head's skin: an inner part must never
    show through closed lips or the chin."""
    p = part.positions.astype(np.float64)
    r = np.linalg.norm(p, axis=1)
    limit = _surface_radius(p / r[:, None]) - margin
    part.positions = (p * (np.minimum(r, limit) / r)[:, None]).astype(np.float32)
    return part


def _mouth_line() -> tuple[np.ndarray, float]:
    """The mouth's centre point and half width in metres."""
    centre = _surface(np.array(MOUTH_LAT), np.array(0.0))
    corner = _surface(np.array(MOUTH_LAT), np.array(MOUTH_HALF_ANGLE))
    return centre, float(corner[0])


class _Fields:
    """Region weights over the head's vertices, and the ARKit displacement fields built from them."""

    def __init__(self, p: np.ndarray, is_lower: np.ndarray) -> None:
        self.p = p.astype(np.float64)
        centre, half = _mouth_line()
        x, y, z = self.p.T
        self.mx = x / half                         # -1..1 across the mouth, +1 at the left corner
        self.my = (y - centre[1]) / 0.012          # lip heights
        self.front = _smooth(0.0, 0.05, z)
        below = np.where(is_lower, 1.0, 0.0)
        above = (~is_lower) & (y >= centre[1] - 1e-6)
        slit_upper = above & (np.abs(self.mx) < 1) & (np.abs(y - centre[1]) < 1e-6)
        y_eff = np.where(is_lower, centre[1] - 0.02, np.where(slit_upper, centre[1] + 0.01, y))
        self.jaw = self.front * _smooth(centre[1] + 0.004, centre[1] - 0.02, y_eff)
        width = np.exp(-np.maximum(np.abs(self.mx) - 0.7, 0) ** 2 / 0.09)
        height = np.exp(-self.my ** 2)
        self.upper = np.where(below > 0, 0.0, width * height * above) * self.front
        self.lower = np.where(above & ~is_lower, 0.0, width * height) * self.front
        self.lips = self.upper + self.lower
        # mouthClose lifts the whole lower lip, corners too, back onto the upper one over an open jaw
        self.seal = np.where(is_lower, 1.0, np.clip(self.lower * 1.2, 0, 1))
        self.left = _smooth(-0.4, 0.6, self.mx)
        self.right = _smooth(0.4, -0.6, self.mx)
        self.corner_l = np.exp(-((self.mx - 1) / 0.5) ** 2 - (self.my / 1.5) ** 2) * self.front
        self.corner_r = np.exp(-((self.mx + 1) / 0.5) ** 2 - (self.my / 1.5) ** 2) * self.front

    def blob(self, lat: float, lon: float, size: float) -> np.ndarray:
        """A soft spot on the surface around a latitude/longitude."""
        d = self.p / RADII
        c = np.array([np.cos(lat) * np.sin(lon), np.sin(lat), np.cos(lat) * np.cos(lon)])
        return np.exp(-np.sum((d / np.linalg.norm(d, axis=1, keepdims=True) - c) ** 2, axis=1) / size ** 2)

    def colors(self) -> np.ndarray:
        c = np.tile(np.array(SKIN), (len(self.p), 1))
        _, y, z = (self.p / RADII).T
        hair = (y > 0.55 - 0.35 * np.clip(-z, 0, 1)) | ((z < -0.2) & (y > -0.35))  # a cap over the crown and back
        c[hair] = HAIR
        c[self.lips > 0.45] = LIPS
        for side in (1, -1):
            c[self.blob(0.12, side * 0.38, 0.1) > 0.45] = (0.95, 0.95, 0.92)  # the white of the eye
            c[self.blob(0.12, side * 0.38, 0.06) > 0.5] = DARK
            c[self.blob(0.3, side * 0.36, 0.1) * (self.p[:, 2] > 0) > 0.6] = (0.25, 0.15, 0.1)
        return c

    def vec(self, weight: np.ndarray, d) -> np.ndarray:
        return weight[:, None] * np.asarray(d, dtype=np.float64)

    def jaw_open(self) -> np.ndarray:
        return _rotate_jaw(self.p) * self.jaw[:, None]

    def arkit(self) -> dict[str, np.ndarray]:
        t: dict[str, np.ndarray] = {}
        for side, sign, name in ((self.left, 1, "Left"), (self.right, -1, "Right")):
            corner = self.corner_l if sign > 0 else self.corner_r
            eye = self.blob(0.12, sign * 0.38, 0.09)
            eye_y = RADII[1] * np.sin(0.12)
            t[f"eyeBlink{name}"] = self.vec(eye * (eye_y - self.p[:, 1]), (0, 0.9, 0))  # lids meet mid-eye
            for look, d in (("Down", (0, -1, 0)), ("Up", (0, 1, 0)), ("In", (-sign, 0, 0)), ("Out", (sign, 0, 0))):
                t[f"eyeLook{look}{name}"] = self.vec(eye, np.array(d) * 0.004)
            t[f"eyeSquint{name}"] = self.vec(eye * (self.p[:, 1] < eye_y), (0, 0.003, 0))
            t[f"eyeWide{name}"] = self.vec(eye * (self.p[:, 1] > eye_y), (0, 0.003, 0.001))
            brow = self.blob(0.27, sign * 0.36, 0.12)
            t[f"browDown{name}"] = self.vec(brow, (0, -0.006, 0.001))
            t[f"browOuterUp{name}"] = self.vec(self.blob(0.26, sign * 0.5, 0.1), (0, 0.007, 0))
            t[f"cheekSquint{name}"] = self.vec(self.blob(-0.05, sign * 0.5, 0.12), (0, 0.004, 0.001))
            t[f"noseSneer{name}"] = self.vec(self.blob(-0.12, sign * 0.12, 0.08), (0, 0.004, 0.001))
            t[f"mouthSmile{name}"] = self.vec(corner, (sign * 0.004, 0.008, -0.004))
            t[f"mouthFrown{name}"] = self.vec(corner, (0, -0.007, -0.001))
            t[f"mouthDimple{name}"] = self.vec(corner, (sign * 0.003, 0, -0.005))
            t[f"mouthStretch{name}"] = self.vec(corner, (sign * 0.008, -0.003, -0.002))
            t[f"mouthPress{name}"] = self.vec(side * self.upper, (0, -0.0015, -0.002)) + \
                self.vec(side * self.lower, (0, 0.0015, -0.002))
            t[f"mouthLowerDown{name}"] = self.vec(side * (self.lower + 0.5 * self.jaw * np.exp(-self.my ** 2 / 4)),
                                                  (0, -0.008, 0.001))
            t[f"mouthUpperUp{name}"] = self.vec(side * self.upper, (0, 0.007, 0.001))
        t["browInnerUp"] = self.vec(self.blob(0.28, 0.15, 0.1) + self.blob(0.28, -0.15, 0.1), (0, 0.007, 0))
        t["cheekPuff"] = self._outward(self.blob(-0.22, 0.55, 0.15) + self.blob(-0.22, -0.55, 0.15), 0.012)
        jaw = self.jaw_open()
        t["jawOpen"] = jaw
        t["jawForward"] = self.vec(self.jaw, (0, 0, 0.008))
        t["jawLeft"] = self.vec(self.jaw, (0.008, 0, 0))
        t["jawRight"] = self.vec(self.jaw, (-0.008, 0, 0))
        t["mouthClose"] = -jaw * self.seal[:, None]
        round_x = -(self.p[:, 0])[:, None] * np.array([1.0, 0, 0])
        # a funnel parts the lips most in the middle and draws the corners in: a round opening, pushed forward
        middle = np.clip(1 - self.mx ** 2, 0, 1)
        t["mouthFunnel"] = self.vec(self.upper * middle, (0, 0.012, 0.004)) + \
            self.vec(self.lower * middle, (0, -0.012, 0.004)) + self.vec(self.lips, (0, 0, 0.008)) + \
            0.45 * round_x * self.lips[:, None]
        t["mouthPucker"] = self.vec(self.lips, (0, 0, 0.013)) + 0.6 * round_x * self.lips[:, None] + \
            self.vec(self.upper, (0, -0.001, 0)) + self.vec(self.lower, (0, 0.001, 0))
        t["mouthLeft"] = self.vec(self.lips + 0.5 * self.corner_l + 0.5 * self.corner_r, (0.008, 0, 0))
        t["mouthRight"] = self.vec(self.lips + 0.5 * self.corner_l + 0.5 * self.corner_r, (-0.008, 0, 0))
        t["mouthRollLower"] = self.vec(self.lower, (0, 0.003, -0.006))
        t["mouthRollUpper"] = self.vec(self.upper, (0, -0.003, -0.006))
        chin = self.blob(-0.7, 0.0, 0.2)
        t["mouthShrugLower"] = self.vec(self.lower + chin, (0, 0.004, 0.002))
        t["mouthShrugUpper"] = self.vec(self.upper, (0, 0.003, 0.002))
        t["tongueOut"] = self.vec(self.lower, (0, -0.002, 0.001))
        names = load_rig("arkit").channels
        return {n: t[n].astype(np.float32) for n in names}

    def _outward(self, weight: np.ndarray, amount: float) -> np.ndarray:
        n = self.p / RADII ** 2
        return weight[:, None] * amount * n / np.linalg.norm(n, axis=1, keepdims=True)


def _rotate_jaw(p: np.ndarray) -> np.ndarray:
    """Offsets that rotate points about the jaw hinge (the x axis through ``JAW_HINGE``) by ``JAW_ANGLE``."""
    q = p - JAW_HINGE
    c, s = np.cos(JAW_ANGLE), np.sin(JAW_ANGLE)
    rotated = np.stack([q[:, 0], q[:, 1] * c - q[:, 2] * s, q[:, 1] * s + q[:, 2] * c], axis=1)
    return rotated - q


# ---------------------------------------------------------------- inner parts

def _arc_band(y0: float, y1: float, radius: float, depth: float, color, name: str, n: int = 16) -> MeshPart:
    """A horseshoe band (teeth): an arc of quads facing forward, closed behind by a second arc."""
    centre, _ = _mouth_line()
    ang = np.linspace(-1.1, 1.1, n)
    zc = centre[2] - 0.012 - radius
    verts = []
    for r in (radius, radius - depth):
        for y in (y0, y1):
            verts += [(r * np.sin(a) * 0.95, centre[1] + y, zc + r * np.cos(a)) for a in ang]
    verts = np.array(verts)
    tris = []
    fo, fi = 0, 2 * n                                      # outer and inner arcs: rows (bottom, top)
    for base, flip in ((fo, False), (fi, True)):
        for j in range(n - 1):
            a, b, c, d = base + j, base + j + 1, base + n + j + 1, base + n + j
            tris += [(a, c, b), (a, d, c)] if flip else [(a, b, c), (a, c, d)]
    for j in range(n - 1):                                 # top and bottom edges
        tris += [(fo + n + j, fo + n + j + 1, fi + n + j + 1), (fo + n + j, fi + n + j + 1, fi + n + j)]
        tris += [(fo + j, fi + j + 1, fo + j + 1), (fo + j, fi + j, fi + j + 1)]
    return MeshPart(name, verts, np.array(tris), colors=np.tile(np.array(color), (len(verts), 1)))


def _teeth(upper: bool) -> MeshPart:
    if upper:
        return _arc_band(-0.003, 0.006, 0.028, 0.006, WHITE, "teeth_upper")  # their edge shows under the lip
    return _arc_band(-0.009, -0.0005, 0.027, 0.006, WHITE, "teeth_lower")


def _ellipsoid(centre, radii, n_lat: int = 10, n_lon: int = 16) -> tuple[np.ndarray, np.ndarray]:
    lat = np.linspace(-np.pi / 2, np.pi / 2, n_lat + 1)[1:-1]
    lon = np.linspace(-np.pi, np.pi, n_lon, endpoint=False)
    d = np.stack([np.cos(lat)[:, None] * np.sin(lon), np.sin(lat)[:, None] + 0 * lon,
                  np.cos(lat)[:, None] * np.cos(lon)], axis=-1).reshape(-1, 3)
    verts = np.concatenate([d, [[0, -1, 0], [0, 1, 0]]]) * radii + centre
    rows, cols = len(lat), n_lon
    tris = []
    for i in range(rows - 1):
        for j in range(cols):
            a, b = i * cols + j, i * cols + (j + 1) % cols
            c, d_ = (i + 1) * cols + (j + 1) % cols, (i + 1) * cols + j
            tris += [(a, b, c), (a, c, d_)]
    s, nth = rows * cols, rows * cols + 1
    tris += [(s, (j + 1) % cols, j) for j in range(cols)]
    tris += [(nth, (rows - 1) * cols + j, (rows - 1) * cols + (j + 1) % cols) for j in range(cols)]
    return verts, np.array(tris)


def _tongue() -> MeshPart:
    centre, _ = _mouth_line()  # behind the lower front teeth, resting on the floor of the mouth
    verts, tris = _ellipsoid(centre + np.array([0, -0.009, -0.037]), np.array([0.017, 0.006, 0.021]))
    return MeshPart("tongue", verts, tris, colors=np.tile(np.array(TONGUE), (len(verts), 1)))


def _tongue_out(p: np.ndarray, mouth: tuple[np.ndarray, float]) -> np.ndarray:
    tip = _smooth(mouth[0][2] - 0.05, mouth[0][2] - 0.006, p[:, 2])
    return (tip[:, None] * np.array([0, 0.002, 0.03])).astype(np.float32)


def _ear(side: int) -> MeshPart:
    """An ear on the ``side`` (+1 left, -1 right) at eye-to-nose height, half sunk into the head."""
    centre = np.array([side * RADII[0] * 0.96, -0.012, -0.008])
    verts, tris = _ellipsoid(centre, np.array([0.009, 0.024, 0.014]), n_lat=8, n_lon=12)
    shade = 1 - 0.25 * np.clip(side * (verts[:, 0] - centre[0]) / 0.009, 0, 1)  # the rim a little darker
    return MeshPart(f"ear_{'left' if side > 0 else 'right'}", verts, tris,
                    colors=np.array(SKIN) * (0.92 * shade)[:, None])


def _cavity() -> MeshPart:
    """The dark inside of the mouth, seen through the parted lips: the back half of an ellipsoid, a bowl
    whose rim lies just behind the front teeth, so teeth and tongue show in front of it."""
    centre, _ = _mouth_line()
    middle = centre + np.array([0, -0.006, -0.016])
    verts, tris = _ellipsoid(middle, np.array([0.032, 0.024, 0.03]), n_lat=12, n_lon=24)
    back = tris[np.all(verts[tris][:, :, 2] <= middle[2] + 1e-9, axis=1)]
    used, back = np.unique(back, return_inverse=True)  # only the vertices the bowl uses
    verts, back = verts[used], back.reshape(-1, 3)
    return MeshPart("mouth", verts, back[:, ::-1], colors=np.tile(np.array(DARK), (len(verts), 1)))


def _jaw_targets(part: MeshPart, weight: np.ndarray) -> None:
    p = part.positions.astype(np.float64)
    w = weight[:, None]
    part.targets.update({
        "jawOpen": (_rotate_jaw(p) * w).astype(np.float32),
        "jawForward": (w * [0, 0, 0.008]).astype(np.float32),
        "jawLeft": (w * [0.008, 0, 0]).astype(np.float32),
        "jawRight": (w * [-0.008, 0, 0]).astype(np.float32),
    })


def _add_visemes(part: MeshPart, extra: dict[str, float] | None = None) -> None:
    """Oculus viseme targets: the ARKit targets mixed by the ``arkit`` profile's poses.

    ``extra`` adds the tongue's own tip raise to visemes made with the tongue tip (tongue mesh only).
    """
    rig = load_rig("arkit")
    tip = None
    if extra:
        front = _smooth(part.positions[:, 2].min(), part.positions[:, 2].max(), part.positions[:, 2])
        tip = (front[:, None] * np.array([0, 0.009, 0.004])).astype(np.float32)
    for viseme in VISEMES:
        pose = rig.poses.get(viseme, {})
        d = np.zeros_like(part.positions)
        for ch, w in pose.items():
            if ch in part.targets:
                d += np.float32(w) * part.targets[ch]
        if tip is not None and viseme in extra:
            d += np.float32(extra[viseme]) * tip
        part.targets[f"viseme_{viseme}"] = d
