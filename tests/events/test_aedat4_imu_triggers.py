"""AEDAT4 written by dv-processing: events, IMU (REP-145 units) and triggers all come through."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from aedat4_helpers import N_EVENTS, N_IMU, write_dv_aedat4

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.imu import STANDARD_GRAVITY, ImuArray
from neuro_nodes.events.sources import open_sources
from neuro_nodes.events.trigger_array import TriggerArray


def test_reader_gives_events_imu_in_si_units_and_triggers(tmp_path: Path) -> None:
    path = tmp_path / "davis.aedat4"
    truth = write_dv_aedat4(path)
    (source,) = open_sources(path)
    assert (source.width, source.height) == (346, 260)
    chunks = list(source.chunks())
    events = EventArray.concatenate([c.events for c in chunks])
    assert len(events) == N_EVENTS
    assert np.array_equal(events.t, truth["t"] * 1000) and np.array_equal(events.x, truth["x"])
    imu = ImuArray.concatenate([c.imu for c in chunks])
    assert len(imu) == N_IMU and np.array_equal(imu.t, truth["imu_t"] * 1000)
    np.testing.assert_allclose(imu.gyro, np.deg2rad(truth["gyro"]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(imu.accel, truth["accel"] * STANDARD_GRAVITY, rtol=1e-6,
                               atol=1e-5)
    np.testing.assert_allclose(imu.temperature, truth["temp"], rtol=1e-6)
    triggers = TriggerArray.concatenate([c.triggers for c in chunks])
    assert np.array_equal(triggers.t, truth["trig_t"] * 1000)
    assert np.array_equal(triggers.value, truth["trig_value"])
    assert set(triggers.id.tolist()) == {0}


def test_events_info_reports_imu_and_triggers(tmp_path: Path) -> None:
    path = tmp_path / "davis.aedat4"
    truth = write_dv_aedat4(path)
    cmd = [sys.executable, "-m", "neuro_nodes.cli.main", "events", "info", str(path)]
    proc = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    n_rise = int(truth["trig_value"].sum())
    assert (info["events"], info["imu_samples"]) == (N_EVENTS, N_IMU)
    assert (info["trigger_rise"], info["trigger_fall"]) == (n_rise, len(truth["trig_t"]) - n_rise)
    assert abs(info["imu_rate_hz"] - 1000.0) < 1e-6
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    assert f"IMU {N_IMU} samples (1000.0 Hz)" in text
    assert f"triggers rising {n_rise}" in text


def test_truncated_dv_file_keeps_the_readable_events_and_imu(tmp_path: Path) -> None:
    import pytest

    from neuro_nodes.events.files import EventFileError, open_events

    path = tmp_path / "davis.aedat4"
    truth = write_dv_aedat4(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.aedat4"
    cut.write_bytes(data[: len(data) * 2 // 3])  # dv-processing cannot index this any more
    reader = open_events(cut)
    got: list[EventArray] = []
    with pytest.raises(EventFileError, match="corrupt or truncated"):
        got.extend(reader.chunks())
    events = EventArray.concatenate(got)
    assert 0 < len(events) < N_EVENTS
    assert np.array_equal(events.t, truth["t"][: len(events)] * 1000)
    imu = ImuArray.concatenate(reader.imu)
    assert 0 < len(imu) < N_IMU and np.array_equal(imu.t, truth["imu_t"][: len(imu)] * 1000)
    assert any("IMU and triggers read in file order" in w for w in reader.warnings)
    proc = subprocess.run([sys.executable, "-m", "neuro_nodes.cli.main", "events", "info",
                           str(cut)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert str(cut) in proc.stderr and "corrupt or truncated" in proc.stderr
