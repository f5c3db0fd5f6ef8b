"""Mappers by name: what ``neuro eval mapping`` and the ``mapper`` node can run.

Each entry makes a fresh :class:`~neuro_nodes.mapping.types.Mapper` for a box of the map;
the modules are imported on use (torch and open3d load only when a method runs). A saved map
is one ``.npz`` file whose ``method`` entry names the mapper that wrote it, so
:func:`load_map` needs no other hint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuro_nodes.mapping.types import MapBounds, Mapper


def _neural(bounds: MapBounds, **params: Any) -> Mapper:
    from neuro_nodes.mapping.neural_sdf import NeuralSDFMapper, NeuralSDFParams

    return NeuralSDFMapper(bounds, NeuralSDFParams(**params))


def _tsdf(bounds: MapBounds, **params: Any) -> Mapper:
    from neuro_nodes.mapping.tsdf import TSDFMapper, TSDFParams

    return TSDFMapper(bounds, TSDFParams(**params))


def _load_neural(path: Path) -> Mapper:
    from neuro_nodes.mapping.neural_sdf import NeuralSDFMapper

    return NeuralSDFMapper.load(path)


def _load_tsdf(path: Path) -> Mapper:
    from neuro_nodes.mapping.tsdf import TSDFMapper

    return TSDFMapper.load(path)


METHODS: dict[str, Callable[..., Mapper]] = {"neural": _neural, "tsdf": _tsdf}
_LOADERS: dict[str, Callable[[Path], Mapper]] = {"neural": _load_neural, "tsdf": _load_tsdf}


def make_mapper(name: str, bounds: MapBounds, **params: Any) -> Mapper:
    """A new mapper of method ``name`` (keyword overrides of its parameter dataclass)."""
    try:
        factory = METHODS[name]
    except KeyError:
        raise ValueError(f"unknown mapping method {name!r}; registered: "
                         f"{', '.join(METHODS)}") from None
    return factory(bounds, **params)


def saved_method(path: Path) -> str:
    """The method that wrote the map file ``path``; ValueError if it is not a saved map."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            method = str(f["method"])
    except FileNotFoundError:
        raise
    except Exception as exc:  # zip/npz/key errors: say what the file is not
        raise ValueError(f"{path}: not a neuro_nodes map file ({exc})") from None
    if method not in _LOADERS:
        raise ValueError(f"{path}: map written by unknown method {method!r}")
    return method


def load_map(path: Path) -> Mapper:
    """Read a map written by :meth:`Mapper.save` (whichever method wrote it)."""
    return _LOADERS[saved_method(path)](Path(path))


__all__ = ["METHODS", "load_map", "make_mapper", "saved_method"]
