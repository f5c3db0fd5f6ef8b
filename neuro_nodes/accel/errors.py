"""Errors of the accelerator runtime; messages name the graph node and its primitive."""

from __future__ import annotations

import numpy as np


class AccelError(ValueError):
    """A NIR graph or file the runtime cannot run (malformed, unknown primitive, shapes that
    do not fit) or an input that does not fit the graph.  ``node`` and ``primitive`` hold the
    offending graph node and its NIR primitive where they are known."""

    def __init__(self, message: str, node: str | None = None, primitive: str | None = None):
        super().__init__(message)
        self.node = node
        self.primitive = primitive


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (a package is missing); the message says what
    to install."""


class NonFiniteInput(ValueError):
    """An input tensor holds NaN or Inf: a network would turn it into silent garbage."""


def check_finite(x: np.ndarray) -> np.ndarray:
    """``x`` if every value is finite; NonFiniteInput saying how many are NaN/Inf and where."""
    bad = ~np.isfinite(x)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), x.shape)
        raise NonFiniteInput(f"input: {int(bad.sum())} of {x.size} values are NaN or Inf "
                         f"(first at index {list(map(int, first))}, {x[first]})")
    return x
