"""``$(...)`` substitutions of the ROS 2 launch front ends (YAML/XML), parsed and performed.

The grammar is the one of ``launch/frontend/grammar.lark``:

* outside a substitution, text is literal; ``\\x`` stands for ``x`` (so ``\\$(`` is a
  literal ``$(``), quotes are plain characters;
* ``$(name arg1 arg2 ...)``: arguments are separated by exactly one space; an argument
  is either a run of characters other than space, quotes, ``$``, ``(`` and ``)`` (all
  of them usable with a backslash) and nested substitutions, or a ``'...'`` /
  ``"..."`` quoted string, which may hold spaces and substitutions.

Supported substitutions (same arguments and errors as in ``launch``/``launch_ros``):
``var name [default]``, ``env NAME [default]``, ``find-pkg-share pkg``,
``find-pkg-prefix pkg``, ``exec-in-pkg exec pkg``, ``dirname``, ``filename``,
``anon name``, ``eval expression [modules]``, ``not v``, ``and a b``, ``or a b``,
``any v...``, ``all v...``.
"""

from __future__ import annotations

import importlib
import os
import random
import shutil
import socket
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from neuro_nodes.launch.errors import LaunchError


class SubstitutionError(LaunchError):
    """A substitution could not be parsed or performed (the caller adds the location)."""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Subst:
    name: str
    args: tuple[Template, ...]


Part = Text | Subst
Template = tuple[Part, ...]


def is_plain(template: Template) -> bool:
    """True when ``template`` has no substitution (it is literal text)."""
    return all(isinstance(part, Text) for part in template)


def plain_text(template: Template) -> str:
    return "".join(part.text for part in template if isinstance(part, Text))


# --------------------------------------------------------------------------- parsing

_SPECIAL_RSTRING = set(" '\"$()")


class _Parser:
    def __init__(self, source: str) -> None:
        self.s = source
        self.i = 0

    def error(self, message: str) -> SubstitutionError:
        return SubstitutionError(f"{message} at column {self.i + 1} of {self.s!r}")

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def at_subst(self) -> bool:
        return self.peek() == "$" and self.peek(1) == "("

    # template: fragment+ (top level: every character but `$(` is text)
    def template(self) -> Template:
        parts: list[Part] = []
        buf: list[str] = []
        while self.i < len(self.s):
            if self.at_subst():
                _flush(buf, parts)
                parts.append(self.substitution(quote=None))
            elif self.peek() == "\\" and self.i + 1 < len(self.s):
                buf.append(self.s[self.i + 1])
                self.i += 2
            else:
                buf.append(self.s[self.i])
                self.i += 1
        _flush(buf, parts)
        return tuple(parts)

    def substitution(self, quote: str | None) -> Subst:
        self.i += 2  # "$("
        j = self.i
        if not (self.peek().isascii() and self.peek().isalpha()):
            raise self.error("expected a substitution name after '$('")
        while j < len(self.s) and _is_ident_char(self.s[j]):
            j += 1
        name = self.s[self.i:j]
        self.i = j
        args: list[Template] = []
        if self.peek() == " ":
            while True:
                self.i += 1  # the separating space
                args.append(self.value(quote))
                if self.peek() == " ":
                    continue
                break
        if self.peek() != ")":
            if self.i >= len(self.s):
                raise self.error(f"unterminated substitution '$({name}'")
            raise self.error(f"unexpected {self.peek()!r} in substitution '$({name} ...)'")
        self.i += 1
        sub = Subst(name, tuple(args))
        check_arity(sub)
        return sub

    def value(self, quote: str | None) -> Template:
        """One argument of a substitution."""
        c = self.peek()
        if quote is None and c in ("'", '"'):
            return self.quoted(c)
        parts: list[Part] = []
        buf: list[str] = []
        while self.i < len(self.s):
            c = self.peek()
            if self.at_subst():
                _flush(buf, parts)
                parts.append(self.substitution(quote))
            elif c == "\\" and self.i + 1 < len(self.s):
                buf.append(self.s[self.i + 1])
                self.i += 2
            elif c == "$":
                buf.append(c)
                self.i += 1
            elif c in _SPECIAL_RSTRING and not (quote is not None and c in "'\"" and c != quote):
                break
            else:
                buf.append(c)
                self.i += 1
        _flush(buf, parts)
        if not parts:
            raise self.error("empty substitution argument (arguments are separated by one space)")
        return tuple(parts)

    def quoted(self, quote: str) -> Template:
        self.i += 1  # opening quote
        parts: list[Part] = []
        buf: list[str] = []
        while True:
            if self.i >= len(self.s):
                raise self.error(f"unterminated {quote}-quoted argument")
            c = self.peek()
            if c == quote:
                self.i += 1
                break
            if self.at_subst():
                _flush(buf, parts)
                parts.append(self.substitution(quote))
            elif c == "\\" and self.i + 1 < len(self.s):
                buf.append(self.s[self.i + 1])
                self.i += 2
            else:
                buf.append(c)
                self.i += 1
        _flush(buf, parts)
        return tuple(parts) if parts else (Text(""),)


def _is_ident_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "_-")


def _flush(buf: list[str], parts: list[Part]) -> None:
    if buf:
        parts.append(Text("".join(buf)))
        buf.clear()


def parse(source: str) -> Template:
    """Parse a string with embedded substitutions; raise :class:`SubstitutionError`."""
    if not isinstance(source, str):
        raise TypeError(f"expected a string, got {type(source).__name__}")
    if not source:
        return (Text(""),)
    return _Parser(source).template()


# --------------------------------------------------------------------------- evaluation


@dataclass
class Context:
    """What a substitution can see: launch configurations, the current file, the environment."""

    configurations: MutableMapping[str, str]
    launch_file: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


def perform(template: Template, ctx: Context) -> str:
    out: list[str] = []
    for part in template:
        if isinstance(part, Text):
            out.append(part.text)
        else:
            out.append(_perform_one(part, ctx))
    return "".join(out)


def _perform_one(sub: Subst, ctx: Context) -> str:
    spec = SUBSTITUTIONS[sub.name]
    return spec.fn(ctx, sub.args)


def _var(ctx: Context, args: tuple[Template, ...]) -> str:
    name = perform(args[0], ctx)
    if name in ctx.configurations:
        return ctx.configurations[name]
    if len(args) == 2:
        return perform(args[1], ctx)
    raise SubstitutionError(f"launch configuration '{name}' does not exist")


def _env(ctx: Context, args: tuple[Template, ...]) -> str:
    name = perform(args[0], ctx)
    if name in ctx.environ:
        return ctx.environ[name]
    if len(args) == 2:
        return perform(args[1], ctx)
    raise SubstitutionError(f"environment variable '{name}' does not exist")


def package_prefix(package: str) -> str:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        return get_package_prefix(package)
    except PackageNotFoundError:
        path = os.environ.get("AMENT_PREFIX_PATH", "")
        raise SubstitutionError(
            f"package '{package}' not found in the ament index "
            f"(AMENT_PREFIX_PATH={path or '<unset>'}; build and source the workspace)"
        ) from None
    except ValueError as err:  # invalid package name
        raise SubstitutionError(str(err)) from None


def _find_pkg_prefix(ctx: Context, args: tuple[Template, ...]) -> str:
    return package_prefix(perform(args[0], ctx))


def _find_pkg_share(ctx: Context, args: tuple[Template, ...]) -> str:
    package = perform(args[0], ctx)
    return os.path.join(package_prefix(package), "share", package)


def executable_in_package(executable: str, package: str) -> str:
    """``<prefix>/lib/<package>/<executable>``, which must exist and be executable."""
    prefix = package_prefix(package)
    libexec = os.path.join(prefix, "lib", package)
    if not os.path.isdir(libexec):
        raise SubstitutionError(
            f"package '{package}' found at '{prefix}', but libexec directory '{libexec}' "
            "does not exist"
        )
    found = shutil.which(executable, path=libexec)
    if found is None:
        candidates = sorted(
            name for name in os.listdir(libexec)
            if os.access(os.path.join(libexec, name), os.X_OK)
            and os.path.isfile(os.path.join(libexec, name))
        )
        where = os.path.join(libexec, executable)
        why = "is not executable" if os.path.exists(where) else "does not exist"
        raise SubstitutionError(
            f"executable '{executable}' not found in package '{package}': '{where}' {why} "
            f"(executables there: {', '.join(candidates) or 'none'})"
        )
    return found


def _exec_in_pkg(ctx: Context, args: tuple[Template, ...]) -> str:
    return executable_in_package(perform(args[0], ctx), perform(args[1], ctx))


def _dirname(ctx: Context, args: tuple[Template, ...]) -> str:
    if ctx.launch_file is None:
        raise SubstitutionError("$(dirname) used outside of a launch file")
    return str(ctx.launch_file.parent)


def _filename(ctx: Context, args: tuple[Template, ...]) -> str:
    if ctx.launch_file is None:
        raise SubstitutionError("$(filename) used outside of a launch file")
    return str(ctx.launch_file)


def _anon(ctx: Context, args: tuple[Template, ...]) -> str:
    name = perform(args[0], ctx)
    key = "anon" + name
    if key not in ctx.configurations:
        anon = f"{name}_{socket.gethostname()}_{os.getpid()}_{random.randint(0, sys.maxsize)}"
        ctx.configurations[key] = anon.replace(".", "_").replace("-", "_").replace(":", "_")
    return ctx.configurations[key]


def _eval(ctx: Context, args: tuple[Template, ...]) -> str:
    modules = ["math"]
    if len(args) == 2:
        modules = [m.strip() for m in perform(args[1], ctx).split(",") if m.strip()]
    namespace: dict[str, object] = {}
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise SubstitutionError(
                f"$(eval): cannot import module '{module_name}': {err}"
            ) from None
        if module.__name__ == "math":
            namespace.update(vars(module))
        namespace[module.__name__] = module
    expression = perform(args[0], ctx)
    try:
        return str(eval(expression, {}, namespace))  # noqa: S307 - same as launch's PythonExpression
    except Exception as err:  # any error of the user's expression
        raise SubstitutionError(
            f"$(eval) of {expression!r} failed: {type(err).__name__}: {err}"
        ) from None


def to_bool(text: str, what: str) -> bool:
    """``launch``'s bool coercion: ``1``/``0`` and YAML booleans (true, False, on, no...)."""
    value = {"1": "true", "0": "false"}.get(text, text)
    try:
        result = yaml.safe_load(value) if value else None
    except yaml.YAMLError:
        result = None
    if not isinstance(result, bool):
        raise SubstitutionError(f"{what}: cannot convert {text!r} to a boolean")
    return result


def _not(ctx: Context, args: tuple[Template, ...]) -> str:
    return str(not to_bool(perform(args[0], ctx), "$(not)")).lower()


def _and(ctx: Context, args: tuple[Template, ...]) -> str:
    left = to_bool(perform(args[0], ctx), "$(and)")
    right = to_bool(perform(args[1], ctx), "$(and)")
    return str(left and right).lower()


def _or(ctx: Context, args: tuple[Template, ...]) -> str:
    left = to_bool(perform(args[0], ctx), "$(or)")
    right = to_bool(perform(args[1], ctx), "$(or)")
    return str(left or right).lower()


def _any(ctx: Context, args: tuple[Template, ...]) -> str:
    return str(any([to_bool(perform(a, ctx), "$(any)") for a in args])).lower()


def _all(ctx: Context, args: tuple[Template, ...]) -> str:
    return str(all([to_bool(perform(a, ctx), "$(all)") for a in args])).lower()


@dataclass(frozen=True)
class _Spec:
    min_args: int
    max_args: int | None
    fn: Callable[[Context, tuple[Template, ...]], str]


SUBSTITUTIONS: dict[str, _Spec] = {
    "var": _Spec(1, 2, _var),
    "env": _Spec(1, 2, _env),
    "find-pkg-share": _Spec(1, 1, _find_pkg_share),
    "find-pkg-prefix": _Spec(1, 1, _find_pkg_prefix),
    "exec-in-pkg": _Spec(2, 2, _exec_in_pkg),
    "dirname": _Spec(0, 0, _dirname),
    "filename": _Spec(0, 0, _filename),
    "anon": _Spec(1, 1, _anon),
    "eval": _Spec(1, 2, _eval),
    "not": _Spec(1, 1, _not),
    "and": _Spec(2, 2, _and),
    "or": _Spec(2, 2, _or),
    "any": _Spec(0, None, _any),
    "all": _Spec(0, None, _all),
}

# Valid in ROS 2 launch files, but not implemented here: a clearer error than "unknown".
_UNSUPPORTED = {
    "command", "find-exec", "find-pkg", "equals", "not-equals", "if", "launch-log-dir",
    "log-dir", "file-content", "path-join", "string-join", "strip", "is-empty",
    "not-empty", "for-var", "for-index", "param", "find-launchfile", "xacro",
    "rewritten-yaml", "optenv", "arg",
}


def check_arity(sub: Subst) -> None:
    spec = SUBSTITUTIONS.get(sub.name)
    if spec is None:
        known = ", ".join(sorted(SUBSTITUTIONS))
        if sub.name in _UNSUPPORTED:
            raise SubstitutionError(
                f"substitution '$({sub.name})' is not supported by neuro_nodes.launch "
                f"(supported: {known})"
            )
        raise SubstitutionError(f"unknown substitution '$({sub.name})' (supported: {known})")
    n = len(sub.args)
    if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
        if spec.max_args is None:
            expected = f"at least {spec.min_args}"
        elif spec.min_args == spec.max_args:
            expected = str(spec.min_args)
        else:
            expected = f"{spec.min_args} or {spec.max_args}"
        raise SubstitutionError(
            f"'$({sub.name})' expects {expected} argument(s), got {n}"
        )


def parse_cmdline(template: Template) -> list[Template]:
    """Split a command line like ``ExecuteProcess._parse_cmdline``: text is split with
    ``shlex``, a substitution joins the argument it touches (its value is never split)."""
    import shlex

    result: list[list[Part]] = []
    arg: list[Part] = []

    def append_arg() -> None:
        nonlocal arg
        result.append(arg)
        arg = []

    for part in template:
        if isinstance(part, Text):
            try:
                tokens = shlex.split(part.text)
            except ValueError as err:
                raise SubstitutionError(f"cannot split command line {part.text!r}: {err}") from None
            if not tokens:
                append_arg()
                continue
            if part.text[0].isspace() and arg:
                append_arg()
            arg.append(Text(tokens[0]))
            if len(tokens) > 1:
                append_arg()
                arg.append(Text(tokens[-1]))
            if len(tokens) > 2:
                result.extend([Text(t)] for t in tokens[1:-1])
            if part.text[-1].isspace():
                append_arg()
        else:
            arg.append(part)
    if arg:
        result.append(arg)
    return [tuple(a) for a in result if a]
