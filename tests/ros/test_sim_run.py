"""``neuro sim run`` records a headless run to a bag that rosbags and mcap read back."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros


def test_sim_run_records_every_topic(tmp_path: Path) -> None:
    bag = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "neuro_nodes.cli.main", "sim", "run", "swimmer", "--duration",
         "1.0", "--rate", "0", "--set", "n_links=5", "-p", "width:=64", "-p", "height:=48",
         "--record", str(bag)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert re.match(r"sim: swimmer 1\.\d s simulated in [\d.]+ s .*recorded [\d,]+ messages on "
                    r"\d+ topics", summary), summary
    from rosbags.rosbag2 import Reader

    with Reader(bag) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        clock = [t for c, t, _ in reader.messages() if c.topic == "/clock"]
    assert topics["/events"] == "event_camera_msgs/msg/EventPacket"
    assert topics["/joint_states"] == "sensor_msgs/msg/JointState"
    assert topics["/tf_static"] == "tf2_msgs/msg/TFMessage"
    assert "/ground_truth/flow" in topics
    assert 90 <= len(clock) <= 110  # 1 s of sim time at 100 Hz, stamped in sim time
    assert clock == sorted(clock) and clock[-1] <= 1_050_000_000


def test_sim_run_rejects_bad_scene_parameter() -> None:
    proc = subprocess.run([sys.executable, "-m", "neuro_nodes.cli.main", "sim", "run",
                           "swimmer", "--set", "n_links=40", "--duration", "0.1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "n_links" in proc.stderr, proc.stderr
