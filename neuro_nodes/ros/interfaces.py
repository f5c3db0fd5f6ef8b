"""The interface packages this project needs, and the upstream type hashes it must match."""

from __future__ import annotations

import json
from pathlib import Path

# RIHS01 hashes of the upstream definitions (ROS 2 Iron and later). The copies in
# ros_ws/src/compat must produce exactly these, or real drivers and tools will not
# talk to our nodes; tests/test_interfaces.py recomputes them independently.
UPSTREAM_TYPE_HASHES = {
    "event_camera_msgs/msg/EventPacket":
        "RIHS01_d6fa176260b1f37e5a40845305315e150a0f18191241eb64f407442aa29844aa",
    "tf2_msgs/msg/TFMessage":
        "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087",
}

PROJECT_INTERFACES = (
    "neuro_interfaces/msg/ClassProbabilities",
    "neuro_interfaces/msg/Detection3D",
    "neuro_interfaces/msg/Detection3DArray",
    "neuro_interfaces/msg/LayerStats",
    "neuro_interfaces/msg/EnergyReport",
    "neuro_interfaces/srv/Infer",
    "neuro_interfaces/srv/QueryDistance",
    "neuro_interfaces/srv/StepSimulation",
)


def installed_type_hash(type_name: str) -> tuple[str, Path]:
    """The RIHS01 hash the installed package declares for ``pkg/msg/Name`` and its prefix."""
    from ament_index_python.packages import get_package_share_directory

    package, kind, name = type_name.split("/")
    share = Path(get_package_share_directory(package))
    description = json.loads((share / kind / f"{name}.json").read_text())
    for entry in description["type_hashes"]:
        if entry["type_name"] == type_name:
            return entry["hash_string"], share.parent.parent
    raise LookupError(f"{type_name}: no hash in {share / kind / f'{name}.json'}")


def import_interface(type_name: str):
    """Import the Python class of ``pkg/msg/Name`` or ``pkg/srv/Name``."""
    import importlib

    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)
