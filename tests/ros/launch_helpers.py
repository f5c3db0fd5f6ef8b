"""Shared by the launch-file tests: what a parsed launch passes to its nodes."""

from __future__ import annotations

from pathlib import Path

import yaml


def node_params(node) -> dict:  # noqa: ANN001 - NodeSpec
    """The parameters the launch passes to ``node`` (its generated params files)."""
    out = {}
    for i, arg in enumerate(node.cmd):
        if arg == "--params-file":
            for body in yaml.safe_load(Path(node.cmd[i + 1]).read_text()).values():
                out.update(body["ros__parameters"])
    return out
