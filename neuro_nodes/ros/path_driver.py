"""path_driver: drives a differential-drive robot along scripted waypoints (``/cmd_vel``).

Pure pursuit (:mod:`neuro_nodes.control.path_follower`) on ``waypoints`` (a flat
``[x0, y0, x1, y1, ...]`` list in the frame of the odometry), fed by the planar pose of
``odom`` (``nav_msgs/Odometry``: position x, y and the yaw of its orientation; by default
the simulation's ``/ground_truth/odom``). Every ``1 / rate_hz`` s it publishes
``geometry_msgs/Twist`` on ``cmd_vel`` (``linear.x`` m/s, ``angular.z`` rad/s, as the
sim bridge's ``mobile_robot`` takes it). The default path is a counter-clockwise circle of
radius 1.2 m about the room's centre, inside the room's clear disc (radius 1.6 m) and
looking round the whole room once per lap. With ``loop`` false it stops at the last
waypoint. Without odometry for ``odom_timeout_s`` (or with a non-finite pose) it commands a
stop and says so on /diagnostics (``warn:odom``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry

from neuro_nodes.control.path_follower import (
    PathFollower,
    PathFollowerParams,
    as_waypoints,
    circle_waypoints,
)
from neuro_nodes.core.params import param
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes, subscribes
from neuro_nodes.ros.qos import RELIABLE_QOS

DEFAULT_WAYPOINTS = tuple(round(float(v), 4) for v in circle_waypoints(1.2, 12).ravel())


@dataclasses.dataclass(frozen=True)
class PathDriverParams(PathFollowerParams):
    waypoints: tuple[float, ...] = param(DEFAULT_WAYPOINTS, "Path as a flat [x0, y0, x1, "
                                         "y1, ...] list (m, odometry frame)", read_only=True)
    rate_hz: float = param(20.0, "Command rate (Hz)", min=0.5, max=200.0, read_only=True)
    odom_timeout_s: float = param(0.5, "Stop when no odometry came for this long (s, wall "
                                  "time)", min=0.01, max=60.0)

    def validate(self) -> None:
        as_waypoints(self.waypoints)


def yaw_of(q: Any) -> float:
    """Yaw (rad, about z) of a geometry_msgs quaternion."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


class PathDriverNode(NeuroNode[PathDriverParams]):
    params_type = PathDriverParams
    node_name = "path_driver"
    ports = (
        subscribes("odom", "nav_msgs/msg/Odometry", "planar pose of the robot (x, y, yaw); "
                   "remap to the odometry to follow, e.g. /ground_truth/odom",
                   "reliable, depth 10"),
        publishes("cmd_vel", "geometry_msgs/msg/Twist", "linear.x (m/s), angular.z (rad/s)",
                  "reliable, depth 10"),
    )

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        self.follower = PathFollower(self.params.waypoints, self._follower_params(self.params))
        self._pose: tuple[float, float, float] | None = None
        self._pose_at = 0.0  # time.monotonic() of the last odometry
        self._done = False
        self._pub = self.create_publisher(Twist, "cmd_vel", RELIABLE_QOS)
        self.create_subscription(Odometry, "odom", self._on_odom, RELIABLE_QOS)
        self.create_timer(1.0 / self.params.rate_hz, self._on_timer)
        self.get_logger().info(f"following {len(self.follower.waypoints)} waypoints "
                               f"({'loop' if self.params.loop else 'stop at the end'})")

    @staticmethod
    def _follower_params(p: PathDriverParams) -> PathFollowerParams:
        names = [f.name for f in dataclasses.fields(PathFollowerParams)]
        return PathFollowerParams(**{n: getattr(p, n) for n in names})

    def on_params_changed(self, old: PathDriverParams, new: PathDriverParams) -> None:
        self.follower.params = self._follower_params(new)

    def _on_odom(self, msg: Odometry) -> None:
        p = msg.pose.pose
        pose = (p.position.x, p.position.y, yaw_of(p.orientation))
        if not all(math.isfinite(v) for v in pose):
            self.health.error("bad_odom", f"non-finite pose {pose}")
            return
        self._pose, self._pose_at = pose, time.monotonic()
        self.health.count("odom")

    def _on_timer(self) -> None:
        cmd = Twist()
        if self._pose is None or time.monotonic() - self._pose_at > self.params.odom_timeout_s:
            self.conditions["odom"] = (f"no odometry for {self.params.odom_timeout_s:g} s: "
                                       "stopped")
        else:
            self.conditions.pop("odom", None)
            c = self.follower.step(*self._pose)
            cmd.linear.x, cmd.angular.z = c.v, c.omega
            if c.done and not self._done:
                self._done = True
                self.get_logger().info("reached the last waypoint: stopped")
        self._pub.publish(cmd)
        self.health.count("commands")


NODE_CLASS = PathDriverNode


def main(args: Any = None) -> int:
    return run_node(PathDriverNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
