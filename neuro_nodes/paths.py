"""Where the project's data files live, in a source checkout and after install.

In a checkout (``pip install -e .``) ``config/`` and ``launch/`` sit at the
repository root; on a robot, ``colcon build`` installs them to the share
directory of ``neuro_bringup``, found through the ament index.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BRINGUP_PACKAGE = "neuro_bringup"


def _bringup_share() -> Path | None:
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        share = Path(prefix) / "share" / BRINGUP_PACKAGE
        if prefix and share.is_dir():
            return share
    return None


def data_dir(name: str) -> Path:
    """``config`` or ``launch``: the checkout's copy if present, else the installed one."""
    local = REPO_ROOT / name
    if local.is_dir():
        return local
    share = _bringup_share()
    if share is not None and (share / name).is_dir():
        return share / name
    raise FileNotFoundError(
        f"no '{name}' directory: not in a source checkout ({local}) and package "
        f"'{BRINGUP_PACKAGE}' is not in AMENT_PREFIX_PATH (run 'colcon build' and source it)"
    )


def config_file(name: str) -> Path:
    path = data_dir("config") / name
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    return path


def shared_data_dir() -> Path:
    """The team's real event-camera recordings (``../shared/data`` beside the checkout)."""
    return Path(os.environ.get("NEURO_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
