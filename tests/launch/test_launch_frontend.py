"""YAML launch files → resolved node command lines, and the errors (no process started)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from neuro_nodes.launch import LaunchError, load_launch_file, parse_overrides


def exe(ament, name: str) -> str:
    return str(ament.prefix / "lib" / "fake_pkg" / name)


def node_argv(desc, i: int = 0) -> list[str]:
    return desc.nodes[i].cmd[1:]


def test_arg_default_override_and_let(ament) -> None:
    path = ament.write("a.launch.yaml", """
        launch:
        - arg: {name: rate, default: '1.5', description: replay speed}
        - arg: {name: who, default: 'x-$(var rate)'}
        - let: {name: msg, value: '$(var who)!'}
        - node: {pkg: fake_pkg, exec: echo_args, args: '--rate $(var rate) $(var msg)'}
    """)
    desc = load_launch_file(path, {})
    assert desc.nodes[0].cmd == [exe(ament, "echo_args"), "--rate", "1.5", "x-1.5!", "--ros-args"]
    assert [(a.name, a.value) for a in desc.arguments] == [("rate", "1.5"), ("who", "x-1.5")]
    desc = load_launch_file(path, {"rate": "3"})
    assert node_argv(desc) == ["--rate", "3", "x-3!", "--ros-args"]
    assert desc.configurations["msg"] == "x-3!"


def test_missing_required_arg_and_unknown_override(ament) -> None:
    path = ament.write("a.launch.yaml", """
        launch:
        - arg: {name: recording, description: rosbag2 folder}
        - arg: {name: rate, default: '1.0'}
    """)
    with pytest.raises(LaunchError, match=r"a\.launch\.yaml:2: arg #1 \(recording\): required "
                                          r"launch argument 'recording' \(rosbag2 folder\)"):
        load_launch_file(path, {})
    with pytest.raises(LaunchError, match=r"unknown launch argument\(s\) rte \(declared "
                                          r"arguments: rate, recording\)"):
        load_launch_file(path, {"recording": "/x", "rte": "2"})
    assert parse_overrides(["a:=1", "b:=x:=y", "c:="]) == {"a": "1", "b": "x:=y", "c": ""}
    with pytest.raises(LaunchError, match="name:=value"):
        parse_overrides(["oops"])


def test_choices(ament) -> None:
    path = ament.write("a.launch.yaml", """
        launch:
        - arg: {name: mode, default: a, choice: [{value: a}, {value: b}]}
    """)
    assert load_launch_file(path, {"mode": "b"}).configurations["mode"] == "b"
    with pytest.raises(LaunchError, match=r"'mode' got 'c', which is not one of \['a', 'b'\]"):
        load_launch_file(path, {"mode": "c"})


def test_substitutions(ament, monkeypatch) -> None:
    share = ament.add_package("other_pkg")
    monkeypatch.setenv("NEURO_TEST_VAR", "from-env")
    monkeypatch.delenv("NEURO_UNSET_VAR", raising=False)
    path = ament.write("sub/s.launch.yaml", """
        launch:
        - let: {name: n, value: '3'}
        - node:
            pkg: fake_pkg
            exec: echo_args
            args: >-
              $(env NEURO_TEST_VAR) $(env NEURO_UNSET_VAR fallback)
              $(find-pkg-share other_pkg)/cfg $(find-pkg-prefix other_pkg)
              $(dirname) $(filename) $(eval '$(var n) * 2') $(var missing 'a b')
              $(anon x) $(anon x) $(not $(var flag true)) $(exec-in-pkg quick fake_pkg)
              \\$(var n)
    """)
    argv = node_argv(load_launch_file(path, {}))
    assert argv[:9] == [
        "from-env", "fallback", f"{share}/cfg", str(ament.prefix),
        str(path.parent), str(path), "6", "a b", argv[8],
    ]
    assert argv[8].startswith("x_") and argv[8] == argv[9]
    assert argv[10:] == ["false", exe(ament, "quick"), "$(var", "n)", "--ros-args"]


@pytest.mark.parametrize(("value", "message"), [
    ("$(var nope)", "launch configuration 'nope' does not exist"),
    ("$(env NEURO_UNSET_VAR)", "environment variable 'NEURO_UNSET_VAR' does not exist"),
    ("$(find-pkg-share no_such_pkg)", "package 'no_such_pkg' not found in the ament index"),
    ("$(bogus x)", r"unknown substitution '\$\(bogus\)'"),
    ("$(command ls)", r"'\$\(command\)' is not supported"),
    ("$(var a b c)", r"'\$\(var\)' expects 1 or 2 argument\(s\), got 3"),
    ("$(var x", "unterminated substitution"),
    ("$(eval 1/0)", "ZeroDivisionError"),
])
def test_bad_substitutions_name_file_and_entry(ament, monkeypatch, value, message) -> None:
    monkeypatch.delenv("NEURO_UNSET_VAR", raising=False)
    path = ament.write("bad.launch.yaml", f"""
        launch:
        - arg: {{name: a, default: x}}
        - node: {{pkg: fake_pkg, exec: echo_args, name: talker, args: '{value}'}}
    """)
    with pytest.raises(LaunchError) as info:
        load_launch_file(path, {})
    text = str(info.value)
    assert "bad.launch.yaml:3: node #2 (pkg=fake_pkg exec=echo_args name=talker)" in text
    assert pytest.importorskip("re").search(message, text), text


def test_exact_ros_arguments_params_and_remaps(ament) -> None:
    params = ament.write("params.yaml", """
        /**:
          ros__parameters: {from_file: 1}
    """)
    path = ament.write("p.launch.yaml", f"""
        launch:
        - arg: {{name: rate, default: '2.5'}}
        - node:
            pkg: fake_pkg
            exec: echo_args
            name: cam
            namespace: robot
            args: --verbose
            ros_args: --log-level debug
            param:
            - {{from: {params}}}
            - {{name: rate, value: $(var rate)}}
            - {{name: count, value: 3}}
            - {{name: ratio, value: 0.5}}
            - {{name: loop, value: true}}
            - {{name: label, value: '5'}}
            - {{name: frame, value: camera_frame}}
            - {{name: empty, value: ''}}
            - {{name: gains, value: [1.0, 2.0]}}
            - {{name: names, value: [a, b]}}
            - {{name: typed, value: $(var rate), type: str}}
            - {{name: count_s, value: '$(var rate)0', type: float}}
            - name: filter
              param:
              - {{name: alpha, value: 0.1}}
              - name: deep
                param: [{{name: enabled, value: 'yes', type: bool}}]
            - {{from: '$(dirname)/params.yaml'}}
            remap:
            - {{from: events, to: /camera/events}}
            - {{from: image, to: $(var rate)}}
    """)
    desc = load_launch_file(path, {})
    node = desc.nodes[0]
    assert (node.name, node.namespace, node.label) == ("cam", "/robot", "cam")
    inline = node.cmd[node.cmd.index(str(params)) + 2]
    assert node.cmd == [
        exe(ament, "echo_args"), "--verbose", "--ros-args", "--log-level", "debug",
        "--ros-args", "-r", "__node:=cam", "-r", "__ns:=/robot",
        "--params-file", str(params), "--params-file", inline, "--params-file", str(params),
        "-r", "events:=/camera/events", "-r", "image:=2.5",
    ]
    assert node.node_args == node.cmd[1:]
    data = yaml.safe_load(Path(inline).read_text())
    assert data == {"/robot/cam": {"ros__parameters": {
        "rate": 2.5, "count": 3, "ratio": 0.5, "loop": True, "label": "5",
        "frame": "camera_frame", "empty": "", "gains": [1.0, 2.0], "names": ["a", "b"],
        "typed": "2.5", "count_s": 2.5, "filter.alpha": 0.1, "filter.deep.enabled": True,
    }}}
    assert type(data["/robot/cam"]["ros__parameters"]["label"]) is str
    desc.cleanup()
    assert not Path(inline).exists()


def test_inline_params_use_wildcard_without_full_name(ament) -> None:
    path = ament.write("p.launch.yaml", """
        launch:
        - node:
            pkg: fake_pkg
            exec: echo_args
            name: cam
            param: [{name: a, value: 1}]
    """)
    node = load_launch_file(path, {}).nodes[0]
    assert node.cmd[1:6] == ["--ros-args", "-r", "__node:=cam", "--params-file", node.cmd[5]]
    assert yaml.safe_load(Path(node.cmd[5]).read_text()) == {"/**": {"ros__parameters": {"a": 1}}}


def test_include_with_args_is_not_scoped(ament) -> None:
    ament.write("inc/child.launch.yaml", """
        launch:
        - arg: {name: who}
        - arg: {name: level, default: low}
        - let: {name: leaked, value: 'from child'}
        - node:
            {pkg: fake_pkg, exec: echo_args, name: $(var who), args: '$(var level) $(var where)'}
    """)
    path = ament.write("parent.launch.yaml", """
        launch:
        - arg: {name: level, default: high}
        - include:
            file: $(dirname)/inc/child.launch.yaml
            arg:
            - {name: who, value: child_node}
            - {name: where, value: $(dirname)}
        - node: {pkg: fake_pkg, exec: echo_args, args: '$(var leaked) $(var who)'}
    """)
    desc = load_launch_file(path, {"level": "mid"})
    assert [n.label for n in desc.nodes] == ["child_node", "echo_args"]
    # level: the command line wins over the parent default and the child default;
    # $(dirname) in an include arg is the included file's directory, as in launch
    assert node_argv(desc, 0) == ["mid", str(ament.root / "inc"), "--ros-args",
                                  "-r", "__node:=child_node"]
    assert node_argv(desc, 1) == ["from child", "child_node", "--ros-args"]
    assert {a.name for a in desc.arguments} == {"level", "who"}

    missing = ament.write("bad.launch.yaml", """
        launch:
        - include: {file: $(dirname)/inc/child.launch.yaml}
    """)
    with pytest.raises(LaunchError, match=r"bad\.launch\.yaml:2: include #1 .*missing required "
                                          r"argument 'who'"):
        load_launch_file(missing, {})
    nofile = ament.write("nofile.launch.yaml", """
        launch:
        - include: {file: $(dirname)/nope.launch.yaml}
    """)
    with pytest.raises(LaunchError, match=r"included launch file '.*nope\.launch\.yaml' not found"):
        load_launch_file(nofile, {})


def test_error_inside_included_file_names_both_files(ament) -> None:
    ament.write("child.launch.yaml", """
        launch:
        - node: {pkg: fake_pkg, exec: echo_args, parm: []}
    """)
    path = ament.write("parent.launch.yaml", """
        launch:
        - include: {file: $(dirname)/child.launch.yaml}
    """)
    with pytest.raises(LaunchError) as info:
        load_launch_file(path, {})
    assert "child.launch.yaml:2: node #1 (pkg=fake_pkg exec=echo_args): unknown key 'parm'" in (
        str(info.value))
    assert "(included from parent.launch.yaml:2)" in str(info.value).replace(
        str(ament.root) + os.sep, "")


def test_groups_namespaces_and_conditions(ament) -> None:
    path = ament.write("g.launch.yaml", """
        launch:
        - arg: {name: with_extra, default: 'false'}
        - let: {name: x, value: outer}
        - group:
            children:
            - push_ros_namespace: {namespace: robot}
            - let: {name: x, value: inner}
            - node: {pkg: fake_pkg, exec: echo_args, name: a, args: $(var x)}
            - node: {pkg: fake_pkg, exec: echo_args, name: b, namespace: arm}
            - node: {pkg: fake_pkg, exec: echo_args, name: c, namespace: /abs}
        - group:
            forwarding: false
            keep: [{name: kept, value: $(var x)}]
            children:
            - node: {pkg: fake_pkg, exec: echo_args, name: d, args: '$(var kept) $(var x none)'}
        - node: {pkg: fake_pkg, exec: echo_args, name: e, args: $(var x), if: $(var with_extra)}
        - node: {pkg: fake_pkg, exec: echo_args, name: f, unless: $(var with_extra)}
        - group:
            if: $(var with_extra)
            children:
            - arg: {name: only_if_extra, default: '1'}
    """)
    desc = load_launch_file(path, {})
    cmds = {n.label: n.cmd[1:] for n in desc.nodes}
    assert list(cmds) == ["a", "b", "c", "d", "f"]
    assert cmds["a"] == ["inner", "--ros-args", "-r", "__node:=a", "-r", "__ns:=/robot"]
    assert cmds["b"][-1] == "__ns:=/robot/arm"
    assert cmds["c"][-1] == "__ns:=/abs"
    assert cmds["d"][:2] == ["outer", "none"]
    assert desc.configurations["x"] == "outer"
    # an argument behind a false condition still counts as declared
    desc = load_launch_file(path, {"with_extra": "true", "only_if_extra": "2"})
    assert [n.label for n in desc.nodes] == ["a", "b", "c", "d", "e"]
    with pytest.raises(LaunchError, match="condition 'if' evaluated to 'maybe'"):
        load_launch_file(path, {"with_extra": "maybe"})


@pytest.mark.parametrize(("entry", "message"), [
    ("node: {pkg: fake_pkg, exec: echo_args, parm: []}",
     r"node #2 \(pkg=fake_pkg exec=echo_args\): unknown key 'parm' \(did you mean 'param'\?\)"),
    ("nod: {pkg: fake_pkg, exec: echo_args}", r"unknown action 'nod' \(did you mean 'node'\?\)"),
    ("timer: {period: '1.0'}", "action 'timer' is valid in ROS 2 launch files but not supported"),
    ("node: {pkg: fake_pkg, exec: echo_args, emulate_tty: true}",
     "key 'emulate_tty' is valid in ROS 2 launch files but not supported"),
    ("node: {pkg: fake_pkg, exec: echo_args, respawn: true}",
     r"attribute 'respawn' must be a string, got boolean True .*quote it, 'true'"),
    ("node: {pkg: fake_pkg, exec: echo_args, respawn_delay: 1}",
     r"attribute 'respawn_delay' must be a float.* 1\.0"),
    ("node: {pkg: fake_pkg, exec: echo_args, on_exit: restart}", "'on_exit' must be 'shutdown'"),
    ("node: {pkg: fake_pkg, exec: echo_args, output: loud}", "output must be 'screen'"),
    ("node: {pkg: fake_pkg}", "missing required attribute 'exec'"),
    ("node: {pkg: fake_pkg, exec: echo_args, name: 'bad-name'}", "invalid node name 'bad-name'"),
    ("node: {pkg: fake_pkg, exec: echo_args, param: [{name: p, value: {a: 1}}]}",
     "use nested 'param' entries for a mapping"),
    ("node: {pkg: fake_pkg, exec: echo_args, param: [{name: p, value: [1, a]}]}", "mixes types"),
    ("node: {pkg: fake_pkg, exec: echo_args, param: [{from: /no/such/params.yaml}]}",
     r"param #1: parameter file '/no/such/params\.yaml' not found"),
    ("node: {pkg: fake_pkg, exec: echo_args, remap: [{from: a}]}",
     "remap #1: missing required attribute 'to'"),
    ("node: {pkg: fake_pkg, exec: no_such_exec}",
     r"executable 'no_such_exec' not found in package 'fake_pkg'.*"
     r"\(executables there: .*echo_args"),
    ("node: {pkg: no_such_pkg, exec: echo_args}", "package 'no_such_pkg' not found"),
    ("arg: {name: a, default: 5}", r"must be a string, got integer 5 .*quote it, '5'"),
    ("- node: {pkg: fake_pkg, exec: echo_args}", "exactly one key"),
    ("group: {scoped: true}", "needs a 'children' list"),
])
def test_errors_name_file_line_and_entry(ament, entry, message) -> None:
    path = ament.write("demo.launch.yaml", f"""
        launch:
        - let: {{name: first, value: '1'}}
        - {entry}
    """)
    with pytest.raises(LaunchError) as info:
        load_launch_file(path, {})
    text = str(info.value)
    assert text.startswith(f"{path}:3: "), text
    assert pytest.importorskip("re").search(message, text), text


def test_exec_not_executable_and_bad_root(ament) -> None:
    ament.add_exec("fake_pkg", "not_exec", "print(1)\n", mode=0o644)
    path = ament.write("a.launch.yaml", """
        launch:
        - node: {pkg: fake_pkg, exec: not_exec}
    """)
    with pytest.raises(LaunchError, match=r"not_exec' is not executable"):
        load_launch_file(path, {})
    root = ament.write("r.launch.yaml", "nodes: []\n")
    with pytest.raises(LaunchError, match="expected exactly one root key, 'launch:'"):
        load_launch_file(root, {})
    with pytest.raises(LaunchError, match="launch file not found"):
        load_launch_file(ament.root / "missing.launch.yaml", {})
    with pytest.raises(LaunchError, match="only YAML launch files"):
        load_launch_file(ament.write("x.launch.py", "pass\n"), {})


def test_node_options(ament, monkeypatch) -> None:
    path = ament.write("o.launch.yaml", """
        launch:
        - node:
            pkg: fake_pkg
            exec: echo_args
            output: screen
            respawn: 'true'
            respawn_delay: 0.5
            respawn_max_retries: 2
            on_exit: shutdown
            env: [{name: FOO, value: bar}]
            cwd: /tmp
            launch-prefix: nice -n 5
        - node: {pkg: fake_pkg, exec: echo_args}
        - node: {pkg: fake_pkg, exec: echo_args, exec_name: custom}
    """)
    desc = load_launch_file(path, {})
    a, b, c = desc.nodes
    assert a.cmd[:4] == ["nice", "-n", "5", exe(ament, "echo_args")]
    assert a.node_args == ["--ros-args"]
    assert (a.output, a.respawn, a.respawn_delay, a.respawn_max_retries, a.required) == (
        "screen", True, 0.5, 2, True)
    assert (a.env, a.cwd) == ({"FOO": "bar"}, "/tmp")
    assert (b.output, b.respawn, b.required, b.label, c.label) == (
        "log", False, False, "echo_args-2", "custom")
    monkeypatch.setenv("OVERRIDE_LAUNCH_PROCESS_OUTPUT", "both")
    assert {n.output for n in load_launch_file(path, {}).nodes} == {"both"}


def test_short_forms_aliases_and_substituted_params_file(ament) -> None:
    ament.write("child.launch.yaml", """
        launch:
        - node: {pkg: fake_pkg, exec: quick, name: inc}
    """)
    ament.write("subst_params.yaml", """
        /**:
          ros__parameters:
            where: $(var place)
            size: $(eval '2 * 8')
    """)
    path = ament.write("short.launch.yaml", """
        launch:
        - let: {name: place, value: lab}
        - include: $(dirname)/child.launch.yaml
        - group:
          - push-ros-namespace: {namespace: team}
          - node:
              pkg: fake_pkg
              exec: quick
              name: grouped
              respawn: $(var place_is_respawn 'false')
              param: [{from: $(dirname)/subst_params.yaml, allow_substs: true}]
    """)
    desc = load_launch_file(path, {})
    inc, grouped = desc.nodes
    assert inc.node_args == ["--ros-args", "-r", "__node:=inc"]
    assert grouped.node_args[:5] == ["--ros-args", "-r", "__node:=grouped", "-r", "__ns:=/team"]
    assert grouped.respawn is False
    rendered = Path(grouped.node_args[-1])
    assert rendered.parent == desc.temp_dir
    assert yaml.safe_load(rendered.read_text()) == {
        "/**": {"ros__parameters": {"where": "lab", "size": 16}}}
    assert desc.configurations["place"] == "lab"
