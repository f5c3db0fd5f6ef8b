"""The ``backend="lava"`` option: Intel's Lava framework (package ``lava-nc``).

Lava is not a dependency of this project and is not installed with it.  Without it,
asking for the backend raises :class:`BackendUnavailable` saying how to install it.  With
it, the backend is still refused: mapping NIR graphs onto Lava processes is not implemented
here yet (it could not be written against a Lava installation); run ``backend="event"``,
whose counters give the same synaptic-operation counts a Lava/Loihi run would.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from .errors import BackendUnavailable

INSTALL_HINT = "pip install lava-nc"


def lava_available() -> bool:
    """Whether the ``lava`` package (from ``lava-nc``) can be imported."""
    try:
        return importlib.util.find_spec("lava") is not None
    except (ImportError, ValueError):
        return False


class LavaBackend:
    """Placeholder that explains why the Lava backend cannot run (see the module docstring)."""

    name = "lava"

    def __init__(self, graph: Any, dt: float) -> None:
        if not lava_available():
            raise BackendUnavailable(
                f"backend 'lava' needs Intel's Lava framework, which is not installed: "
                f"{INSTALL_HINT} (or use backend='event' or 'dense')")
        raise BackendUnavailable(
            "backend 'lava': lava-nc is installed, but running NIR graphs on Lava is not "
            "implemented by neuro_nodes.accel yet; use backend='event' (same spikes and "
            "synaptic-operation counts) or 'dense'")
