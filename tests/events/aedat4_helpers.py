"""An AEDAT4 file written by dv-processing (iniVation's own library): events, IMU, triggers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 346, 260
N_EVENTS, N_IMU = 30_000, 300  # 0.3 s: IMU at 1 kHz
T0_US = 1_700_000_000_000_000


def write_dv_aedat4(path: Path) -> dict:
    """Writes the file in 10 ms slices (events, IMU, triggers interleaved as a camera does);
    returns what was written (times in us, IMU in the file's units: g, deg/s)."""
    import dv_processing as dv

    rng = np.random.default_rng(11)
    t = T0_US + np.sort(rng.integers(0, 300_000, N_EVENTS))
    x, y = rng.integers(0, WIDTH, N_EVENTS), rng.integers(0, HEIGHT, N_EVENTS)
    p = rng.integers(0, 2, N_EVENTS)
    imu_t = T0_US + np.arange(N_IMU) * 1000
    gyro = rng.normal(0, 30, (N_IMU, 3))       # deg/s
    accel = rng.normal(0, 0.2, (N_IMU, 3)) + [0, -1, 0]  # g
    temp = 30 + rng.normal(0, 0.1, N_IMU)
    trig_t = T0_US + np.arange(5_000, 300_000, 20_000)
    trig_kind = [dv.TriggerType.EXTERNAL_SIGNAL_RISING_EDGE if k % 2 == 0 else
                 dv.TriggerType.EXTERNAL_SIGNAL_FALLING_EDGE for k in range(len(trig_t))]
    config = dv.io.MonoCameraWriter.Config("DAVIS346_00000001")
    config.addEventStream((WIDTH, HEIGHT))
    config.addImuStream()
    config.addTriggerStream()
    writer = dv.io.MonoCameraWriter(str(path), config)
    for start in range(0, 300_000, 10_000):
        lo, hi = T0_US + start, T0_US + start + 10_000
        store = dv.EventStore()
        for i in np.flatnonzero((t >= lo) & (t < hi)):
            store.push_back(int(t[i]), int(x[i]), int(y[i]), bool(p[i]))
        writer.writeEvents(store)
        for i in np.flatnonzero((imu_t >= lo) & (imu_t < hi)):
            writer.writeImu(dv.IMU(int(imu_t[i]), float(temp[i]), *map(float, accel[i]),
                                   *map(float, gyro[i]), 0.0, 0.0, 0.0))
        for i in np.flatnonzero((trig_t >= lo) & (trig_t < hi)):
            writer.writeTrigger(dv.Trigger(int(trig_t[i]), trig_kind[i]))
    del writer  # closes the file
    return dict(t=t, x=x, y=y, p=p, imu_t=imu_t, gyro=gyro, accel=accel, temp=temp,
                trig_t=trig_t, trig_value=(np.arange(len(trig_t)) % 2 == 0).astype(np.uint8))
