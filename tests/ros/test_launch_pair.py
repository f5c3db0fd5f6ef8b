"""Two real nodes started by ``neuro launch`` from a YAML launch file talk over DDS."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from event_camera_msgs.msg import EventPacket
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.parameter import Parameter
from ros_helpers import spin_until
from sensor_msgs.msg import Image

from neuro_nodes.ros.qos import EVENTS_QOS, SENSOR_QOS

pytestmark = pytest.mark.ros
LAUNCH = Path(__file__).resolve().parents[1] / "launch_files" / "pair.launch.yaml"


def call(node, client, request, timeout: float = 10.0):
    assert client.wait_for_service(timeout_sec=timeout), f"no service {client.srv_name}"
    future = client.call_async(request)
    assert spin_until(node, future.done, timeout), f"{client.srv_name} did not answer"
    return future.result()


@pytest.fixture
def launched(shared_data):
    recording = shared_data / "event_camera_py_test_events_2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "neuro_nodes.cli.main", "launch", str(LAUNCH),
         f"recording:={recording}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("pair_test_probe")
    yield proc, node
    node.destroy_node()
    rclpy.try_shutdown()
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_pair_exchanges_messages_params_reach_nodes_and_bad_set_is_refused(launched) -> None:
    proc, node = launched
    packets: list[EventPacket] = []
    images: list[Image] = []
    node.create_subscription(EventPacket, "/events", packets.append, EVENTS_QOS)
    node.create_subscription(Image, "/rendered", images.append, SENSOR_QOS)
    assert spin_until(node, lambda: packets and images, 30.0), (
        f"no data: {len(packets)} packets, {len(images)} images")

    # parameters from the params YAML reached the nodes and are in effect
    assert packets[-1].header.frame_id == "test_optical_frame"
    assert images[-1].header.frame_id == "test_optical_frame"
    assert images[-1].data[0] == 255 or any(images[-1].data)  # white background in use
    get = node.create_client(GetParameters, "/event_camera/get_parameters")
    values = call(node, get, GetParameters.Request(names=["rate", "loop"])).values
    assert values[0].double_value == 2.0 and values[1].bool_value is True
    fps = call(node, node.create_client(GetParameters, "/event_renderer/get_parameters"),
               GetParameters.Request(names=["fps"])).values[0].double_value
    assert fps == 10.0

    # an out-of-range remote set is refused with its reason; the node keeps publishing
    setter = node.create_client(SetParameters, "/event_camera/set_parameters")
    bad = Parameter("rate", value=-1.0).to_parameter_msg()
    result = call(node, setter, SetParameters.Request(parameters=[bad])).results[0]
    assert not result.successful
    assert "rate" in result.reason or "range" in result.reason, result.reason
    assert call(node, get, GetParameters.Request(names=["rate"])).values[0].double_value == 2.0
    before = len(packets)
    assert spin_until(node, lambda: len(packets) > before + 10, 10.0), "stopped publishing"
    good = Parameter("rate", value=4.0).to_parameter_msg()
    assert call(node, setter, SetParameters.Request(parameters=[good])).results[0].successful

    # Ctrl-C stops everything cleanly, output was prefixed with node names
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output  # interrupted (128 + SIGINT), nodes stopped cleanly
    assert "[event_camera]" in output or "[event_renderer]" in output, output


def test_killing_the_launcher_stops_its_nodes(launched) -> None:
    proc, node = launched
    packets: list[EventPacket] = []
    node.create_subscription(EventPacket, "/events", packets.append, EVENTS_QOS)
    assert spin_until(node, lambda: len(packets) > 5, 30.0), "no data"
    proc.kill()  # SIGKILL: the runner cannot forward anything; the nodes must still stop
    proc.wait()
    time.sleep(3.0)
    spin_until(node, lambda: False, 0.5)  # drain what was in flight
    count = len(packets)
    spin_until(node, lambda: False, 2.0)
    assert len(packets) == count, "nodes kept publishing after their launcher died"
