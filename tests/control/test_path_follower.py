"""Pure pursuit: closed-loop on a unicycle it tracks a loop and stops at a path's end."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuro_nodes.control.path_follower import (
    PathFollower,
    PathFollowerParams,
    as_waypoints,
    circle_waypoints,
)


def drive(follower: PathFollower, pose: tuple[float, float, float], seconds: float,
          dt: float = 0.02) -> tuple[np.ndarray, list]:
    """Integrate a unicycle under the follower's commands; the poses and commands."""
    x, y, yaw = pose
    poses, cmds = [], []
    for _ in range(round(seconds / dt)):
        c = follower.step(x, y, yaw)
        cmds.append(c)
        x += c.v * math.cos(yaw) * dt
        y += c.v * math.sin(yaw) * dt
        yaw += c.omega * dt
        poses.append((x, y, yaw))
    return np.array(poses), cmds


def distance_to_polyline(points: np.ndarray, w: np.ndarray) -> np.ndarray:
    a, b = w[:-1], w[1:]
    ab = b - a
    s = np.clip(np.einsum("nkd,kd->nk", points[:, None] - a, ab) / (ab * ab).sum(1), 0, 1)
    closest = a + s[..., None] * ab
    return np.linalg.norm(points[:, None] - closest, axis=2).min(1)


def test_loop_is_tracked_closely_and_goes_round_more_than_once() -> None:
    w = circle_waypoints(1.2, 12)
    f = PathFollower(w, PathFollowerParams(speed=0.3, lookahead_m=0.4))
    poses, cmds = drive(f, (1.2, 0.0, math.pi / 2), 60.0)
    settled = poses[250:]  # after 5 s
    err = distance_to_polyline(settled[:, :2], f.waypoints)
    assert err.max() < 0.08, err.max()
    # counter-clockwise round and round: the unwrapped polar angle grows past 2 laps
    ang = np.unwrap(np.arctan2(poses[:, 1], poses[:, 0]))
    assert ang[-1] - ang[0] > 2 * 2 * np.pi
    assert all(abs(c.omega) <= 1.2 + 1e-12 for c in cmds)
    assert not any(c.done for c in cmds)


def test_starting_off_the_path_and_facing_away_it_turns_and_joins() -> None:
    w = circle_waypoints(1.2, 12)
    f = PathFollower(w, PathFollowerParams(speed=0.3))
    poses, cmds = drive(f, (0.0, 0.0, math.pi), 40.0)  # centre, facing -x, path ahead at +x
    assert cmds[0].v == 0.0 and abs(cmds[0].omega) == pytest.approx(1.2)  # turns on the spot
    err = distance_to_polyline(poses[-500:, :2], f.waypoints)
    assert err.max() < 0.08


def test_open_path_ends_at_its_last_waypoint_and_stops() -> None:
    w = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    f = PathFollower(w, PathFollowerParams(loop=False, speed=0.3, goal_tolerance_m=0.05))
    poses, cmds = drive(f, (0.0, 0.0, 0.0), 30.0)
    assert cmds[-1].done and (cmds[-1].v, cmds[-1].omega) == (0.0, 0.0)
    assert np.linalg.norm(poses[-1, :2] - w[-1]) < 0.06
    first_done = next(i for i, c in enumerate(cmds) if c.done)
    assert all(c.done for c in cmds[first_done:])  # it stays stopped
    assert f.segment == 1
    f.reset()
    assert not f.done and f.step(0.0, 0.0, 0.0).v > 0


def test_a_closed_loop_is_not_short_cut_where_its_ends_meet() -> None:
    # a square loop; starting at the start corner, progress must go through every side
    w = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    f = PathFollower(w, PathFollowerParams(speed=0.3, lookahead_m=0.3))
    seen = set()
    x, y, yaw = 0.0, 0.0, 0.0
    for _ in range(1500):
        c = f.step(x, y, yaw)
        seen.add(f.segment)
        x += c.v * math.cos(yaw) * 0.02
        y += c.v * math.sin(yaw) * 0.02
        yaw += c.omega * 0.02
    assert seen == {0, 1, 2, 3}


def test_bad_waypoints_and_poses_are_refused() -> None:
    np.testing.assert_array_equal(as_waypoints([0, 0, 1, 0]), [[0, 0], [1, 0]])
    with pytest.raises(ValueError, match="x, y pairs"):
        as_waypoints([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2"):
        as_waypoints([[0.0, 1.0]])
    with pytest.raises(ValueError, match="finite"):
        as_waypoints([[0.0, 1.0], [np.nan, 0.0]])
    with pytest.raises(ValueError, match="same"):
        as_waypoints([[0.0, 1.0], [0.0, 1.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match="pose must be finite"):
        PathFollower([[0, 0], [1, 0]]).step(float("nan"), 0.0, 0.0)
    with pytest.raises(ValueError, match="speed"):
        PathFollower([[0, 0], [1, 0]], PathFollowerParams(speed=-1.0))
