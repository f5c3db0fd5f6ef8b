"""YAML launch files (``*.launch.yaml``) → a resolved :class:`LaunchDescription`.

Two phases, as in ``launch``: the whole file is parsed and checked first (unknown
actions and keys, attribute types, substitution syntax), then its actions are visited
in order with the launch configurations, which performs the substitutions and builds
each node's command line exactly as ``launch_ros`` does. Included files are parsed
when their ``include`` is visited, so an include behind a false condition is never read.
"""

from __future__ import annotations

import atexit
import difflib
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from neuro_nodes.launch import substitutions as subst
from neuro_nodes.launch.errors import LaunchError
from neuro_nodes.launch.substitutions import SubstitutionError, Template

# ============================================================================ results


@dataclass
class ArgSpec:
    """A declared launch argument and the value it got."""

    name: str
    default: str | None
    description: str
    value: str | None
    file: str


@dataclass
class NodeSpec:
    """One node, fully resolved: ``cmd`` is the exact argv ``ros2 launch`` would run."""

    name: str | None
    namespace: str | None
    package: str | None
    executable: str
    exe_path: str
    cmd: list[str]
    required: bool = False
    respawn: bool = False
    output: str = "log"
    label: str = ""
    respawn_delay: float = 0.0
    respawn_max_retries: int = -1
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    prefix: list[str] = field(default_factory=list)
    sigterm_timeout: float | None = None
    sigkill_timeout: float | None = None
    source: str = ""

    @property
    def node_args(self) -> list[str]:
        """Everything after the executable: what ``NODE_CLASS(cli_args=...)`` gets."""
        return self.cmd[len(self.prefix) + 1:]


@dataclass
class LaunchDescription:
    """The resolved launch: nodes in launch order, declared arguments, configurations."""

    file: Path
    nodes: list[NodeSpec]
    arguments: list[ArgSpec]
    configurations: dict[str, str]
    temp_dir: Path | None = None

    def cleanup(self) -> None:
        """Delete the generated parameter files (also done at interpreter exit)."""
        if self.temp_dir is not None:
            _remove_temp_dir(self.temp_dir)


_TEMP_DIRS: set[Path] = set()


def _make_temp_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="neuro_launch_"))
    _TEMP_DIRS.add(path)
    return path


def _remove_temp_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _TEMP_DIRS.discard(path)


@atexit.register
def _remove_all_temp_dirs() -> None:
    for path in list(_TEMP_DIRS):
        _remove_temp_dir(path)


# ============================================================================ YAML loading


class _Loader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every list item, for the error messages."""


class _LineList(list):
    lines: list[int] | None = None


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _LineList:
    items = _LineList(loader.construct_sequence(node, deep=True))
    items.lines = [child.start_mark.line + 1 for child in node.value]
    return items


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _line_of(items: Any, index: int) -> int | None:
    lines = getattr(items, "lines", None)
    return lines[index] if lines and index < len(lines) else None


@dataclass
class _Where:
    """Where an entry is: file, line, and a path like ``group #3 > node #2 (pkg=.. exec=..)``."""

    file: str
    line: int | None
    path: str
    included_from: str = ""

    def child(self, desc: str, line: int | None) -> _Where:
        path = f"{self.path} > {desc}" if self.path else desc
        return _Where(self.file, line, path, self.included_from)

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        return f"{loc}: {self.path}" if self.path else loc

    def error(self, message: str) -> LaunchError:
        return LaunchError(f"{self}: {message}{self.included_from}")


# ============================================================================ entity


_ENTITY_TYPES = (str, int, float, bool)
_TYPE_NAMES = {str: "string", int: "integer", float: "float", bool: "boolean", list: "list"}


class _Entity:
    """One YAML mapping, with ``launch_yaml``'s type checks and unknown-key detection."""

    def __init__(self, kind: str, body: Any, where: _Where) -> None:
        self.kind = kind
        self.where = where
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise where.error(f"'{kind}' expects a mapping of attributes, got {_tname(body)}")
        self.body: dict = body
        self.read: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.body

    def get(self, key: str, types: tuple[type, ...] = (str,), *, optional: bool = True) -> Any:
        if key not in self.body:
            if optional:
                return None
            raise self.where.error(f"missing required attribute '{key}'")
        self.read.add(key)
        value = self.body[key]
        ok = isinstance(value, types) and not (
            isinstance(value, bool) and bool not in types
        )
        if not ok:
            wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            hint = ""
            if str in types and isinstance(value, _ENTITY_TYPES):
                hint = f" (ROS 2 YAML launch needs a string here: quote it, '{value}')"
                if isinstance(value, bool):
                    hint = (f" (ROS 2 YAML launch needs a string here: quote it, "
                            f"'{str(value).lower()}')")
            elif float in types and isinstance(value, int) and not isinstance(value, bool):
                hint = f" (write it as a float, {value}.0, as ROS 2 YAML launch requires)"
            raise self.where.error(
                f"attribute '{key}' must be a {wanted}, got {_tname(value)} {value!r}{hint}"
            )
        return value

    def get_template(self, key: str, *, optional: bool = True) -> Template | None:
        raw = self.get(key, optional=optional)
        if raw is None:
            return None
        return self.parse(raw, key)

    def parse(self, raw: str, key: str) -> Template:
        try:
            return subst.parse(raw)
        except SubstitutionError as err:
            raise self.where.error(f"attribute '{key}': {err}") from None

    def get_list(self, key: str) -> list[_Entity]:
        """A list of mappings (``param``, ``remap``, ``arg``, ``env``...)."""
        if key not in self.body:
            return []
        self.read.add(key)
        items = self.body[key]
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items) or (
            not items
        ):
            raise self.where.error(
                f"attribute '{key}' must be a non-empty list of mappings, got {items!r}"
            )
        return [
            _Entity(key, item, self.where.child(f"{key} #{i}", _line_of(items, i - 1)))
            for i, item in enumerate(items, 1)
        ]

    def finish(self, unsupported: Mapping[str, str] | None = None) -> None:
        """Every key must have been read: an unknown key is an error, as in ``launch_yaml``."""
        for key in self.body:
            if key in self.read:
                continue
            if unsupported and key in unsupported:
                raise self.where.error(
                    f"key '{key}' is valid in ROS 2 launch files but not supported by "
                    f"neuro_nodes.launch{unsupported[key]}"
                )
            close = difflib.get_close_matches(str(key), [str(k) for k in self.read_keys()], 1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.where.error(f"unknown key '{key}'{hint}")

    def read_keys(self) -> list[str]:
        return sorted(_KNOWN_KEYS.get(self.kind, set()) | self.read)


def _tname(value: Any) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


_CONDITION_KEYS = {"if", "unless"}
_KNOWN_KEYS: dict[str, set[str]] = {
    "arg": {"name", "default", "description", "choice"} | _CONDITION_KEYS,
    "let": {"name", "value"} | _CONDITION_KEYS,
    "include": {"file", "arg"} | _CONDITION_KEYS,
    "group": {"scoped", "forwarding", "keep", "children"} | _CONDITION_KEYS,
    "push_ros_namespace": {"namespace"} | _CONDITION_KEYS,
    "node": {
        "pkg", "exec", "name", "namespace", "exec_name", "output", "respawn",
        "respawn_delay", "respawn_max_retries", "args", "ros_args", "param", "remap",
        "on_exit", "env", "cwd", "launch-prefix", "sigterm_timeout", "sigkill_timeout",
    } | _CONDITION_KEYS,
    "param": {"name", "value", "type", "param", "from", "allow_substs"},
    "remap": {"from", "to"},
    "env": {"name", "value"},
    "keep": {"name", "value"},
    "choice": {"value"},
}
_NODE_UNSUPPORTED = {
    "emulate_tty": "", "shell": "", "output_format": "", "log_cmd": "", "cached_output": "",
    "launch-prefix-filter": "", "node-name": "",
}


# ============================================================================ actions


@dataclass
class _Action:
    where: _Where
    condition: tuple[str, Template] | None


@dataclass
class _Arg(_Action):
    name: str
    default: Template | None
    default_raw: str | None
    description: str
    choices: list[str] | None


@dataclass
class _Let(_Action):
    name: Template
    value: Template


@dataclass
class _Include(_Action):
    file: Template
    args: list[tuple[Template, Template]]


@dataclass
class _Group(_Action):
    scoped: bool
    forwarding: bool
    keep: list[tuple[Template, Template]]
    children: list[_Action]


@dataclass
class _PushNamespace(_Action):
    namespace: Template


@dataclass
class _Param:
    where: _Where
    from_file: Template | None = None
    allow_substs: bool = False
    values: dict[str, Any] = field(default_factory=dict)  # name -> _ParamValue | nested dict


@dataclass
class _ParamValue:
    value: Any  # str template, scalar or list of them
    type_id: str | None
    where: _Where


@dataclass
class _Node(_Action):
    pkg: Template | None
    exec: Template
    name: Template | None
    namespace: Template | None
    exec_name: Template | None
    output: Template | None
    respawn: Template | None
    respawn_delay: float | None
    respawn_max_retries: int | None
    args: list[Template]
    ros_args: list[Template] | None
    params: list[_Param]
    remaps: list[tuple[Template, Template]]
    required: bool
    env: list[tuple[Template, Template]]
    cwd: Template | None
    prefix: Template | None
    sigterm_timeout: float | None
    sigkill_timeout: float | None


_ACTION_NAMES = ("arg", "let", "node", "include", "group", "push_ros_namespace")
_ROS_ACTIONS_UNSUPPORTED = {
    "executable", "set_env", "unset_env", "append_env", "set_parameter", "set_remap",
    "set_parameters_from_file", "log", "timer", "ros_timer", "reset", "for", "composable_node",
    "node_container", "load_composable_node", "lifecycle_node", "set_use_sim_time",
    "set_ros_log_dir", "push_env", "pop_env", "reset_env", "let_global", "set-env",
    "unset-env",
}
_TYPE_IDS = {
    "str": (str, False), "int": (int, False), "float": (float, False), "bool": (bool, False),
    "list_of_str": (str, True), "list_of_int": (int, True), "list_of_float": (float, True),
    "list_of_bool": (bool, True),
}


def _describe(kind: str, body: Any, index: int) -> str:
    desc = f"{kind} #{index}"
    if isinstance(body, dict):
        if kind == "node":
            bits = [f"{k}={body[k]}" for k in ("pkg", "exec", "name") if k in body]
            desc += f" ({' '.join(bits)})" if bits else ""
        elif kind in ("arg", "let") and "name" in body:
            desc += f" ({body['name']})"
        elif kind == "include" and "file" in body:
            desc += f" ({body['file']})"
    return desc


def _parse_actions(items: Any, where: _Where) -> list[_Action]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise where.error(f"expected a list of actions, got {_tname(items)}")
    actions = []
    for index, item in enumerate(items, 1):
        line = _line_of(items, index - 1)
        if not isinstance(item, dict) or len(item) != 1:
            raise where.child(f"entry #{index}", line).error(
                "each entry must be a mapping with exactly one key, the action "
                f"({', '.join(_ACTION_NAMES)}), got {item!r}"
            )
        kind, body = next(iter(item.items()))
        kind = str(kind)
        here = where.child(_describe(kind, body, index), line)
        if kind == "push-ros-namespace":
            kind = "push_ros_namespace"
        parser = _PARSERS.get(kind)
        if parser is None:
            if kind in _ROS_ACTIONS_UNSUPPORTED:
                raise here.error(
                    f"action '{kind}' is valid in ROS 2 launch files but not supported by "
                    f"neuro_nodes.launch (supported: {', '.join(_ACTION_NAMES)})"
                )
            close = difflib.get_close_matches(kind, _ACTION_NAMES, 1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise here.error(
                f"unknown action '{kind}'{hint}; supported: {', '.join(_ACTION_NAMES)}"
            )
        if kind == "include" and isinstance(body, str):
            body = {"file": body}  # launch_yaml's bare form, `include: path`
        if kind == "group" and isinstance(body, list):
            body = {"children": body}  # a group without attributes, `group: [...]`
        entity = _Entity(kind, body, here)
        actions.append(parser(entity))
    return actions


def _pair(e: _Entity, first: str, second: str) -> tuple[Template, Template]:
    pair = (e.get_template(first, optional=False), e.get_template(second, optional=False))
    e.finish()
    return pair  # type: ignore[return-value]


def _condition(entity: _Entity) -> tuple[str, Template] | None:
    if_ = entity.get_template("if")
    unless = entity.get_template("unless")
    if if_ is not None and unless is not None:
        raise entity.where.error("'if' and 'unless' cannot be used together")
    if if_ is not None:
        return ("if", if_)
    if unless is not None:
        return ("unless", unless)
    return None


def _parse_arg(e: _Entity) -> _Arg:
    cond = _condition(e)
    name = e.get("name", optional=False)
    default_raw = e.get("default")
    default = e.parse(default_raw, "default") if default_raw is not None else None
    description = e.get("description") or ""
    choices = None
    choice_entities = e.get_list("choice")
    if choice_entities:
        choices = []
        for c in choice_entities:
            choices.append(_unescape(c.get("value", optional=False)))
            c.finish()
    e.finish()
    return _Arg(e.where, cond, _unescape(name), default, default_raw, description, choices)


def _unescape(text: str) -> str:
    import re

    return re.sub(r"\\(.)", r"\1", text)


def _parse_let(e: _Entity) -> _Let:
    cond = _condition(e)
    action = _Let(e.where, cond, e.get_template("name", optional=False),
                  e.get_template("value", optional=False))
    e.finish()
    return action


def _parse_include(e: _Entity) -> _Include:
    cond = _condition(e)
    file = e.get_template("file", optional=False)
    args = [_pair(x, "name", "value") for x in e.get_list("arg")]
    e.finish()
    return _Include(e.where, cond, file, args)


def _parse_group(e: _Entity) -> _Group:
    cond = _condition(e)
    scoped = e.get("scoped", (bool, str))
    forwarding = e.get("forwarding", (bool, str))
    keep = [_pair(x, "name", "value") for x in e.get_list("keep")]
    if "children" not in e.body:
        raise e.where.error("a group needs a 'children' list of actions")
    e.read.add("children")
    children = _parse_actions(e.body["children"], e.where)
    e.finish()
    return _Group(
        e.where, cond,
        _static_bool(scoped, True, e, "scoped"), _static_bool(forwarding, True, e, "forwarding"),
        keep, children,
    )


def _static_bool(value: Any, default: bool, e: _Entity, key: str) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    try:
        return subst.to_bool(value, f"attribute '{key}'")
    except SubstitutionError as err:
        raise e.where.error(str(err)) from None


def _parse_push_ns(e: _Entity) -> _PushNamespace:
    cond = _condition(e)
    action = _PushNamespace(e.where, cond, e.get_template("namespace", optional=False))
    e.finish()
    return action


def _parse_float(e: _Entity, key: str) -> float | None:
    value = e.get(key, (float,))
    if value is not None and value < 0:
        raise e.where.error(f"attribute '{key}' must be non-negative, got {value}")
    return value


def _parse_node(e: _Entity) -> _Node:
    cond = _condition(e)
    args_t = e.get_template("args")
    ros_args_t = e.get_template("ros_args")
    on_exit = e.get("on_exit")
    if on_exit is not None and on_exit != "shutdown":
        raise e.where.error(
            f"attribute 'on_exit' must be 'shutdown' (the only value ROS 2 YAML launch "
            f"accepts), got {on_exit!r}"
        )
    remaps = [_pair(x, "from", "to") for x in e.get_list("remap")]
    env = [_pair(x, "name", "value") for x in e.get_list("env")]
    params = [_parse_param(p) for p in e.get_list("param")]
    try:
        args = subst.parse_cmdline(args_t) if args_t is not None else []
        ros_args = subst.parse_cmdline(ros_args_t) if ros_args_t is not None else None
    except SubstitutionError as err:
        raise e.where.error(str(err)) from None
    retries = e.get("respawn_max_retries", (int,))
    node = _Node(
        e.where, cond,
        pkg=e.get_template("pkg"),
        exec=e.get_template("exec", optional=False),
        name=e.get_template("name"),
        namespace=e.get_template("namespace"),
        exec_name=e.get_template("exec_name"),
        output=e.get_template("output"),
        respawn=e.get_template("respawn"),
        respawn_delay=_parse_float(e, "respawn_delay"),
        respawn_max_retries=retries,
        args=args,
        ros_args=ros_args,
        params=params,
        remaps=remaps,
        required=on_exit == "shutdown",
        env=env,
        cwd=e.get_template("cwd"),
        prefix=e.get_template("launch-prefix"),
        sigterm_timeout=_parse_float(e, "sigterm_timeout"),
        sigkill_timeout=_parse_float(e, "sigkill_timeout"),
    )
    e.finish(_NODE_UNSUPPORTED)
    return node


def _parse_param(p: _Entity) -> _Param:
    from_raw = p.get("from")
    name = p.get("name")
    allow = p.get("allow_substs", (bool, str))
    if from_raw is not None and name is not None:
        raise p.where.error("'name' and 'from' are mutually exclusive")
    if from_raw is not None:
        if p.has("value") or p.has("param") or p.has("type"):
            raise p.where.error("a 'from' parameter file takes no 'value', 'type' or 'param'")
        result = _Param(p.where, from_file=p.parse(from_raw, "from"),
                        allow_substs=_static_bool(allow, False, p, "allow_substs"))
        p.finish()
        return result
    if name is None:
        raise p.where.error("a param needs 'name' (with 'value' or nested 'param') or 'from'")
    if allow is not None:
        raise p.where.error("'allow_substs' can only be used together with 'from'")
    result = _Param(p.where, values=_parse_param_entries([p]))
    return result


def _parse_param_entries(entities: list[_Entity]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in entities:
        name = p.get("name", optional=False)
        type_id = p.get("type")
        if type_id is not None and type_id not in _TYPE_IDS:
            raise p.where.error(
                f"unknown parameter type {type_id!r} (one of: {', '.join(_TYPE_IDS)})"
            )
        value = p.body.get("value")
        p.read.add("value")
        nested = p.get_list("param") if "param" in p.body else []
        p.finish()
        if value is not None and nested:
            raise p.where.error("nested 'param' and 'value' are mutually exclusive")
        if type_id is not None and nested:
            raise p.where.error("nested 'param' and 'type' are mutually exclusive")
        key = name
        if value is not None:
            out[key] = _ParamValue(_parse_param_value(value, type_id, p), type_id, p.where)
        elif nested:
            out[key] = _parse_param_entries(nested)
        else:
            raise p.where.error(f"param '{name}' needs a 'value' or nested 'param' list")
    return out


def _parse_param_value(value: Any, type_id: str | None, p: _Entity) -> Any:
    """Check the YAML value like ``get_attr(data_type=...)`` and parse string substitutions."""
    scalar_type, is_list = _TYPE_IDS[type_id] if type_id else (None, None)

    def scalar(x: Any) -> Any:
        if isinstance(x, str):
            return p.parse(x, "value")
        if not isinstance(x, _ENTITY_TYPES):
            raise p.where.error(
                f"parameter value must be a string, number, boolean or a list of them, "
                f"got {_tname(x)} (use nested 'param' entries for a mapping)"
            )
        if scalar_type is not None and not _is_type(x, scalar_type):
            raise p.where.error(f"value {x!r} is not of type '{type_id}'")
        return x

    if isinstance(value, list):
        if type_id is not None and not is_list:
            raise p.where.error(f"a list value does not match type '{type_id}'")
        items = [scalar(x) for x in value]
        # parse_if_substitutions: literal items must share one type (text counts as str)
        kinds = {
            (str if subst.is_plain(x) else None) if isinstance(x, tuple) else type(x)
            for x in items
        } - {None}
        if len(kinds) > 1:
            raise p.where.error(f"list value {value!r} mixes types (ROS parameters are uniform)")
        return items
    if type_id is not None and is_list and not isinstance(value, str):
        raise p.where.error(f"value {value!r} does not match type '{type_id}'")
    return scalar(value)


def _is_type(x: Any, t: type) -> bool:
    if t is float:
        return isinstance(x, float)
    if t is int:
        return isinstance(x, int) and not isinstance(x, bool)
    return isinstance(x, t)


_PARSERS: dict[str, Callable[[_Entity], _Action]] = {
    "arg": _parse_arg,
    "let": _parse_let,
    "node": _parse_node,
    "include": _parse_include,
    "group": _parse_group,
    "push_ros_namespace": _parse_push_ns,
}


def _parse_file(path: Path, display: str, included_from: str = "") -> list[_Action]:
    where = _Where(display, None, "", included_from)
    if path.suffix in (".py", ".xml") or path.name.endswith((".launch.py", ".launch.xml")):
        raise where.error("only YAML launch files (*.launch.yaml) are supported")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LaunchError(f"{display}: launch file not found{included_from}") from None
    except OSError as err:
        raise LaunchError(f"{display}: cannot read launch file: {err}{included_from}") from None
    try:
        tree = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise where.error(f"invalid YAML: {err}") from None
    if not isinstance(tree, dict) or len(tree) != 1 or "launch" not in tree:
        raise where.error("expected exactly one root key, 'launch:', holding a list of actions")
    return _parse_actions(tree["launch"], _Where(display, None, "", included_from))


# ============================================================================ visiting


_UNSPECIFIED_NAME = "<node_name_unspecified>"
_UNSPECIFIED_NS = "<node_namespace_unspecified>"


class _Visitor:
    def __init__(self, overrides: Mapping[str, str], temp_dir: Path) -> None:
        self.configs: dict[str, str] = dict(overrides)
        self.nodes: list[NodeSpec] = []
        self.arguments: list[ArgSpec] = []
        self.declared: set[str] = set()
        self.temp_dir = temp_dir
        self.n_param_files = 0
        self.include_stack: list[Path] = []

    # -- helpers
    def ctx(self, file: Path) -> subst.Context:
        return subst.Context(self.configs, file)

    def perform(self, t: Template, file: Path, where: _Where, what: str) -> str:
        try:
            return subst.perform(t, self.ctx(file))
        except SubstitutionError as err:
            raise where.error(f"{what}: {err}") from None

    def condition_holds(self, a: _Action, file: Path) -> bool:
        if a.condition is None:
            return True
        kind, t = a.condition
        text = self.perform(t, file, a.where, f"condition '{kind}'").strip().lower()
        if text in ("true", "1"):
            value = True
        elif text in ("false", "0"):
            value = False
        else:
            raise a.where.error(
                f"condition '{kind}' evaluated to {text!r}; expected true/false/1/0"
            )
        return value if kind == "if" else not value

    # -- visiting
    def visit(self, actions: list[_Action], file: Path) -> None:
        for a in actions:
            if not self.condition_holds(a, file):
                self.declared.update(_arg_names(a))
                continue
            method = getattr(self, "visit_" + type(a).__name__.lstrip("_").lower())
            method(a, file)

    def visit_arg(self, a: _Arg, file: Path) -> None:
        self.declared.add(a.name)
        if a.name not in self.configs:
            if a.default is None:
                desc = f" ({a.description})" if a.description else ""
                raise a.where.error(
                    f"required launch argument '{a.name}'{desc} was not provided "
                    f"(pass {a.name}:=<value>)"
                )
            self.configs[a.name] = self.perform(a.default, file, a.where, "default")
        value = self.configs[a.name]
        if a.choices is not None and value not in a.choices:
            raise a.where.error(
                f"argument '{a.name}' got {value!r}, which is not one of {a.choices}"
            )
        self.arguments.append(ArgSpec(a.name, a.default_raw, a.description, value, str(file)))

    def visit_let(self, a: _Let, file: Path) -> None:
        name = self.perform(a.name, file, a.where, "name")
        self.configs[name] = self.perform(a.value, file, a.where, "value")

    def visit_pushnamespace(self, a: _PushNamespace, file: Path) -> None:
        pushed = self.perform(a.namespace, file, a.where, "namespace")
        previous = self.configs.get("ros_namespace")
        ns = _make_absolute(_prefix_namespace(previous, pushed))
        problem = _namespace_problem(ns)
        if problem:
            raise a.where.error(
                f"the resulting namespace {ns!r} is invalid ({problem}) "
                f"[previous_namespace={previous!r}, pushed_namespace={pushed!r}]"
            )
        self.configs["ros_namespace"] = ns

    def visit_group(self, a: _Group, file: Path) -> None:
        keep = {
            self.perform(k, file, a.where, "keep name"):
                self.perform(v, file, a.where, "keep value")
            for k, v in a.keep
        }
        if not a.scoped:
            self.configs.update(keep)
            self.visit(a.children, file)
            return
        saved = dict(self.configs)
        if not a.forwarding:
            self.configs.clear()
        self.configs.update(keep)
        try:
            self.visit(a.children, file)
        finally:
            self.configs.clear()
            self.configs.update(saved)

    def visit_include(self, a: _Include, file: Path) -> None:
        raw = self.perform(a.file, file, a.where, "file")
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            hint = ""
            if not Path(raw).is_absolute():
                hint = (" (a relative path is resolved from the current directory, as "
                        "ros2 launch does; use $(dirname)/... or $(find-pkg-share pkg)/...)")
            raise a.where.error(f"included launch file '{raw}' not found{hint}")
        resolved = path.resolve()
        if resolved in self.include_stack:
            raise a.where.error(f"include loop: '{raw}' is already being included")
        included_from = f" (included from {a.where.file}:{a.where.line or '?'})"
        actions = _parse_file(path, str(path), included_from + a.where.included_from)
        names = [self.perform(n, file, a.where, "arg name") for n, _ in a.args]
        for required in _required_args(actions):
            if required.name not in names:
                desc = f" ({required.description})" if required.description else ""
                raise a.where.error(
                    f"included launch file is missing required argument '{required.name}'"
                    f"{desc}, given: [{', '.join(names)}]"
                )
        # As in launch, the values are set by actions visited after the include switched
        # the current file, so $(dirname) in a value is the *included* file's directory.
        for (_, value_t), name in zip(a.args, names, strict=True):
            self.configs[name] = self.perform(value_t, path, a.where, f"arg '{name}'")
        self.include_stack.append(resolved)
        try:
            self.visit(actions, path)
        finally:
            self.include_stack.pop()

    def visit_node(self, a: _Node, file: Path) -> None:
        def p(t: Template, what: str) -> str:
            return self.perform(t, file, a.where, what)

        package = p(a.pkg, "pkg") if a.pkg is not None else None
        executable = p(a.exec, "exec")
        if package is not None:
            try:
                exe_path = subst.executable_in_package(executable, package)
            except SubstitutionError as err:
                raise a.where.error(str(err)) from None
        else:
            found = shutil.which(executable)
            if found is None:
                raise a.where.error(f"executable '{executable}' not found (no 'pkg' given)")
            exe_path = found
        cmd = [exe_path]
        cmd += [p(t, "args") for t in a.args]
        if a.ros_args is not None:
            cmd += ["--ros-args", *(p(t, "ros_args") for t in a.ros_args)]
        cmd.append("--ros-args")
        name = None
        if a.name is not None:
            name = p(a.name, "name")
            problem = _node_name_problem(name)
            if problem:
                raise a.where.error(f"invalid node name {name!r}: {problem}")
            cmd += ["-r", f"__node:={name}"]
        ns_given = p(a.namespace, "namespace") if a.namespace is not None else None
        namespace = _make_absolute(_prefix_namespace(self.configs.get("ros_namespace"), ns_given))
        if namespace is not None:
            problem = _namespace_problem(namespace)
            if problem:
                raise a.where.error(f"invalid namespace {namespace!r}: {problem}")
            cmd += ["-r", f"__ns:={namespace}"]
        full_name = _prefix_namespace(
            namespace if namespace is not None else _UNSPECIFIED_NS,
            name if name is not None else _UNSPECIFIED_NAME,
        )
        fully_specified = name is not None and namespace is not None
        cmd += self.param_arguments(a, file, full_name if fully_specified else "/**")
        for src, dst in a.remaps:
            cmd += ["-r", f"{p(src, 'remap from')}:={p(dst, 'remap to')}"]

        prefix_text = p(a.prefix, "launch-prefix") if a.prefix is not None else (
            self.configs.get("launch-prefix", "")
        )
        try:
            prefix = shlex.split(prefix_text)
        except ValueError as err:
            raise a.where.error(f"launch-prefix: {err}") from None

        output = p(a.output, "output") if a.output is not None else "log"
        output = os.environ.get("OVERRIDE_LAUNCH_PROCESS_OUTPUT") or output
        if output not in ("screen", "log", "both"):
            raise a.where.error(f"output must be 'screen', 'log' or 'both', got {output!r}")
        respawn = False
        if a.respawn is not None:
            try:
                respawn = subst.to_bool(p(a.respawn, "respawn"), "respawn")
            except SubstitutionError as err:
                raise a.where.error(str(err)) from None
        label = p(a.exec_name, "exec_name") if a.exec_name is not None else (
            name or os.path.basename(executable)
        )
        self.nodes.append(NodeSpec(
            name=name,
            namespace=namespace,
            package=package,
            executable=executable,
            exe_path=exe_path,
            cmd=prefix + cmd,
            required=a.required,
            respawn=respawn,
            output=output,
            label=_unique_label(label, {n.label for n in self.nodes}),
            respawn_delay=a.respawn_delay or 0.0,
            respawn_max_retries=-1 if a.respawn_max_retries is None else a.respawn_max_retries,
            env={p(k, "env name"): p(v, "env value") for k, v in a.env},
            cwd=p(a.cwd, "cwd") if a.cwd is not None else None,
            prefix=prefix,
            sigterm_timeout=a.sigterm_timeout,
            sigkill_timeout=a.sigkill_timeout,
            source=str(a.where),
        ))

    # -- parameters
    def param_arguments(self, a: _Node, file: Path, key: str) -> list[str]:
        """``--params-file`` arguments in order; inline params go to a generated YAML file
        (consecutive inline params share one file, which has the same effect)."""
        out: list[str] = []
        pending: dict[str, Any] = {}

        def flush() -> None:
            if pending:
                out.extend(["--params-file", self.write_params({key: {"ros__parameters":
                                                                       dict(pending)}})])
                pending.clear()

        for param in a.params:
            if param.from_file is None:
                pending.update(self.evaluate_params(param.values, file))
                continue
            flush()
            raw = self.perform(param.from_file, file, param.where, "from")
            path = os.path.abspath(os.path.expanduser(raw))
            if not os.path.isfile(path):
                raise param.where.error(f"parameter file '{raw}' not found")
            if param.allow_substs:
                path = self.render_param_file(path, file, param.where)
            out.extend(["--params-file", path])
        flush()
        return out

    def evaluate_params(self, values: dict[str, Any], file: Path,
                        prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(value, dict):
                out.update(self.evaluate_params(value, file, full))
            else:
                out[full] = self.evaluate_param_value(value, file, full)
        return out

    def evaluate_param_value(self, pv: _ParamValue, file: Path, name: str) -> Any:
        scalar_type, _ = _TYPE_IDS[pv.type_id] if pv.type_id else (None, None)

        def one(x: Any) -> Any:
            if not isinstance(x, tuple):
                return x
            text = self.perform(x, file, pv.where, f"param '{name}'")
            if subst.is_plain(x) and scalar_type in (None, str):
                return text
            return _coerce(text, scalar_type, pv, name)

        if isinstance(pv.value, list):
            items = [one(x) for x in pv.value]
            if len({type(i) for i in items}) > 1:
                raise pv.where.error(
                    f"param '{name}': list {items!r} mixes types (ROS parameters are uniform)"
                )
            return items
        if isinstance(pv.value, tuple) and pv.type_id and _TYPE_IDS[pv.type_id][1]:
            text = self.perform(pv.value, file, pv.where, f"param '{name}'")
            result = _coerce(text, None, pv, name)
            if not isinstance(result, list) or not all(_is_type(i, scalar_type) for i in result):
                raise pv.where.error(f"param '{name}': {text!r} is not a '{pv.type_id}'")
            return result
        return one(pv.value)

    def write_params(self, data: dict) -> str:
        self.n_param_files += 1
        path = self.temp_dir / f"launch_params_{self.n_param_files}.yaml"
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(data, fh, default_flow_style=False, sort_keys=False)
        return str(path)

    def render_param_file(self, path: str, file: Path, where: _Where) -> str:
        text = Path(path).read_text(encoding="utf-8")
        try:
            rendered = subst.perform(subst.parse(text), self.ctx(file))
        except SubstitutionError as err:
            raise where.error(f"parameter file '{path}' (allow_substs): {err}") from None
        self.n_param_files += 1
        out = self.temp_dir / f"launch_params_{self.n_param_files}_{Path(path).name}"
        out.write_text(rendered, encoding="utf-8")
        return str(out)


def _coerce(text: str, scalar_type: type | None, pv: _ParamValue, name: str) -> Any:
    """``launch``'s ``coerce_to_type``: YAML rules, or the declared ``type``."""
    if scalar_type is str:
        return text
    if scalar_type in (int, float):
        try:
            return scalar_type(text)
        except ValueError:
            raise pv.where.error(f"param '{name}': {text!r} is not a '{pv.type_id}'") from None
    if scalar_type is bool:
        try:
            return subst.to_bool(text, f"param '{name}'")
        except SubstitutionError as err:
            raise pv.where.error(str(err)) from None
    if not text:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise pv.where.error(
            f"param '{name}': cannot read {text!r} as YAML (use type: str for a string)"
        ) from None
    if isinstance(value, list):
        if value and (len({type(v) for v in value}) > 1 or
                      not isinstance(value[0], (str, int, float, bool))):
            raise pv.where.error(f"param '{name}': {value!r} is not a uniform list")
        return value
    if not isinstance(value, (str, int, float, bool)):
        raise pv.where.error(
            f"param '{name}': {text!r} reads as {_tname(value)}, which is not a parameter "
            "type (use type: str for a string)"
        )
    return value


def _unique_label(label: str, taken: set[str]) -> str:
    if label not in taken:
        return label
    n = 2
    while f"{label}-{n}" in taken:
        n += 1
    return f"{label}-{n}"


def _arg_names(a: _Action) -> set[str]:
    """Argument names declared below a skipped action (they still count as declared)."""
    if isinstance(a, _Arg):
        return {a.name}
    if isinstance(a, _Group):
        return set().union(*(_arg_names(c) for c in a.children)) if a.children else set()
    return set()


def _required_args(actions: list[_Action]) -> list[_Arg]:
    """Unconditional arguments without a default, like ``get_launch_arguments()``."""
    out = []
    for a in actions:
        if a.condition is not None:
            continue
        if isinstance(a, _Arg) and a.default is None:
            out.append(a)
        elif isinstance(a, _Group):
            out.extend(_required_args(a.children))
    return out


# ============================================================================ names


def _prefix_namespace(base: str | None, ns: str | None) -> str | None:
    """``launch_ros.utilities.prefix_namespace``."""
    if base is None and ns is None:
        return None
    if ns is None:
        combined = base
    elif not base or ns.startswith("/"):
        combined = ns
    else:
        combined = ("" if base == "/" else base) + "/" + ns
    assert combined is not None
    if combined != "/":
        combined = combined.rstrip("/")
    return combined


def _make_absolute(ns: str | None) -> str | None:
    if ns is None:
        return None
    return ns if ns.startswith("/") else "/" + ns


def _node_name_problem(name: str) -> str:
    import re

    if not name:
        return "it is empty"
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        return "only letters, digits and '_' are allowed"
    if name[0].isdigit():
        return "it must not start with a digit"
    if len(name) > 255:
        return "it is too long"
    return ""


def _namespace_problem(ns: str) -> str:
    import re

    if not ns:
        return "it is empty"
    if not ns.startswith("/"):
        return "it must be absolute"
    if ns == "/":
        return ""
    if ns.endswith("/"):
        return "it must not end with '/'"
    if "//" in ns:
        return "it must not contain '//'"
    if not re.fullmatch(r"[A-Za-z0-9_/]+", ns):
        return "only letters, digits, '_' and '/' are allowed"
    if any(token[:1].isdigit() for token in ns.split("/")):
        return "a token must not start with a digit"
    return ""


# ============================================================================ API


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``['a:=1', 'b:=x']`` → ``{'a': '1', 'b': 'x'}`` (the ``ros2 launch`` syntax)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise LaunchError(f"launch arguments are written name:=value, got {item!r}")
        out[name] = value
    return out


def load_launch_file(path: str | os.PathLike[str],
                     overrides: Mapping[str, str] | None = None) -> LaunchDescription:
    """Parse, check and resolve a YAML launch file; raise :class:`LaunchError`.

    ``overrides`` are the ``name:=value`` launch arguments of the command line. Inline
    parameters are written to YAML files in a temporary directory, deleted by
    :meth:`LaunchDescription.cleanup` (``run`` calls it) or at interpreter exit.
    """
    display = os.fspath(path)
    file = Path(display).expanduser()
    if not file.is_absolute():
        file = Path.cwd() / file
    overrides = dict(overrides or {})
    actions = _parse_file(file, display)
    temp_dir = _make_temp_dir()
    visitor = _Visitor(overrides, temp_dir)
    try:
        visitor.visit(actions, file)
        unknown = sorted(set(overrides) - visitor.declared)
        if unknown:
            declared = ", ".join(sorted(visitor.declared)) or "none"
            raise LaunchError(
                f"{display}: unknown launch argument(s) {', '.join(unknown)} "
                f"(declared arguments: {declared})"
            )
    except BaseException:
        _remove_temp_dir(temp_dir)
        raise
    return LaunchDescription(file, visitor.nodes, visitor.arguments, dict(visitor.configs),
                             temp_dir)


def declared_arguments(path: str | os.PathLike[str]) -> list[ArgSpec]:
    """The arguments a file declares (itself and its groups), without running it."""
    display = os.fspath(path)
    file = Path(display).expanduser().absolute()
    out: list[ArgSpec] = []

    def walk(actions: list[_Action]) -> None:
        for a in actions:
            if isinstance(a, _Arg):
                out.append(ArgSpec(a.name, a.default_raw, a.description, None, display))
            elif isinstance(a, _Group):
                walk(a.children)

    walk(_parse_file(file, display))
    return out
