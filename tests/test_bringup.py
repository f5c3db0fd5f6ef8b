"""The bringup package: executables, console scripts, launch/config install, docs."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from neuro_nodes.ros.docs_gen import node_modules, render


def test_every_node_has_a_console_script_with_the_same_target(repo_root: Path) -> None:
    scripts = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["scripts"]
    for exe, module in node_modules().items():
        assert scripts.get(f"neuro-{exe.replace('_', '-')}") == f"{module}:main"


def test_colcon_install_has_executables_launch_and_config(repo_root: Path) -> None:
    prefix = repo_root / "ros_ws" / "install"
    for exe in node_modules():
        path = prefix / "lib" / "neuro_bringup" / exe
        assert path.is_file() and os.access(path, os.X_OK), path
    share = prefix / "share" / "neuro_bringup"
    for folder in ("launch", "config"):
        for src in (p for p in (repo_root / folder).rglob("*") if p.is_file()):
            rel = src.relative_to(repo_root)  # subfolders too (config/models)
            assert (share / rel).read_bytes() == src.read_bytes(), rel


def test_every_node_module_exposes_node_class_and_main() -> None:
    import importlib

    for module_name in node_modules().values():
        module = importlib.import_module(module_name)
        assert callable(module.main)
        assert module.NODE_CLASS.params_type is not None


def test_nodes_doc_is_up_to_date(repo_root: Path) -> None:
    committed = (repo_root / "docs" / "nodes.md").read_text()
    assert committed == render(), "docs/nodes.md is stale: run 'make docs'"
