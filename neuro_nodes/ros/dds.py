"""Keep DDS on loopback unless the user configured DDS themselves.

Fast DDS multicasts discovery on every interface by default, and Kilted ignores the old
localhost-only variable. The project's profile (``config/fastdds_loopback.xml``)
whitelists 127.0.0.1, discovers through unicast initial peers on 127.0.0.1 and
adds a 64 MB shared-memory segment for large messages. Call
:func:`apply_loopback_defaults` before ``rclpy.init()``: Fast DDS reads the
variables when the first participant is created.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from neuro_nodes.paths import config_file

PROFILE_VAR = "FASTDDS_DEFAULT_PROFILES_FILE"
RANGE_VAR = "ROS_AUTOMATIC_DISCOVERY_RANGE"
PROFILE_NAME = "fastdds_loopback.xml"


def loopback_profile() -> str:
    return str(config_file(PROFILE_NAME))


def apply_loopback_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set the loopback profile and discovery range where the user has not; return what was set."""
    env = os.environ if environ is None else environ
    applied: dict[str, str] = {}
    if not env.get(PROFILE_VAR):
        applied[PROFILE_VAR] = loopback_profile()
    if not env.get(RANGE_VAR):
        applied[RANGE_VAR] = "LOCALHOST"
    env.update(applied)
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    return applied


def dds_status(environ: MutableMapping[str, str] | None = None) -> dict[str, object]:
    """What DDS configuration is in force, for ``neuro doctor``."""
    env = os.environ if environ is None else environ
    profile = env.get(PROFILE_VAR, "")
    try:
        ours = bool(profile) and os.path.samefile(profile, loopback_profile())
    except (FileNotFoundError, OSError):
        ours = False
    return {
        "profile": profile or None,
        "profile_exists": bool(profile) and os.path.isfile(profile),
        "project_loopback_profile": ours,
        "discovery_range": env.get(RANGE_VAR),
        "rmw": env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"),
        "domain_id": int(env.get("ROS_DOMAIN_ID", "0") or 0),
    }
