"""Known-space grid: voxels along rays (and a band behind the return) are known, others not."""

from __future__ import annotations

import numpy as np

from neuro_nodes.mapping.known_space import KnownSpace
from neuro_nodes.mapping.types import MapBounds


def test_ray_marks_its_voxels_only() -> None:
    k = KnownSpace(MapBounds((0, 0, 0), (4, 4, 4)), 0.1)
    assert not k.contains(np.array([[1.0, 1.0, 1.0]])).any()
    k.mark_rays(np.array([0.55, 0.55, 0.55]), np.array([[2.55, 0.55, 0.55]]), behind_m=0.2)
    on = np.array([[0.6, 0.55, 0.55], [1.5, 0.55, 0.55], [2.7, 0.55, 0.55]])
    off = np.array([[2.9, 0.55, 0.55], [1.5, 0.85, 0.55], [-1.0, 0.5, 0.5], [9, 9, 9]])
    assert k.contains(on).all()
    assert not k.contains(off).any()
    k.reset()
    assert not k.grid.any()
