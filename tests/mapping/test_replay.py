"""Replay window: recent scans and novel keyframes are kept; carving drops exactly the
samples a newer scan contradicts."""

from __future__ import annotations

import numpy as np

from neuro_nodes.mapping.ray_sampling import RaySamples
from neuro_nodes.mapping.replay import RangeImage, ReplayWindow


def _s(points: list[list[float]], target: list[float], free: list[bool]) -> RaySamples:
    return RaySamples(np.array(points, np.float32), np.array(target, np.float32),
                      np.array(free, bool), np.zeros(len(target), np.float32))


def test_window_keeps_recent_and_novel() -> None:
    w = ReplayWindow(recent=2, max_keyframes=2, keyframe_novelty=0.5)
    for k, nov in enumerate([0.9, 0.1, 0.8, 0.7, 0.6, 0.2]):
        w.add(_s([[k, 0, 0]], [0.0], [False]), nov, float(k))
    assert [e.stamp_s for e in w.recent_entries] == [4.0, 5.0]
    assert sorted(e.stamp_s for e in w.keyframes) == [0.0, 2.0]  # the two most novel
    assert len(w.samples()) == 4


def test_range_image_nearest_return() -> None:
    img = RangeImage(np.array([[0, 0, 2.0], [0, 0, 3.0], [1.0, 0, 0]]), 0.01)
    r, r_bin = img.lookup(np.array([[0, 0, 1.0], [0, 1.0, 0]]))
    np.testing.assert_allclose(r, [1.0, 1.0])
    assert r_bin[0] == 2.0 and np.isinf(r_bin[1])


def test_carving() -> None:
    w = ReplayWindow(recent=5, max_keyframes=0, keyframe_novelty=1.0)
    # sensor at the origin looking along +z (identity pose); a new return at z = 3
    samples = _s([[0, 0, 1.0],   # old surface at 1 m: the new ray sees through -> dropped
                  [0, 0, 2.9],   # old surface close to the new return: kept
                  [0, 0, 4.0],   # behind the new return (occluded): kept
                  [0, 0, 3.02],  # old free-space sample on the new surface -> dropped
                  [0, 0, 1.5],   # old free-space sample in front: kept
                  [0.5, 0, -1]],  # behind the sensor: kept
                 [0.0, 0.0, -0.05, 0.4, 0.3, 0.0],
                 [False, False, False, True, True, False])
    w.add(samples, 0.0, 0.0)
    freed = w.carve(np.array([[0, 0, 3.0]]), np.eye(4), margin_m=0.1, bin_rad=0.01)
    assert w.dropped == 2
    np.testing.assert_allclose(freed, [[0, 0, 1.0]])  # the old surface place is free now
    np.testing.assert_allclose(w.samples().points[:, 2], [2.9, 4.0, 1.5, -1.0])
