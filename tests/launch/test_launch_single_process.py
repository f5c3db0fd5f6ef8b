"""--single-process: exec → entry point → NODE_CLASS, and a real in-process run."""

from __future__ import annotations

import sys
import textwrap

import pytest

from neuro_nodes.launch import LaunchError, load_launch_file
from neuro_nodes.launch.single_process import load_node_class, resolve_entry_point

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

CONSOLE_SCRIPT = """
    # -*- coding: utf-8 -*-
    import re
    import sys
    from fake_nodes.{module} import main
    if __name__ == '__main__':
        sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
        sys.exit(main())
"""

EASY_INSTALL_SCRIPT = """
    # EASY-INSTALL-ENTRY-SCRIPT: 'fake-nodes==0.1.0','console_scripts','{name}'
    import re
    import sys
    __requires__ = 'fake-nodes==0.1.0'
    from importlib.metadata import distribution
    def load_entry_point(spec, group, name):
        raise SystemExit('not used by the test')
    if __name__ == '__main__':
        sys.exit(load_entry_point('fake-nodes==0.1.0', 'console_scripts', '{name}')())
"""

TALKER = """
    from rclpy.node import Node


    class Talker(Node):
        def __init__(self, **node_kwargs):
            super().__init__("talker", **node_kwargs)
            greeting = self.declare_parameter("greeting", "none").value
            count = self.declare_parameter("count", 0).value
            self.get_logger().info(
                f"up as {self.get_fully_qualified_name()} greeting={greeting} count={count}")


    NODE_CLASS = Talker


    def main():
        return 0
"""


@pytest.fixture
def site(ament, monkeypatch):
    """``<prefix>/lib/pythonX.Y/site-packages`` with a ``fake_nodes`` package."""
    path = ament.prefix / "lib" / PY / "site-packages"
    (path / "fake_nodes").mkdir(parents=True)
    (path / "fake_nodes" / "__init__.py").write_text("")
    (path / "fake_nodes" / "talker.py").write_text(textwrap.dedent(TALKER))
    (path / "fake_nodes" / "plain.py").write_text("def main():\n    return 0\n")
    egg = path / "fake_nodes-0.1.0-py3.11.egg-info"
    egg.mkdir()
    (egg / "entry_points.txt").write_text(
        "[console_scripts]\nold_talker = fake_nodes.talker:main\n"
        "old_plain = fake_nodes.plain:main\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [m for m in sys.modules if m.startswith("fake_nodes")]:
        monkeypatch.delitem(sys.modules, name)
    ament.add_exec("fake_pkg", "talker", CONSOLE_SCRIPT.format(module="talker"))
    ament.add_exec("fake_pkg", "plain", CONSOLE_SCRIPT.format(module="plain"))
    ament.add_exec("fake_pkg", "old_talker", EASY_INSTALL_SCRIPT.format(name="old_talker"))
    ament.add_exec("fake_pkg", "old_plain", EASY_INSTALL_SCRIPT.format(name="old_plain"))
    yield path
    for name in [m for m in sys.modules if m.startswith("fake_nodes")]:
        sys.modules.pop(name, None)


def nodes(ament, *execs: str):
    body = "".join(f"- node: {{pkg: fake_pkg, exec: {e}}}\n" for e in execs)
    return load_launch_file(ament.write("sp.launch.yaml", "launch:\n" + body), {}).nodes


def test_entry_points_from_console_and_easy_install_scripts(ament, site) -> None:
    talker, old_talker, quick = nodes(ament, "talker", "old_talker", "quick")
    assert resolve_entry_point(talker) == ("fake_nodes.talker", "main")
    assert resolve_entry_point(old_talker) == ("fake_nodes.talker", "main")
    with pytest.raises(LaunchError, match="cannot find the Python entry point"):
        resolve_entry_point(quick)
    assert load_node_class(talker).__name__ == "Talker"
    assert load_node_class(old_talker).__name__ == "Talker"


def test_a_module_without_node_class_is_a_clear_error(ament, site) -> None:
    plain, old_plain = nodes(ament, "plain", "old_plain")
    for spec in (plain, old_plain):
        with pytest.raises(LaunchError, match=r"module 'fake_nodes\.plain' \(executable "
                                              r"'(old_)?plain'\) has no NODE_CLASS"):
            load_node_class(spec)


@pytest.mark.ros
def test_single_process_runs_nodes_with_their_ros_arguments(ament, site, cli) -> None:
    path = ament.write("sp.launch.yaml", """
        launch:
        - node:
            pkg: fake_pkg
            exec: talker
            name: first
            param: [{name: greeting, value: hello}, {name: count, value: 3}]
        - node:
            pkg: fake_pkg
            exec: old_talker
            name: second
            namespace: robot
            param: [{name: greeting, value: bonjour}]
    """)
    done = cli.run(str(path), "--single-process", "--duration", "0.5", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "up as /first greeting=hello count=3" in done.stderr
    assert "up as /robot/second greeting=bonjour count=0" in done.stderr
    assert "stopping all nodes: duration of 0.5 s elapsed" in done.stderr
