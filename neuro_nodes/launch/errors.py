"""The one exception type of :mod:`neuro_nodes.launch`."""

from __future__ import annotations


class LaunchError(Exception):
    """A launch file cannot be loaded or run; the message names the file and the entry."""
