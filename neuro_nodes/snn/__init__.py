"""Spiking neuron models, layers and NIR import/export (norse-style).

Neurons are pure step functions ``step(x, state, p, dt) -> (out, state)`` with frozen
parameter dataclasses and NamedTuple states, wrapped by thin cells
(``forward(x, state) -> (out, state)``); all are forward-Euler discretisations with an
explicit time step ``dt`` (seconds) of NIR's continuous-time neurons.  Containers
(:class:`SpikingSequential`, :class:`GraphModule`) run ``[T, B, ...]`` inputs and keep
state between calls.  :func:`export_nir` / :func:`import_nir` bridge to NIR; they load the
``nir`` package on first use, so the neurons and layers work without it.
"""

from typing import Any

from .base import NeuronCell, StatefulModule, Tensorish
from .cuba_li import CubaLICell, CubaLIParameters, CubaLIState, cuba_li_step
from .cuba_lif import CubaLIFCell, CubaLIFParameters, CubaLIFState, cuba_lif_step
from .delay import Delay
from .graph import GraphError, GraphModule
from .if_neuron import IFCell, IFParameters, IFState, if_step
from .integrator import ICell, IParameters, IState, i_step
from .li import LICell, LIParameters, LIState, li_step
from .lif import LIFCell, LIFParameters, LIFState, lif_step
from .multispike import MultiSpike, MultiSpikeFunction, multispike
from .nir_errors import NIRExportError, NIRImportError
from .pooling import SumPool2d
from .recurrent import Recurrent
from .scale import Scale
from .sequential import SpikingSequential
from .surrogate import (
    DEFAULT_ALPHA,
    SURROGATES,
    ATanSpike,
    FastSigmoidSpike,
    RectangularSpike,
    get_surrogate,
    spike,
)
from .threshold import Threshold

__all__ = [
    "DEFAULT_ALPHA",
    "SURROGATES",
    "ATanSpike",
    "CubaLICell",
    "CubaLIFCell",
    "CubaLIFParameters",
    "CubaLIFState",
    "CubaLIParameters",
    "CubaLIState",
    "Delay",
    "FastSigmoidSpike",
    "GraphError",
    "GraphModule",
    "ICell",
    "IFCell",
    "IFParameters",
    "IFState",
    "IParameters",
    "IState",
    "LICell",
    "LIFCell",
    "LIFParameters",
    "LIFState",
    "LIParameters",
    "LIState",
    "MultiSpike",
    "MultiSpikeFunction",
    "NIRExportError",
    "NIRImportError",
    "NeuronCell",
    "Recurrent",
    "RectangularSpike",
    "Scale",
    "SpikingSequential",
    "StatefulModule",
    "SumPool2d",
    "Tensorish",
    "Threshold",
    "cuba_li_step",
    "cuba_lif_step",
    "export_nir",
    "get_surrogate",
    "i_step",
    "if_step",
    "import_nir",
    "li_step",
    "lif_step",
    "multispike",
    "read_nir",
    "spike",
]


_LAZY = {"export_nir": ".nir_export", "import_nir": ".nir_import", "read_nir": ".nir_import"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
