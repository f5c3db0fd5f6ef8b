"""IMU: the noise model matches its densities; the simulated IMU reads gravity at rest."""

from __future__ import annotations

import numpy as np
import pytest

from sim.scenes.mobile_robot import mobile_robot_scene
from sim.sensors.imu import ImuNoise, ImuNoiseParams, SimImu
from sim.world import SimWorld

DT = 0.005  # 200 Hz


def _run(params: ImuNoiseParams, n: int) -> tuple[np.ndarray, np.ndarray]:
    noise = ImuNoise(params)
    out = [noise.apply(np.zeros(3), np.zeros(3), DT) for _ in range(n)]
    return np.array([a for a, _ in out]), np.array([g for _, g in out])


def test_white_noise_std_is_density_over_sqrt_dt() -> None:
    p = ImuNoiseParams(accel_random_walk=0.0, gyro_random_walk=0.0, seed=3)
    acc, gyr = _run(p, 20000)
    assert acc.std(axis=0) == pytest.approx(np.full(3, 2.0e-3 / np.sqrt(DT)), rel=0.03)
    assert gyr.std(axis=0) == pytest.approx(np.full(3, 1.6968e-4 / np.sqrt(DT)), rel=0.03)
    assert abs(acc.mean()) < 4 * 2.0e-3 / np.sqrt(DT) / np.sqrt(60000)


def test_bias_random_walk_grows_with_sqrt_time() -> None:
    p = ImuNoiseParams(accel_noise_density=0.0, gyro_noise_density=0.0, seed=4)
    acc, gyr = _run(p, 20000)
    # increments of the bias are N(0, sigma_b^2 dt)
    assert np.diff(acc, axis=0).std() == pytest.approx(3.0e-3 * np.sqrt(DT), rel=0.03)
    assert np.diff(gyr, axis=0).std() == pytest.approx(1.9393e-5 * np.sqrt(DT), rel=0.03)


def test_noise_is_deterministic_per_seed() -> None:
    a1, g1 = _run(ImuNoiseParams(seed=7), 50)
    a2, g2 = _run(ImuNoiseParams(seed=7), 50)
    a3, _ = _run(ImuNoiseParams(seed=8), 50)
    assert np.array_equal(a1, a2) and np.array_equal(g1, g2) and not np.array_equal(a1, a3)


def test_simulated_imu_at_rest_reads_gravity_and_no_rotation() -> None:
    world = SimWorld(mobile_robot_scene())
    world.step_until(0.3)
    exact = SimImu(world.model, noise=None).read(world.data)
    np.testing.assert_allclose(exact.linear_acceleration, [0, 0, 9.81], atol=0.05)
    np.testing.assert_allclose(exact.angular_velocity, 0, atol=1e-3)
    imu = SimImu(world.model, noise=ImuNoiseParams(seed=1))
    samples = []
    for _ in range(200):
        world.step(1)
        samples.append(imu.read(world.data).linear_acceleration)
    samples = np.array(samples)
    expected_std = 2.0e-3 / np.sqrt(world.timestep)
    assert samples[:, 2].std() == pytest.approx(expected_std, rel=0.2)
