"""``neuro launch FILE [name:=value ...]``."""

from __future__ import annotations

import sys
from pathlib import Path

from neuro_nodes.paths import data_dir


def resolve_launch_file(name: str) -> Path:
    """A path as given, else a file of that name in the project's launch directory."""
    path = Path(name)
    if path.is_file():
        return path
    candidate = data_dir("launch") / name
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(f"launch file not found: {name} (nor {candidate})")


def main(file: str, overrides: list[str], *, single_process: bool = False,
         duration: float | None = None) -> int:
    from neuro_nodes.launch import LaunchError, load_launch_file, run

    pairs = {}
    for item in overrides:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            print(f"neuro launch: bad argument '{item}' (expected name:=value)", file=sys.stderr)
            return 2
        pairs[name] = value
    try:
        description = load_launch_file(resolve_launch_file(file), pairs)
    except (LaunchError, FileNotFoundError) as err:
        print(f"neuro launch: {err}", file=sys.stderr)
        return 2
    return run(description, single_process=single_process, duration=duration)
