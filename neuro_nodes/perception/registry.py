"""Motion estimators by name: what ``neuro eval`` and the perception nodes can run.

Each entry makes a fresh :class:`~neuro_nodes.perception.types.MotionEstimator` for a
camera; importing the estimator modules is deferred to the call so that listing the names
costs nothing (torch loads only when a method runs).
"""

from __future__ import annotations

from collections.abc import Callable

from neuro_nodes.perception.types import MotionEstimator, PinholeCamera


def _cmax(camera: PinholeCamera) -> MotionEstimator:
    from neuro_nodes.perception.cmax import CMaxEstimator

    return CMaxEstimator(camera)


def _emoflow(camera: PinholeCamera) -> MotionEstimator:
    from neuro_nodes.perception.emoflow import EMoFlowEstimator

    return EMoFlowEstimator(camera)


def _snn(camera: PinholeCamera) -> MotionEstimator:
    from neuro_nodes.perception.dense_flow import DenseFlowSNNEstimator

    return DenseFlowSNNEstimator(camera)


METHODS: dict[str, Callable[[PinholeCamera], MotionEstimator]] = {
    "cmax": _cmax,
    "snn": _snn,
    "emoflow": _emoflow,
}


def make_estimator(name: str, camera: PinholeCamera) -> MotionEstimator:
    """A new estimator of method ``name``; ValueError naming the known ones otherwise."""
    try:
        factory = METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; registered: {', '.join(METHODS)}") from None
    return factory(camera)


__all__ = ["METHODS", "make_estimator"]
