"""Parameter dataclasses: one frozen dataclass per node or algorithm.

Each field carries its meaning, range and mutability in its metadata
(:func:`param`); the ROS layer turns them into parameter descriptors and
``docs/nodes.md`` is generated from them, so documentation cannot drift.
Cross-field rules go in a ``validate(self)`` method raising ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, TypeVar, get_type_hints

P = TypeVar("P")

SCALAR_TYPES = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    read_only: bool = False  # fixed after start-up (e.g. it sizes buffers or opens a device)


def param(
    default: Any,
    description: str,
    *,
    min: float | None = None,  # noqa: A002 - reads naturally at call sites
    max: float | None = None,  # noqa: A002
    choices: Sequence[Any] | None = None,
    read_only: bool = False,
) -> Any:
    """A dataclass field with its parameter spec (lists need a tuple default)."""
    spec = ParamSpec(description, min, max, tuple(choices) if choices else None, read_only)
    return dataclasses.field(default=default, metadata={"param": spec})


def spec_of(field: dataclasses.Field) -> ParamSpec:
    spec = field.metadata.get("param")
    if spec is None:
        raise TypeError(f"field '{field.name}' has no param() spec")
    return spec


def field_types(params_type: type) -> dict[str, type]:
    hints = get_type_hints(params_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(params_type)}


def check_value(name: str, value: Any, typ: Any, spec: ParamSpec) -> Any:
    """Coerce ``value`` to the field type, check range and choices; ValueError says why not."""
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if typ in SCALAR_TYPES:
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            got = f"{type(value).__name__} {value!r}"
            raise ValueError(f"{name}: expected {typ.__name__}, got {got}")
        if typ is float and not math.isfinite(value):
            raise ValueError(f"{name}: must be finite, got {value}")
    else:  # tuple[...] of scalars
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name}: expected a list, got {value!r}")
        value = tuple(value)
    if spec.min is not None and typ in (int, float) and value < spec.min:
        raise ValueError(f"{name}: {value} is below the minimum {spec.min}")
    if spec.max is not None and typ in (int, float) and value > spec.max:
        raise ValueError(f"{name}: {value} is above the maximum {spec.max}")
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"{name}: {value!r} is not one of {list(spec.choices)}")
    return value


def validated(params: P) -> P:
    """Check every field of ``params`` and its cross-field rules; return it, with values
    coerced to the field types (an int given for a float field comes back a float, so a
    library behind the algorithm never sees the wrong type)."""
    types = field_types(type(params))
    coerced = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        checked = check_value(f.name, value, types[f.name], spec_of(f))
        if type(checked) is not type(value):
            coerced[f.name] = checked
    if coerced:
        params = dataclasses.replace(params, **coerced)
    check = getattr(params, "validate", None)
    if check is not None:
        check()
    return params


def replace_validated(params: P, changes: dict[str, Any]) -> P:
    """A copy of ``params`` with ``changes`` applied (coerced and validated)."""
    types = field_types(type(params))
    fields = {f.name: f for f in dataclasses.fields(params)}
    coerced = {}
    for name, value in changes.items():
        if name not in fields:
            raise ValueError(f"unknown parameter '{name}'")
        coerced[name] = check_value(name, value, types[name], spec_of(fields[name]))
    return validated(dataclasses.replace(params, **coerced))
