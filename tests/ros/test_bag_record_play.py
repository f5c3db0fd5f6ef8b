"""A real recording played through live DDS into the recorder comes back byte for byte."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import rclpy
from ros_helpers import spin_until
from std_srvs.srv import Trigger

from neuro_nodes.bag.event_packets import read_event_packets
from neuro_nodes.bag.reader import read_messages

pytestmark = pytest.mark.ros
NEURO = [sys.executable, "-m", "neuro_nodes.cli.main", "bag"]
TOPIC = "/event_camera/events"


@pytest.mark.parametrize("recording", ["event_camera_py_test_events_2",
                                       "event_camera_codecs_mono_cd"])
def test_play_into_record_is_lossless(shared_data: Path, tmp_path: Path, recording: str) -> None:
    source = shared_data / recording
    out = tmp_path / "rerecorded"
    player = subprocess.Popen([*NEURO, "play", str(source), "--start-paused"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    recorder = subprocess.Popen([*NEURO, "record", TOPIC, "-o", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("bag_probe")
    try:
        assert spin_until(node, lambda: node.count_subscribers(TOPIC) >= 1
                          and node.count_publishers(TOPIC) >= 1, 60.0), "no recorder/player"
        client = node.create_client(Trigger, "/player/resume")
        assert client.wait_for_service(timeout_sec=30)
        future = client.call_async(Trigger.Request())
        assert spin_until(node, future.done, 30.0)
        player_out = player.communicate(timeout=60)[0]
        assert player.returncode == 0, player_out
        spin_until(node, lambda: False, 1.0)  # let the last packets land
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        recorder.send_signal(signal.SIGINT)
        recorder_out = recorder.communicate(timeout=60)[0]
    assert recorder.returncode == 0, recorder_out

    original = [p.events.tobytes() for p in read_event_packets(source)]
    again = [p.events.tobytes() for p in read_event_packets(out)]
    assert again == original  # every packet, in order, byte for byte
    types = {m.msgtype for m in read_messages(out)}
    assert types == {"event_camera_msgs/msg/EventPacket"}  # legacy type played as EventPacket

    info = subprocess.run([*NEURO, "info", str(out), "--json"], capture_output=True, text=True,
                          timeout=60)
    assert info.returncode == 0, info.stderr
    text = json.dumps(json.loads(info.stdout))
    if recording == "event_camera_py_test_events_2":
        assert '"on": 211043' in text and '"off": 360223' in text
    else:
        assert '"events": 100' in text


def test_player_options_on_a_bag_we_wrote(tmp_path: Path) -> None:
    """Remap, start offset, /clock from bag time, pause + play_next, recorded QoS (v9 list)."""
    from rclpy.serialization import serialize_message
    from rosgraph_msgs.msg import Clock
    from std_msgs.msg import String

    from neuro_nodes.bag.writer import BagWriter

    bag = tmp_path / "strings"
    qos = ("- history: keep_last\n  depth: 10\n  reliability: reliable\n"
           "  durability: volatile\n")
    with BagWriter(bag) as writer:
        handle = writer.add_topic("/chatter", "std_msgs/msg/String",
                                  offered_qos_profiles=qos)
        for i in range(20):  # one message every 100 ms of bag time
            writer.write(handle, 1_000_000_000 + i * 100_000_000,
                         serialize_message(String(data=f"m{i}")))
    player = subprocess.Popen([*NEURO, "play", str(bag), "--remap", "/chatter:=/talk",
                               "--start-offset", "0.5", "--clock", "100", "--start-paused"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("play_probe")
    got: list[str] = []
    clock: list[int] = []
    node.create_subscription(String, "/talk", lambda m: got.append(m.data), 10)
    node.create_subscription(Clock, "/clock",
                             lambda m: clock.append(m.clock.sec * 10**9 + m.clock.nanosec), 10)
    try:
        assert spin_until(node, lambda: node.count_publishers("/talk") >= 1, 60.0)
        step = node.create_client(Trigger, "/player/play_next")
        assert step.wait_for_service(timeout_sec=30)
        spin_until(node, lambda: False, 0.5)
        future = step.call_async(Trigger.Request())
        assert spin_until(node, lambda: future.done() and got, 20.0)
        assert got == ["m5"]  # paused: exactly one message, the first after the offset
        resume = node.create_client(Trigger, "/player/resume")
        future = resume.call_async(Trigger.Request())
        assert spin_until(node, lambda: len(got) == 15, 30.0), got
        output = player.communicate(timeout=30)[0]
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        if player.poll() is None:
            player.kill()
    assert player.returncode == 0, output
    assert got == [f"m{i}" for i in range(5, 20)]
    assert clock and 1_500_000_000 <= max(clock) <= 2_900_000_000
