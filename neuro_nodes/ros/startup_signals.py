"""Node executables stop quietly on SIGINT/SIGTERM from their first moments, instead of
printing a ``KeyboardInterrupt`` traceback.

Why a venv start-up hook: a node process spends its first 0.5 s or more in the interpreter's
own start-up (``site``, ``.pth`` files, the ROS wheels' bootstrapper, which re-executes the
interpreter) and importing numpy, rclpy and torch, all before any node code runs. Python's
default SIGINT handler raises ``KeyboardInterrupt`` wherever that signal lands, so Ctrl-C in
that time printed a traceback (or ``Fatal Python error: init_import_site``).

``write_hook(site)`` (called by ``neuro_nodes.workspace --write``) installs
``__early_neuro_nodes.pth``. It sorts before every other ``.pth`` of the venv, imports only
built-in modules, and acts only in a process that runs a node executable (``neuro-<exe>``,
``lib/neuro_bringup/<exe>`` or ``python -m <node module>``, from ``nodes.txt``):

- it installs a handler that ends the process at once with status 0 (nothing to clean up
  yet: ``run_node`` installs its own handlers before ``rclpy.init``);
- in the interpreter that the wheels' bootstrapper will re-execute, it also blocks both
  signals: the mask and a pending signal survive ``execve``, and the hook unblocks them in
  the re-executed interpreter once the handler is back (``run_node`` unblocks too).

A node stopped by a signal exits 0 at any moment, as ``run_node`` does once running. Only
the interpreter's first milliseconds, before any ``.pth`` file runs, are out of reach: a
signal there kills the process before Python installs its handler (no output, status
-SIGINT) or, in a window of a few milliseconds, lands in Python's own ``site`` imports.
Every other interpreter of the venv (``neuro``, pytest, scripts) is left alone.
"""

from __future__ import annotations

import signal
from pathlib import Path

from neuro_nodes.paths import REPO_ROOT

NODES_FILE = REPO_ROOT / "ros_ws" / "src" / "neuro_bringup" / "nodes.txt"
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
PTH_NAME = "__early_neuro_nodes.pth"  # "__ea" sorts before setuptools' "__editable__"

# Runs as one exec'd line of the .pth (no module import: the sooner, the better; _signal is
# built in). Keys: "<dir>/<script>" or "-m <module>". It must never raise.
_CODE = """\
try:
    _a = sys.orig_argv[1:]
    if "-m" in _a[:-1]:
        _k = "-m " + _a[_a.index("-m") + 1]
    else:
        _s = next((x for x in _a if not x.startswith("-")), "")
        _k = os.path.basename(os.path.dirname(_s)) + "/" + os.path.basename(_s)
    if _k in {keys!r} and not os.environ.get("NEURO_NODES_NO_ENV_HOOK"):
        def _neuro_nodes_quit(signum, frame, _exit=os._exit):
            _exit(0)
        _signal.signal(_signal.SIGINT, _neuro_nodes_quit)
        _signal.signal(_signal.SIGTERM, _neuro_nodes_quit)
        _final = os.environ.get("_ROS_WHEELS_BOOTSTRAP_COMPLETE")
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK if _final else _signal.SIG_BLOCK,
                                {{_signal.SIGINT, _signal.SIGTERM}})
except Exception:
    pass
"""


def node_executables(nodes_file: Path = NODES_FILE) -> dict[str, str]:
    """executable -> module, from ``nodes.txt``."""
    entries = {}
    for line in nodes_file.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            exe, target = (s.strip() for s in line.split("=", 1))
            entries[exe] = target.split(":")[0]
    return entries


def node_keys(nodes: dict[str, str]) -> tuple[str, ...]:
    """How a node process looks in ``sys.orig_argv``: venv console script, colcon
    executable, ``python -m`` module."""
    keys = {f"bin/neuro-{exe.replace('_', '-')}" for exe in nodes}
    keys |= {f"neuro_bringup/{exe}" for exe in nodes}
    keys |= {f"-m {module}" for module in nodes.values()}
    return tuple(sorted(keys))


def pth_line(nodes: dict[str, str]) -> str:
    """The single line of the ``.pth`` file."""
    return f"import os, sys, _signal; exec({_CODE.format(keys=node_keys(nodes))!r})"


def write_hook(site: Path, nodes_file: Path = NODES_FILE) -> Path:
    """Write the early hook into the venv's ``site`` directory; return the ``.pth`` path."""
    pth = site / PTH_NAME
    pth.write_text(pth_line(node_executables(nodes_file)) + "\n")
    return pth


def unblock_stop_signals() -> None:
    """Undo the hook's block once handlers are installed (a pending signal arrives now)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
