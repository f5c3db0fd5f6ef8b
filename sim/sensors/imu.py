"""IMU: MuJoCo accelerometer + gyro readings with a white-noise + bias-random-walk model.

Continuous-time model per axis (Kalibr / EuRoC convention)::

    measured(t) = true(t) + b(t) + n(t),   n: white noise of density sigma_n (unit/sqrt(Hz)),
    db/dt = w(t),                          w: white noise of density sigma_b (unit/s/sqrt(Hz))

discretised at the sample interval ``dt``: ``n_k ~ N(0, sigma_n^2 / dt)`` and
``b_k = b_{k-1} + N(0, sigma_b^2 dt)``; ``b_0 ~ N(0, bias_init^2)``. Defaults are the
ADIS16448 values of the EuRoC MAV dataset's ``imu0.yaml``.

=========================== ========== =========================================
parameter                   default    meaning
=========================== ========== =========================================
accel_noise_density         2.0e-3     sigma_n of the accelerometer (m/s^2/sqrt(Hz))
accel_random_walk           3.0e-3     sigma_b of the accelerometer (m/s^3/sqrt(Hz))
accel_bias_init             0.0        std of the initial accelerometer bias (m/s^2)
gyro_noise_density          1.6968e-4  sigma_n of the gyro (rad/s/sqrt(Hz))
gyro_random_walk            1.9393e-5  sigma_b of the gyro (rad/s^2/sqrt(Hz))
gyro_bias_init              0.0        std of the initial gyro bias (rad/s)
rate_hz                     200.0      nominal sample rate (first sample's dt)
seed                        0          noise seed (same seed, same noise)
=========================== ========== =========================================

The accelerometer measures specific force (``+g`` up at rest) in the IMU site's axes; the gyro
the angular velocity in the same axes. ``orientation`` of a sample is the site's true world
orientation (sensor_msgs/Imu carries it; set its covariance as unknown if you do not trust it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from neuro_nodes.core.params import param, validated
from sim.spatial import mat_to_quat


@dataclass(frozen=True)
class ImuNoiseParams:
    """IMU noise densities (table in the module docstring)."""

    accel_noise_density: float = param(2.0e-3, "Accelerometer white noise density "
                                       "(m/s^2/sqrt(Hz))", min=0.0, max=10.0)
    accel_random_walk: float = param(3.0e-3, "Accelerometer bias random walk (m/s^3/sqrt(Hz))",
                                     min=0.0, max=10.0)
    accel_bias_init: float = param(0.0, "Std of the initial accelerometer bias (m/s^2)",
                                   min=0.0, max=10.0)
    gyro_noise_density: float = param(1.6968e-4, "Gyro white noise density (rad/s/sqrt(Hz))",
                                      min=0.0, max=10.0)
    gyro_random_walk: float = param(1.9393e-5, "Gyro bias random walk (rad/s^2/sqrt(Hz))",
                                    min=0.0, max=10.0)
    gyro_bias_init: float = param(0.0, "Std of the initial gyro bias (rad/s)", min=0.0, max=10.0)
    rate_hz: float = param(200.0, "Nominal sample rate (Hz)", min=1.0, max=1e5)
    seed: int = param(0, "Noise seed", min=0, max=2**32 - 1)


class ImuNoise:
    """Stateful noise of one 3-axis accelerometer and gyro (see the module docstring)."""

    def __init__(self, params: ImuNoiseParams | None = None) -> None:
        self.params = validated(params or ImuNoiseParams())
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        p = self.params
        self._rng = np.random.default_rng(p.seed if seed is None else seed)
        self.accel_bias = self._rng.normal(0.0, p.accel_bias_init, 3) if p.accel_bias_init \
            else np.zeros(3)
        self.gyro_bias = self._rng.normal(0.0, p.gyro_bias_init, 3) if p.gyro_bias_init \
            else np.zeros(3)

    def apply(self, accel: np.ndarray, gyro: np.ndarray,
              dt: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Noisy copies of one true sample taken ``dt`` after the previous one."""
        p = self.params
        dt = 1.0 / p.rate_hz if dt is None or dt <= 0 else float(dt)
        z = self._rng.standard_normal((4, 3))
        self.accel_bias = self.accel_bias + p.accel_random_walk * math.sqrt(dt) * z[0]
        self.gyro_bias = self.gyro_bias + p.gyro_random_walk * math.sqrt(dt) * z[1]
        accel_n = np.asarray(accel, float) + self.accel_bias \
            + p.accel_noise_density / math.sqrt(dt) * z[2]
        gyro_n = np.asarray(gyro, float) + self.gyro_bias \
            + p.gyro_noise_density / math.sqrt(dt) * z[3]
        return accel_n, gyro_n


@dataclass(frozen=True)
class ImuSample:
    t_ns: int
    linear_acceleration: np.ndarray  # m/s^2, specific force, IMU axes
    angular_velocity: np.ndarray  # rad/s, IMU axes
    orientation: np.ndarray  # true world orientation of the IMU site (w, x, y, z)


class SimImu:
    """Reads the named accelerometer and gyro sensors of a model and adds :class:`ImuNoise`
    (``noise=None``: exact readings)."""

    def __init__(self, model: mujoco.MjModel, accel: str = "imu_accel", gyro: str = "imu_gyro",
                 noise: ImuNoiseParams | None = ImuNoiseParams()) -> None:
        self._acc = self._slice(model, accel)
        self._gyr = self._slice(model, gyro)
        sid = int(model.sensor_objid[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR,
                                                      accel)])
        self._site = sid
        self.noise = ImuNoise(noise) if noise is not None else None
        self._t_last: int | None = None

    @staticmethod
    def _slice(model: mujoco.MjModel, name: str) -> slice:
        i = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, name)
        if i < 0:
            raise KeyError(f"no sensor named {name!r}")
        adr, dim = int(model.sensor_adr[i]), int(model.sensor_dim[i])
        return slice(adr, adr + dim)

    def reset(self, seed: int | None = None) -> None:
        self._t_last = None
        if self.noise is not None:
            self.noise.reset(seed)

    def read(self, data: mujoco.MjData) -> ImuSample:
        """One sample of the current state (call after ``mj_forward``/``SimWorld.step``)."""
        t_ns = round(data.time * 1e9)
        accel = data.sensordata[self._acc].copy()
        gyro = data.sensordata[self._gyr].copy()
        if self.noise is not None:
            dt = None if self._t_last is None else (t_ns - self._t_last) * 1e-9
            accel, gyro = self.noise.apply(accel, gyro, dt)
        self._t_last = t_ns
        quat = mat_to_quat(data.site_xmat[self._site].reshape(3, 3))
        return ImuSample(t_ns, accel, gyro, quat)


__all__ = ["ImuNoise", "ImuNoiseParams", "ImuSample", "SimImu"]
