"""optical_flow: dense optical flow from events (``/flow`` 32FC2 px/s, ``/flow/viz`` rgb8).

Cuts ``events`` into windows (``window_events`` events, or ``window_s`` slices; method
``snn`` with ``window_s`` 0 steps every 10 ms, so flow comes at 100 Hz) and runs the
estimator ``method`` (``cmax``, ``emoflow``, ``snn``; :mod:`neuro_nodes.perception.registry`).
A method that is not registered stops the node at start-up (exit 1).

``/flow`` (``sensor_msgs/Image``, encoding ``32FC2``, frame of the packets, normally
``camera_optical_frame``; stamped at the window's reference time): per pixel (u, v), the
image velocity along x (right) and y (down) in pixels per second at that time; NaN where the
method has no estimate (e.g. a patch with too few events). ``/flow/viz`` (``rgb8``): the same
flow on the Middlebury colour wheel of Baker et al. (IJCV 2011): hue is the direction
(right red, down yellow, left cyan, up blue-violet), saturation the magnitude up to
``viz_max_flow`` px/s (white = no motion, darkened beyond it), black where unknown
(:mod:`neuro_nodes.perception.flow_viz`). /diagnostics: ``windows_hz``, ``latency_*_ms``
(compute per window), ``windows_dropped``, bad packets by reason.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from sensor_msgs.msg import Image

from neuro_nodes.core.params import param
from neuro_nodes.perception.flow_viz import flow_to_rgb
from neuro_nodes.perception.types import MotionEstimate
from neuro_nodes.ros.event_window import (
    INPUT_PORTS,
    EstimatorNodeMixin,
    EstimatorNodeParams,
    StampedWindow,
)
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes
from neuro_nodes.ros.qos import SENSOR_QOS

OPTICAL = "camera_optical_frame"


@dataclasses.dataclass(frozen=True)
class OpticalFlowParams(EstimatorNodeParams):
    viz_max_flow: float = param(0.0, "Flow magnitude (px/s) shown fully saturated in "
                                "/flow/viz; 0: the largest of each image", min=0.0, max=1e6)
    publish_viz: bool = param(True, "Publish /flow/viz")


def flow_image(flow: np.ndarray) -> tuple[bytes, int, int]:
    """(2, H, W) px/s -> 32FC2 bytes (row-major, (u, v) interleaved), width, height."""
    hwc = np.ascontiguousarray(np.moveaxis(np.asarray(flow, dtype=np.float32), 0, -1))
    return hwc.tobytes(), hwc.shape[1], hwc.shape[0]


class OpticalFlowNode(EstimatorNodeMixin, NeuroNode[OpticalFlowParams]):
    params_type = OpticalFlowParams
    node_name = "optical_flow"
    ports = (
        *INPUT_PORTS,
        publishes("flow", "sensor_msgs/msg/Image", "32FC2 (u, v) px/s, NaN where unknown",
                  "sensor data"),
        publishes("flow/viz", "sensor_msgs/msg/Image", "rgb8 Middlebury colour wheel",
                  "sensor data"),
    )

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        self._flow_pub = self.create_publisher(Image, "flow", SENSOR_QOS)
        self._viz_pub = self.create_publisher(Image, "flow/viz", SENSOR_QOS)
        self._start_estimation()
        self.get_logger().info(f"optical flow by {self.params.method}")

    def _publish(self, est: MotionEstimate, sw: StampedWindow) -> None:
        cam = sw.window.camera
        if est.flow is None:
            self.health.error("no_flow", f"{self.params.method} gave no flow")
            return
        flow = np.asarray(est.flow)
        if flow.shape != (2, cam.height, cam.width):
            self.health.error("bad_flow_shape", f"{self.params.method} gave {flow.shape}, "
                              f"expected (2, {cam.height}, {cam.width})")
            return
        data, width, height = flow_image(flow)
        msg = Image(height=height, width=width, encoding="32FC2", is_bigendian=0,
                    step=8 * width, data=data)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(sw.stamp_ns, 1_000_000_000)
        msg.header.frame_id = sw.frame_id or OPTICAL
        self._flow_pub.publish(msg)
        if self.params.publish_viz:
            rgb = flow_to_rgb(flow, self.params.viz_max_flow)
            viz = Image(height=height, width=width, encoding="rgb8", step=3 * width,
                        data=rgb.tobytes())
            viz.header = msg.header
            self._viz_pub.publish(viz)
        self.health.count("published")


NODE_CLASS = OpticalFlowNode


def main(args: Any = None) -> int:
    return run_node(OpticalFlowNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
