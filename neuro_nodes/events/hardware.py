"""Real cameras: iniVation through dv-processing, Prophesee through the Metavision SDK.

Each backend yields ``EventArray`` batches as the camera delivers them. A missing
SDK or camera is a :class:`CameraUnavailable` naming what is missing and how to get it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from neuro_nodes.events.event_array import EventArray


class CameraUnavailable(RuntimeError):
    """The SDK or the device is missing; the message says which and what to install."""


def _dv():
    try:
        import dv_processing as dv
    except ImportError as err:
        raise CameraUnavailable("iniVation cameras need dv-processing: "
                                "pip install dv-processing") from err
    if not dv.io.camera.discover():
        raise CameraUnavailable("no iniVation camera found on USB (dv_processing discover() "
                                "lists none); check the cable and udev permissions")
    return dv


def _metavision():
    try:
        from metavision_core.event_io import EventsIterator
    except ImportError as err:
        raise CameraUnavailable(
            "Prophesee cameras need the Metavision SDK / OpenEB Python bindings "
            "(metavision_core), which are not on PyPI: install OpenEB "
            "(https://docs.prophesee.ai) and make its Python path visible") from err
    return EventsIterator


def check_available(vendor: str) -> None:
    """Raise :class:`CameraUnavailable` now rather than when streaming starts."""
    {"inivation": _dv, "prophesee": _metavision}[vendor]()


def inivation_batches(serial: str = "") -> Iterator[EventArray]:
    """Event batches from an iniVation camera (DVXplorer, DAVIS) via dv-processing."""
    dv = _dv()
    try:
        camera = dv.io.camera.open(serial) if serial else dv.io.camera.open()
    except (RuntimeError, IndexError) as err:
        raise CameraUnavailable(f"cannot open iniVation camera '{serial}': {err}") from err
    width, height = camera.getEventResolution()
    while camera.isRunning():
        batch = camera.getNextEventBatch()
        if batch is None or batch.size() == 0:
            continue
        arr = batch.numpy()
        yield EventArray.unchecked(t=arr["timestamp"].astype(np.int64) * 1000,
                                   x=arr["x"].astype(np.uint16), y=arr["y"].astype(np.uint16),
                                   p=arr["polarity"].astype(np.uint8), width=width,
                                   height=height)


def prophesee_batches(serial: str = "") -> Iterator[EventArray]:
    """Event batches from a Prophesee camera via the Metavision SDK (OpenEB) Python API."""
    events_iterator = _metavision()
    try:
        iterator = events_iterator(input_path=serial, delta_t=1000)
        height, width = iterator.get_size()
    except Exception as err:  # the SDK raises its own error types
        raise CameraUnavailable(f"cannot open Prophesee camera '{serial}': {err}") from err
    for batch in iterator:
        if batch.size:
            yield EventArray.unchecked(t=batch["t"].astype(np.int64) * 1000,
                                       x=batch["x"].astype(np.uint16),
                                       y=batch["y"].astype(np.uint16),
                                       p=batch["p"].astype(np.uint8), width=width, height=height)


BACKENDS = {"inivation": inivation_batches, "prophesee": prophesee_batches}
