"""``--single-process``: every node of the launch in this process, one executor.

Each node's executable must be a Python console script (what an ``ament_python``
package installs in ``lib/<pkg>/``). Its entry point ``module:function`` is read from
the script itself (``from <module> import <function>``, the pip/setuptools template)
or, for easy_install-style scripts, from the ``entry_points.txt`` of the package's
egg-info/dist-info under the install prefix. The module must define ``NODE_CLASS``,
an ``rclpy.node.Node`` subclass whose ``__init__(**node_kwargs)`` forwards to
``Node.__init__``; it is created with ``NODE_CLASS(cli_args=[...])``, the same
arguments (``--ros-args -r __node:=... --params-file ...``) the process would get.

rclpy is initialised once (after ``neuro_nodes.ros.dds.apply_loopback_defaults()``)
and all nodes spin in one ``MultiThreadedExecutor`` until SIGINT/SIGTERM or the end
of ``duration``. ``launch-prefix``, ``env``, ``cwd``, ``output`` and ``respawn`` have
no meaning here and are ignored with a warning; a callback that raises stops all
nodes (exit code 1).
"""

from __future__ import annotations

import configparser
import contextlib
import glob
import importlib
import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from neuro_nodes.launch.errors import LaunchError
from neuro_nodes.launch.frontend import LaunchDescription, NodeSpec


def _say(level: str, who: str, message: str) -> None:
    print(f"[{level}] [{who}]: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- entry points

_SITE_GLOBS = (
    "lib/python3*/site-packages",
    "lib/python3*/dist-packages",
    "local/lib/python3*/dist-packages",
    "local/lib/python3*/site-packages",
)


def _site_dirs(prefix: Path) -> list[Path]:
    out: list[Path] = []
    for pattern in _SITE_GLOBS:
        out.extend(Path(p) for p in sorted(glob.glob(str(prefix / pattern))))
    return out


def _entry_points_files(prefix: Path) -> list[Path]:
    files: list[Path] = []
    for site in _site_dirs(prefix):
        for meta in sorted(site.glob("*.egg-info")) + sorted(site.glob("*.dist-info")):
            if (meta / "entry_points.txt").is_file():
                files.append(meta / "entry_points.txt")
        for link in sorted(site.glob("*.egg-link")):  # develop / --symlink-install
            with contextlib.suppress(OSError, IndexError):
                target = Path(link.read_text().splitlines()[0].strip())
                files.extend(sorted(target.glob("*.egg-info/entry_points.txt")))
    return files


def _read_console_scripts(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return {}
    if not parser.has_section("console_scripts"):
        return {}
    return {k.strip(): v.strip() for k, v in parser.items("console_scripts")}


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "_", dist).lower()


def resolve_entry_point(spec: NodeSpec) -> tuple[str, str]:
    """``(module, function)`` of the console script ``spec.exe_path``."""
    script = Path(spec.exe_path)
    name, dist = spec.executable, None
    try:
        text = script.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    if text:
        call = re.search(r"sys\.exit\(\s*(\w+)\(\s*\)\s*\)", text)
        if call:
            func = call.group(1)
            imp = re.search(rf"^\s*from\s+([\w.]+)\s+import\s+{func}\s*$", text, re.MULTILINE)
            if imp:
                return imp.group(1), func
        easy = re.search(
            r"load_entry_point\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]console_scripts['\"]\s*,"
            r"\s*['\"]([^'\"]+)['\"]", text)
        if easy:
            dist, name = easy.group(1).partition("==")[0], easy.group(2)
    prefix = script.parent.parent.parent  # <prefix>/lib/<pkg>/<exec>
    files = _entry_points_files(prefix)
    if dist:
        wanted = _normalise(dist)
        files.sort(key=lambda f: not _normalise(f.parent.name).startswith(wanted))
    for f in files:
        target = _read_console_scripts(f).get(name)
        if target:
            module, _, func = target.partition(":")
            func = func.split("[")[0].strip()
            if module and func:
                return module.strip(), func
    raise LaunchError(
        f"{spec.source}: cannot find the Python entry point of '{spec.exe_path}' for "
        "--single-process (not a setuptools console script, and no console_scripts entry "
        f"'{name}' in an entry_points.txt under {prefix})"
    )


def load_node_class(spec: NodeSpec) -> type:
    """Import the node module of ``spec`` and return its ``NODE_CLASS``."""
    module_name, _func = resolve_entry_point(spec)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is None or not module_name.startswith(err.name):
            raise LaunchError(f"{spec.source}: importing '{module_name}' failed: {err}") from None
        prefix = Path(spec.exe_path).parent.parent.parent
        added = [str(d) for d in _site_dirs(prefix) if str(d) not in sys.path]
        sys.path.extend(added)
        try:
            module = importlib.import_module(module_name)
        except ImportError as err2:
            raise LaunchError(
                f"{spec.source}: cannot import '{module_name}' (entry point of "
                f"{spec.exe_path}): {err2}"
            ) from None
    except Exception as err:
        raise LaunchError(
            f"{spec.source}: importing '{module_name}' failed: {type(err).__name__}: {err}"
        ) from None
    node_class = getattr(module, "NODE_CLASS", None)
    if node_class is None:
        raise LaunchError(
            f"{spec.source}: module '{module_name}' (executable '{spec.executable}') has no "
            "NODE_CLASS, so it cannot run with --single-process; run without it"
        )
    from rclpy.node import Node

    if not (isinstance(node_class, type) and issubclass(node_class, Node)):
        raise LaunchError(
            f"{spec.source}: {module_name}.NODE_CLASS is {node_class!r}, not an "
            "rclpy.node.Node subclass"
        )
    return node_class


# ---------------------------------------------------------------------------- running


def _apply_dds_defaults() -> None:
    try:
        from neuro_nodes.ros.dds import apply_loopback_defaults
    except ImportError as err:
        _say("WARNING", "launch", f"DDS loopback defaults not applied: {err}")
        return
    apply_loopback_defaults()


def run_single_process(description: LaunchDescription, *, duration: float | None = None,
                       grace_s: float = 5.0) -> int:
    """Create every node in this process and spin them together; return the exit code."""
    classes = [(spec, load_node_class(spec)) for spec in description.nodes]
    for spec, _ in classes:
        ignored = [what for what, present in (
            ("launch-prefix", spec.prefix), ("env", spec.env), ("cwd", spec.cwd),
            ("respawn", spec.respawn)) if present]
        if ignored:
            _say("WARNING", spec.label,
                 f"{', '.join(ignored)} ignored with --single-process")
    if not classes:
        _say("WARNING", "launch", "the launch file starts no node")
        return 0

    _apply_dds_defaults()
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    stop = threading.Event()
    reason: dict[str, object] = {"text": ""}

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        reason["text"] = "interrupted"
        reason["signal"] = signum
        stop.set()

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, on_signal)

    rclpy.init(args=["neuro_launch"], signal_handler_options=SignalHandlerOptions.NO)
    executor = MultiThreadedExecutor()
    nodes = []
    code = 0
    try:
        for spec, node_class in classes:
            try:
                node = node_class(cli_args=list(spec.node_args))
            except Exception as err:
                _say("ERROR", spec.label, f"could not start: {type(err).__name__}: {err}")
                code = 1
                break
            nodes.append(node)
            executor.add_node(node)
            _say("INFO", spec.label, f"node {node.get_fully_qualified_name()} created in-process")
        started = time.monotonic()
        while code == 0 and not stop.is_set():
            if duration is not None and time.monotonic() - started >= duration:
                reason["text"] = f"duration of {duration:g} s elapsed"
                break
            try:
                executor.spin_once(timeout_sec=0.1)
            except (KeyboardInterrupt, ExternalShutdownException):
                reason["text"] = "interrupted"
                break
            except Exception:
                _say("ERROR", "launch", "a node raised:\n" + traceback.format_exc().rstrip())
                code = 1
        if nodes:
            _say("INFO", "launch", f"stopping all nodes: {reason['text'] or 'error'}")
    finally:
        for node in nodes:
            try:
                executor.remove_node(node)
                node.destroy_node()
            except Exception as err:  # keep destroying the others
                _say("ERROR", "launch", f"destroying {node.get_name()} failed: {err}")
                code = 1
        with contextlib.suppress(Exception):
            executor.shutdown(timeout_sec=grace_s)
        rclpy.try_shutdown()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if code == 0 and reason.get("signal"):
        return 128 + int(reason["signal"])  # interrupted: non-zero, as a shell reports it
    return code
