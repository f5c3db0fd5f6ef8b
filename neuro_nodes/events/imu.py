"""IMU samples recorded with events (e.g. a DAVIS346's IMU in AEDAT4), in REP-145 units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Standard gravity (m/s^2, the SI definition of 1 g): accelerometers in g are scaled by it.
STANDARD_GRAVITY = 9.80665


@dataclass(frozen=True, eq=False)
class ImuArray:
    """``t`` (int64 ns, the events' clock), ``gyro`` (N x 3, rad/s), ``accel`` (N x 3,
    m/s^2), ``temperature`` (N, deg C; NaN when not measured), axes as the sensor gives them."""

    t: np.ndarray
    gyro: np.ndarray
    accel: np.ndarray
    temperature: np.ndarray

    @classmethod
    def empty(cls) -> ImuArray:
        return cls(np.empty(0, np.int64), np.empty((0, 3)), np.empty((0, 3)), np.empty(0))

    @classmethod
    def from_device_units(cls, t_us: np.ndarray, gyro_dps: np.ndarray, accel_g: np.ndarray,
                          temperature_c: np.ndarray) -> ImuArray:
        """From the units iniVation cameras record (dv-processing, AEDAT4): time in us,
        gyroscope in deg/s, accelerometer in g."""
        return cls(np.asarray(t_us, np.int64) * 1000,
                   np.deg2rad(np.asarray(gyro_dps, np.float64)).reshape(-1, 3),
                   (np.asarray(accel_g, np.float64) * STANDARD_GRAVITY).reshape(-1, 3),
                   np.asarray(temperature_c, np.float64))

    @classmethod
    def concatenate(cls, arrays: Sequence[ImuArray]) -> ImuArray:
        if not arrays:
            return cls.empty()
        return cls(np.concatenate([a.t for a in arrays]),
                   np.concatenate([a.gyro for a in arrays]),
                   np.concatenate([a.accel for a in arrays]),
                   np.concatenate([a.temperature for a in arrays]))

    def __len__(self) -> int:
        return int(self.t.size)

    def __getitem__(self, key: slice | np.ndarray) -> ImuArray:
        return ImuArray(self.t[key], self.gyro[key], self.accel[key], self.temperature[key])
