"""egomotion: the camera's angular velocity and heading from events (``/egomotion``, ``/odom``).

Cuts ``events`` into windows (``window_events`` events, or ``window_s`` slices) and runs the
estimator ``method`` (``cmax``, ``emoflow``, ``snn``; :mod:`neuro_nodes.perception.registry`)
on each, with the gyro samples of ``imu`` when ``use_imu``. A method that is not registered
stops the node at start-up (exit 1, naming the registered ones).

``/egomotion`` (``geometry_msgs/TwistStamped``, frame ``camera_optical_frame``: x right, y
down, z forward; stamped at the window's reference time): ``angular`` is the camera's
angular velocity in rad/s. **Scale convention**: monocular events fix the translation only
up to scale, so ``linear`` is the unit direction of the camera's velocity (dimensionless,
norm 1: the velocity in m/s is it times the unknown speed), or zero when the window does not
show it (pure rotation, or a method that estimates rotation only); a method that knows the
metric velocity (``velocity_is_direction`` false) publishes it in m/s as is. The simulation's
``/ground_truth/camera_twist`` has the same frame and axes with the true metric velocity.

``/odom`` (``nav_msgs/Odometry``): the camera's pose in ``odom_frame``, which is the camera
optical frame at the first window, child ``camera_optical_frame``; orientation integrates
the angular velocity, position the direction times ``assumed_speed`` (0: it stays at the
origin). Covariances are filled: the twist's angular block from the estimator's
``omega_covariance`` when it gives one, else ``angular_variance``; its linear block
``linear_variance`` (large: the speed is unknown); the pose covariance propagates them
(:mod:`neuro_nodes.perception.odometry`). /diagnostics: ``windows_hz`` (windows per
second), ``latency_*_ms`` (compute per window), ``windows_dropped`` when the estimator is
slower than the stream, bad packets by reason.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry

from neuro_nodes.core.params import param
from neuro_nodes.perception.odometry import TwistIntegrator
from neuro_nodes.perception.types import MotionEstimate
from neuro_nodes.ros.event_window import (
    INPUT_PORTS,
    EstimatorNodeMixin,
    EstimatorNodeParams,
    StampedWindow,
)
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes
from neuro_nodes.ros.qos import RELIABLE_QOS

OPTICAL = "camera_optical_frame"


@dataclasses.dataclass(frozen=True)
class EgomotionParams(EstimatorNodeParams):
    assumed_speed: float = param(0.0, "Speed (m/s) that /odom's position integrates along the "
                                 "estimated direction; 0: position stays at the origin",
                                 min=0.0, max=100.0)
    angular_variance: float = param(0.01, "Angular twist variance ((rad/s)^2) when the "
                                    "estimator gives no omega_covariance", min=0.0, max=1e6)
    linear_variance: float = param(1e4, "Linear twist variance ((m/s)^2): large, the "
                                   "monocular speed is unknown", min=0.0, max=1e12)
    odom_frame: str = param("camera_odom", "header.frame_id of /odom: the optical frame at "
                            "the first window", read_only=True)


def twist_covariance(est: MotionEstimate, p: EgomotionParams) -> np.ndarray:
    """6x6 (linear, angular) covariance of the published twist."""
    cov = np.zeros((6, 6))
    cov[:3, :3] = np.eye(3) * p.linear_variance
    oc = est.omega_covariance
    if oc is not None and np.shape(oc) == (3, 3) and np.isfinite(oc).all():
        cov[3:, 3:] = oc
    else:
        cov[3:, 3:] = np.eye(3) * p.angular_variance
    return cov


def _set_vec(v: Any, values: np.ndarray) -> None:
    v.x, v.y, v.z = (float(c) for c in values)


class EgomotionNode(EstimatorNodeMixin, NeuroNode[EgomotionParams]):
    params_type = EgomotionParams
    node_name = "egomotion"
    ports = (
        *INPUT_PORTS,
        publishes("egomotion", "geometry_msgs/msg/TwistStamped", "angular rad/s; linear: "
                  "unit direction (up to scale) or zero", "reliable, depth 10"),
        publishes("odom", "nav_msgs/msg/Odometry", "integrated camera pose in odom_frame, "
                  "covariances filled", "reliable, depth 10"),
    )

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        self._twist_pub = self.create_publisher(TwistStamped, "egomotion", RELIABLE_QOS)
        self._odom_pub = self.create_publisher(Odometry, "odom", RELIABLE_QOS)
        self.odometry = TwistIntegrator()
        self._start_estimation()
        self.get_logger().info(f"egomotion by {self.params.method}")

    def _reset_track(self) -> None:
        self.odometry.reset()  # a new stream starts a new track

    def _publish(self, est: MotionEstimate, sw: StampedWindow) -> None:
        if est.omega is None:
            self.health.error("no_egomotion", f"{self.params.method} gave no omega")
            return
        omega = np.asarray(est.omega, dtype=np.float64).reshape(3)
        vel = (np.zeros(3) if est.velocity is None
               else np.asarray(est.velocity, dtype=np.float64).reshape(3))
        if not (np.isfinite(omega).all() and np.isfinite(vel).all()):
            self.health.error("non_finite_estimate", f"omega {omega}, velocity {vel}")
            return
        frame = sw.frame_id or OPTICAL
        stamp = divmod(sw.stamp_ns, 1_000_000_000)
        msg = TwistStamped()
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        msg.header.frame_id = frame
        _set_vec(msg.twist.linear, vel)
        _set_vec(msg.twist.angular, omega)
        self._twist_pub.publish(msg)

        p = self.params
        cov = twist_covariance(est, p)
        speed = vel * p.assumed_speed if est.velocity_is_direction else vel
        if self.odometry.t_s is not None and est.t_ref_s < self.odometry.t_s:
            self.odometry.reset()  # time went backwards: a new track
        self.odometry.advance(est.t_ref_s, omega, speed, cov)
        odom = Odometry(child_frame_id=frame)
        odom.header.stamp.sec, odom.header.stamp.nanosec = stamp
        odom.header.frame_id = p.odom_frame
        _set_vec(odom.pose.pose.position, self.odometry.position)
        q = self.odometry.quaternion_xyzw
        o = odom.pose.pose.orientation
        o.x, o.y, o.z, o.w = (float(c) for c in q)
        odom.pose.covariance = self.odometry.covariance.ravel().tolist()
        odom.twist.twist = msg.twist
        odom.twist.covariance = cov.ravel().tolist()
        self._odom_pub.publish(odom)
        self.health.count("published")


NODE_CLASS = EgomotionNode


def main(args: Any = None) -> int:
    return run_node(EgomotionNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
