"""Declare a parameters dataclass as ROS 2 parameters, with descriptors and validation."""

from __future__ import annotations

import dataclasses
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from neuro_nodes.core.params import field_types, replace_validated, spec_of

_PARAM_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}
_ARRAY_TYPES = {
    bool: ParameterType.PARAMETER_BOOL_ARRAY,
    int: ParameterType.PARAMETER_INTEGER_ARRAY,
    float: ParameterType.PARAMETER_DOUBLE_ARRAY,
    str: ParameterType.PARAMETER_STRING_ARRAY,
}


def ros_type(typ: Any) -> int:
    if typ in _PARAM_TYPES:
        return _PARAM_TYPES[typ]
    args = getattr(typ, "__args__", ())
    if args and args[0] in _ARRAY_TYPES:
        return _ARRAY_TYPES[args[0]]
    raise TypeError(f"unsupported parameter type {typ!r}")


def descriptor(name: str, typ: Any, field: dataclasses.Field) -> ParameterDescriptor:
    spec = spec_of(field)
    desc = ParameterDescriptor(
        name=name, type=ros_type(typ), description=spec.description, read_only=spec.read_only
    )
    constraints = []
    if spec.choices is not None:
        constraints.append(f"one of {list(spec.choices)}")
    if typ is float and (spec.min is not None or spec.max is not None):
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(spec.min if spec.min is not None else -1e308),
            to_value=float(spec.max if spec.max is not None else 1e308), step=0.0)]
    elif typ is int and (spec.min is not None or spec.max is not None):
        desc.integer_range = [IntegerRange(
            from_value=int(spec.min if spec.min is not None else -(2**63)),
            to_value=int(spec.max if spec.max is not None else 2**63 - 1), step=1)]
    desc.additional_constraints = "; ".join(constraints)
    return desc


def _from_ros(value: Any, typ: Any) -> Any:
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        return tuple(value.tolist() if hasattr(value, "tolist") else value)
    return value


def declare_parameters(node: Node, params_type: type) -> Any:
    """Declare every field; return the validated dataclass built from the values in force.

    Values come from ``--params-file``/``-p``/launch overrides as usual; a bad one
    raises ``ValueError`` naming the parameter, so the node refuses to start with a reason.
    """
    defaults = params_type()
    types = field_types(params_type)
    values = {}
    for field in dataclasses.fields(params_type):
        typ = types[field.name]
        default = getattr(defaults, field.name)
        default_value = list(default) if isinstance(default, tuple) else default
        declared = node.declare_parameter(
            field.name, default_value, descriptor(field.name, typ, field)
        )
        values[field.name] = _from_ros(declared.value, typ)
    return replace_validated(defaults, values)


def check_update(current: Any, parameters: list[Parameter]) -> tuple[Any, SetParametersResult]:
    """Validate a remote parameter change against ``current``; return (new params, result)."""
    names = {f.name for f in dataclasses.fields(current)}
    types = field_types(type(current))
    changes = {
        p.name: _from_ros(p.value, types[p.name]) for p in parameters if p.name in names
    }
    if not changes:
        return current, SetParametersResult(successful=True)
    try:
        updated = replace_validated(current, changes)
    except ValueError as err:
        return current, SetParametersResult(successful=False, reason=str(err))
    return updated, SetParametersResult(successful=True)
