"""Test-wide set-up: DDS on loopback and a unique ROS_DOMAIN_ID per test."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from neuro_nodes.paths import REPO_ROOT, shared_data_dir
from neuro_nodes.ros.dds import apply_loopback_defaults

apply_loopback_defaults()

# Domains 1..100 (Fast DDS maps each to its own ports); spread by pid so that two
# concurrent pytest runs on one machine rarely share one.
_DOMAINS = itertools.count()
_BASE = os.getpid() % 50


@pytest.fixture(autouse=True)
def ros_domain_id(monkeypatch: pytest.MonkeyPatch) -> int:
    """Every test gets its own ROS_DOMAIN_ID; child processes inherit it."""
    domain = 1 + (_BASE + 2 * next(_DOMAINS)) % 100
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    return domain


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real recordings not found at {path}")
    return path


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
