"""Twist integration: known rotations and translations, covariance growth, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.perception.odometry import (
    TwistIntegrator,
    rotation_to_quaternion_xyzw,
    so3_exp,
)

Q = np.diag([1.0, 1.0, 1.0, 0.01, 0.01, 0.01])


def test_constant_rotation_integrates_to_the_exact_angle() -> None:
    odo = TwistIntegrator()
    omega = np.array([0.0, 0.5, 0.0])  # about camera y (down): yaw in the optical frame
    for k in range(101):
        odo.advance(k * 0.01, omega, np.zeros(3), Q)
    angle = 0.5 * 1.0
    np.testing.assert_allclose(odo.rotation, so3_exp(np.array([0.0, angle, 0.0])), atol=1e-12)
    np.testing.assert_allclose(odo.quaternion_xyzw,
                               [0.0, np.sin(angle / 2), 0.0, np.cos(angle / 2)], atol=1e-12)
    np.testing.assert_allclose(odo.position, 0.0)


def test_translation_is_expressed_in_the_start_frame() -> None:
    odo = TwistIntegrator()
    odo.step(1.0, np.array([0.0, np.pi / 2, 0.0]), np.zeros(3), Q)  # turn 90 deg about y
    odo.step(2.0, np.zeros(3), np.array([0.0, 0.0, 1.5]), Q)  # then 1.5 m/s forward (z)
    # camera z after a +90 deg turn about y points along start +x
    np.testing.assert_allclose(odo.position, [3.0, 0.0, 0.0], atol=1e-12)


def test_covariance_grows_with_time_and_couples_heading_into_position() -> None:
    odo = TwistIntegrator()
    for k in range(11):
        odo.advance(0.1 * k, np.zeros(3), np.array([0.0, 0.0, 1.0]), Q)
    p = odo.covariance
    np.testing.assert_allclose(p, p.T, atol=1e-15)
    assert np.all(np.linalg.eigvalsh(p) >= -1e-15)
    # orientation: 10 steps of (0.1 s)^2 x 0.01 rad^2/s^2
    np.testing.assert_allclose(np.diag(p)[3:], 10 * 0.01 * 0.01, rtol=1e-12)
    # heading error about y moves the forward position along x: cross terms appear
    assert p[0, 4] != 0.0 and np.diag(p)[0] > 10 * 0.01 * 1.0
    before = np.trace(p)
    odo.advance(1.1, np.zeros(3), np.array([0.0, 0.0, 1.0]), Q)
    assert np.trace(odo.covariance) > before


def test_rotation_stays_orthonormal_after_many_steps() -> None:
    odo = TwistIntegrator()
    rng = np.random.default_rng(0)
    for _ in range(5000):
        odo.step(0.01, rng.normal(size=3), rng.normal(size=3), Q)
    np.testing.assert_allclose(odo.rotation @ odo.rotation.T, np.eye(3), atol=1e-12)


def test_quaternion_of_a_half_turn_and_identity() -> None:
    np.testing.assert_allclose(rotation_to_quaternion_xyzw(np.eye(3)), [0, 0, 0, 1])
    q = rotation_to_quaternion_xyzw(so3_exp(np.array([np.pi, 0.0, 0.0])))
    np.testing.assert_allclose(np.abs(q), [1, 0, 0, 0], atol=1e-12)


def test_bad_input_is_refused_and_the_state_kept() -> None:
    odo = TwistIntegrator()
    odo.advance(1.0, np.zeros(3), np.zeros(3), Q)
    with pytest.raises(ValueError, match="before the previous step"):
        odo.advance(0.5, np.zeros(3), np.zeros(3), Q)
    with pytest.raises(ValueError, match="finite"):
        odo.step(0.1, np.array([np.nan, 0, 0]), np.zeros(3), Q)
    with pytest.raises(ValueError, match=r"twist_covariance: expected shape \(6, 6\)"):
        odo.step(0.1, np.zeros(3), np.zeros(3), np.eye(3))
    assert odo.t_s == 1.0 and np.all(odo.covariance == 0) and np.all(odo.position == 0)
    odo.reset()
    assert odo.t_s is None
