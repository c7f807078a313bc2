"""Triangle meshes with morph targets: what the sample head is, and what mesh exporters write.

A :class:`MeshPart` is one separately placed mesh (head, teeth, tongue...) with
per-vertex positions and normals, optional vertex colours, triangles and named
morph targets stored as position offsets from the rest shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MeshPart:
    """One mesh with its morph targets.

    Attributes
    ----------
    name : str
    positions : ndarray
        ``float32 [vertices, 3]``, metres, +Y up, the face looking along +Z (glTF's convention).
    triangles : ndarray
        ``uint32 [faces, 3]``, counter-clockwise seen from outside.
    colors : ndarray, optional
        ``float32 [vertices, 3]`` linear RGB in 0..1.
    targets : dict
        Morph target name -> ``float32 [vertices, 3]`` position offsets.
    """

    name: str
    positions: np.ndarray
    triangles: np.ndarray
    colors: np.ndarray | None = None
    targets: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.positions = np.ascontiguousarray(self.positions, dtype=np.float32)
        self.triangles = np.ascontiguousarray(self.triangles, dtype=np.uint32)
        if self.colors is not None:
            self.colors = np.ascontiguousarray(self.colors, dtype=np.float32)
        self.targets = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in self.targets.items()}

    @property
    def target_names(self) -> list[str]:
        return list(self.targets)

    def normals(self, weights: dict[str, float] | None = None) -> np.ndarray:
        """Area-weighted vertex normals of the rest shape, or of the shape posed with ``weights``."""
        return vertex_normals(self.posed(weights or {}), self.triangles)

    def posed(self, weights: dict[str, float]) -> np.ndarray:
        """Vertex positions with the named targets applied at the given weights."""
        p = self.positions.copy()
        for name, w in weights.items():
            if w and name in self.targets:
                p += np.float32(w) * self.targets[name]
        return p


def vertex_normals(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unit vertex normals, each the area-weighted mean of its faces' normals."""
    a, b, c = (positions[triangles[:, i]] for i in range(3))
    face = np.cross(b - a, c - a)
    n = np.zeros_like(positions)
    for i in range(3):
        np.add.at(n, triangles[:, i], face)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.maximum(length, 1e-12)).astype(np.float32)
