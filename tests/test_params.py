"""Parameter dataclasses: coercion, ranges, choices, cross-field rules."""

from __future__ import annotations

import dataclasses

import pytest

from neuro_nodes.core.params import param, replace_validated, validated


@dataclasses.dataclass(frozen=True)
class Example:
    rate: float = param(1.0, "speed", min=0.0, max=10.0)
    count: int = param(3, "how many", min=1)
    mode: str = param("a", "mode", choices=("a", "b"))
    gains: tuple[float, ...] = param((1.0, 2.0), "gains")
    low: float = param(0.0, "lower bound")
    high: float = param(1.0, "upper bound")

    def validate(self) -> None:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")


def test_defaults_are_valid() -> None:
    assert validated(Example()) == Example()


def test_int_is_accepted_for_float_and_lists_become_tuples() -> None:
    p = replace_validated(Example(), {"rate": 2, "gains": [3.0]})
    assert p.rate == 2.0 and isinstance(p.rate, float) and p.gains == (3.0,)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"rate": -1.0}, "below the minimum"),
    ({"rate": 11.0}, "above the maximum"),
    ({"count": 0}, "below the minimum"),
    ({"count": 1.5}, "expected int"),
    ({"count": True}, "expected int"),
    ({"mode": "c"}, "not one of"),
    ({"rate": float("nan")}, "finite"),
    ({"low": 2.0}, "must be below high"),
    ({"nope": 1}, "unknown parameter"),
])
def test_bad_values_are_refused_with_their_reason(changes: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        replace_validated(Example(), changes)


def test_refused_change_leaves_the_original_untouched() -> None:
    original = Example()
    with pytest.raises(ValueError):
        replace_validated(original, {"rate": 3.0, "count": -5})
    assert original.rate == 1.0


def test_validated_coerces_an_int_for_a_float_field() -> None:
    from neuro_nodes.mapping.tsdf import TSDFParams

    p = validated(TSDFParams(max_range_m=7))
    assert type(p.max_range_m) is float and p.max_range_m == 7.0
