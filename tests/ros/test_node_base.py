"""NeuroNode in-process: parameters dataclass <-> ROS parameters, remote changes, health."""

from __future__ import annotations

import pytest
import rclpy
from rclpy.parameter import Parameter

from neuro_nodes.ros.event_camera import EventCameraNode

pytestmark = pytest.mark.ros


@pytest.fixture
def camera(shared_data, ros_domain_id):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    path = shared_data / "event_camera_py_test_events_2"
    node = EventCameraNode(context=context, parameter_overrides=[
        Parameter("path", value=str(path)), Parameter("rate", value=0.5)])
    yield node
    node.destroy_node()
    rclpy.try_shutdown(context=context)


def test_overrides_reach_the_params_dataclass(camera) -> None:
    assert camera.params.rate == 0.5
    assert camera.get_parameter("rate").value == 0.5
    descriptor = camera.describe_parameter("rate")
    assert descriptor.floating_point_range[0].to_value == 1000.0
    assert "Replay speed" in descriptor.description


def test_valid_remote_change_updates_params(camera) -> None:
    results = camera.set_parameters([Parameter("rate", value=3.0), Parameter("loop", value=True)])
    assert all(r.successful for r in results)
    assert camera.params.rate == 3.0 and camera.params.loop is True


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("rate", -1.0, "out of range"),
    ("rate", "fast", "type"),
    ("path", "/elsewhere", "read-only"),
    ("source", "sim", "read-only"),
])
def test_bad_remote_change_is_refused_and_params_kept(camera, name, value, reason) -> None:
    before = camera.params
    result = camera.set_parameters([Parameter(name, value=value)])[0]
    assert not result.successful
    assert reason in result.reason.lower() or reason in result.reason, result.reason
    assert camera.params == before


def test_dataclass_rules_refuse_what_descriptors_cannot_express(camera) -> None:
    result = camera.set_parameters([Parameter("frame_id", value="")])[0]
    assert result.successful  # free-form string: any value, including empty
    from neuro_nodes.ros.parameters import check_update

    _, res = check_update(camera.params, [Parameter("rate", value=5000.0)])
    assert not res.successful and "maximum" in res.reason
