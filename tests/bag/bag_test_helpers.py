"""Small message factories for the bag tests (rosbags' Kilted type store, no ROS)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

STRING = "std_msgs/msg/String"
IMU = "sensor_msgs/msg/Imu"
QOS = (
    "- history: keep_last\n  depth: 10\n  reliability: reliable\n  durability: volatile\n"
    "  deadline:\n    sec: 0\n    nsec: 0\n  lifespan:\n    sec: 0\n    nsec: 0\n"
    "  liveliness: automatic\n  liveliness_lease_duration:\n    sec: 0\n    nsec: 0\n"
    "  avoid_ros_namespace_conventions: false"
)
T0 = 1_700_000_000_000_000_000


@lru_cache(maxsize=1)
def store():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def string_cdr(text: str) -> bytes:
    s = store()
    return bytes(s.serialize_cdr(s.types[STRING](data=text), STRING))


def imu_cdr(i: int, t_ns: int) -> bytes:
    s = store()
    T = s.types
    msg = T[IMU](
        header=T["std_msgs/msg/Header"](
            stamp=T["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9),
            frame_id="imu"),
        orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.zeros(9),
        angular_velocity=T["geometry_msgs/msg/Vector3"](x=float(i), y=0.5, z=-1.0),
        angular_velocity_covariance=np.zeros(9),
        linear_acceleration=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=9.81),
        linear_acceleration_covariance=np.zeros(9),
    )
    return bytes(s.serialize_cdr(msg, IMU))


def read_metadata(folder) -> dict:
    import yaml

    return yaml.safe_load((folder / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
