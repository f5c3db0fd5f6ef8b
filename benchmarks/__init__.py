"""Benchmarks of the neuro_nodes packages: ``neuro bench <suite>`` or
``python -m benchmarks.<suite>``. Each suite module has ``run(quick) -> dict`` and
``table(result) -> str``; numbers are always against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def machine(*packages: str) -> dict[str, Any]:
    """Where a benchmark ran: platform, CPU model and count, and package versions."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpu": cpu, "cpu_count": os.cpu_count()}
    for name in packages:
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = "?"
    return info


def suite_main(module_name: str, argv: list[str] | None = None) -> None:
    """The command line of a suite module: ``[--json] [--quick]``."""
    module: Any = sys.modules[module_name]
    parser = argparse.ArgumentParser(description=(module.__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="less data, fewer repeats")
    args = parser.parse_args(argv)
    res = module.run(quick=args.quick)
    print(json.dumps(res, indent=2) if args.json else module.table(res))
