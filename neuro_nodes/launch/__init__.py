"""Run ROS 2 YAML launch files (``*.launch.yaml``) without the ``launch`` wheels.

The files are the ones ``ros2 launch`` runs on a full ROS 2 install; this package
implements the same semantics (those of ``launch``/``launch_yaml``/``launch_ros``) for
the subset below, and refuses anything else with a :class:`LaunchError` naming the file,
the line and the entry (``demo.launch.yaml:14: node #2 (pkg=neuro_bringup
exec=event_camera): unknown key 'parm' (did you mean 'param'?)``; ``#N`` is the entry's
position in its list).

Supported (root ``launch:``, a list of one-key mappings):

* ``arg: {name, default?, description?, choice?: [{value}]}`` — ``name:=value`` on the
  command line overrides; a missing argument without default is an error; an override
  no ``arg`` declares is an error listing the declared ones;
* ``let: {name, value}``;
* ``node: {pkg, exec, name?, namespace?, exec_name?, output?, respawn?, respawn_delay?,
  respawn_max_retries?, args?, ros_args?, param?, remap?, env?, cwd?, launch-prefix?,
  on_exit?: shutdown, sigterm_timeout?, sigkill_timeout?}``. ``exec`` is found as
  ``<prefix>/lib/<pkg>/<exec>`` through the ament index (``AMENT_PREFIX_PATH``).
  ``param`` entries are ``{name, value, type?}``, ``{name, param: [...]}`` (nested,
  flattened to ``a.b``) or ``{from: file.yaml, allow_substs?}``; inline values go to a
  generated ``/**:`` (or ``/ns/name:`` when name and namespace are both set) params
  file, as launch_ros does. The command line is launch_ros's: ``<exe> [args]
  [--ros-args ros_args] --ros-args [-r __node:=name] [-r __ns:=/ns]
  [--params-file f]... [-r from:=to]...``. ``on_exit: shutdown`` makes the node
  required: its exit stops the launch;
* ``include: {file, arg?: [{name, value}]}`` (or ``include: path``) — not scoped, as in
  ROS 2; a relative path is relative to the current directory, and ``$(dirname)`` in an
  ``arg`` value is the included file's directory (both as in ``launch``);
* ``group: {scoped?, forwarding?, keep?: [{name, value}], children: [...]}``,
  ``push_ros_namespace``/``push-ros-namespace: {namespace}``;
* ``if:``/``unless:`` on every action;
* substitutions, nestable and quotable: ``$(var name [default])``, ``$(env NAME
  [default])``, ``$(find-pkg-share pkg)``, ``$(find-pkg-prefix pkg)``, ``$(exec-in-pkg
  exec pkg)``, ``$(dirname)``, ``$(filename)``, ``$(anon name)``, ``$(eval expr)``,
  ``$(not v)``, ``$(and a b)``, ``$(or a b)``, ``$(any ...)``, ``$(all ...)``.

As in ``launch_yaml``, attributes are strings unless ROS says otherwise: write
``respawn: 'true'`` and ``default: '5'`` (quoted), ``respawn_delay: 1.0``.

Not supported (an error, not ignored): Python and XML launch files, ``executable``,
``set_env``/``unset_env``, ``set_parameter``, ``set_remap``, ``timer``, ``log``,
composable nodes, lifecycle nodes, ``emulate_tty``, ``shell``, and the substitutions
``command``, ``find-exec``, ``equals``, ``path-join``... (see ``substitutions.py``).

API::

    desc = load_launch_file("launch/demo.launch.yaml", {"rate": "2.0"})
    code = run(desc, duration=10)          # subprocesses, see runner.py
    code = run(desc, single_process=True)  # one process, see single_process.py

or ``python -m neuro_nodes.launch launch/demo.launch.yaml rate:=2.0 [--duration 10]``.
"""

from __future__ import annotations

from neuro_nodes.launch.errors import LaunchError
from neuro_nodes.launch.frontend import (
    ArgSpec,
    LaunchDescription,
    NodeSpec,
    declared_arguments,
    load_launch_file,
    parse_overrides,
)

__all__ = [
    "ArgSpec",
    "LaunchDescription",
    "LaunchError",
    "NodeSpec",
    "declared_arguments",
    "load_launch_file",
    "parse_overrides",
    "run",
]


def run(description: LaunchDescription, *, single_process: bool = False,
        duration: float | None = None, grace_s: float = 5.0) -> int:
    """Run the nodes of ``description``; return the exit code (0: all clean).

    ``duration``: stop everything (cleanly, as on Ctrl-C) after that many seconds.
    ``grace_s``: how long a node gets after SIGINT before SIGTERM, and after SIGTERM
    before SIGKILL (a node's ``sigterm_timeout``/``sigkill_timeout`` override it).
    The generated parameter files are deleted when this returns.
    """
    try:
        if single_process:
            from neuro_nodes.launch.single_process import run_single_process

            return run_single_process(description, duration=duration, grace_s=grace_s)
        from neuro_nodes.launch.runner import run_processes

        return run_processes(description, duration=duration, grace_s=grace_s)
    finally:
        description.cleanup()
