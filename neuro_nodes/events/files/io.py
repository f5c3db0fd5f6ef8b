"""Open and write event files by suffix."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files.base import EventFileError, EventFileInfo, EventReader

READ_SUFFIXES = (".raw", ".dat", ".aedat4", ".csv", ".txt", ".h5", ".hdf5")
WRITE_SUFFIXES = (".raw", ".aedat4", ".csv", ".h5", ".hdf5")


def open_events(path: str | Path, fallback_size: tuple[int, int] = (1280, 720)) -> EventReader:
    """A streaming reader; ``fallback_size`` is used when the file does not say its size."""
    path = Path(path)
    if not path.is_file():
        raise EventFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        from neuro_nodes.events.files.hdf5 import Hdf5Reader

        return Hdf5Reader(path, fallback_size)
    if suffix == ".raw":
        from neuro_nodes.events.files.raw import RawReader

        return RawReader(path, fallback_size)
    if suffix in READ_SUFFIXES:
        from neuro_nodes.events.files.faery_io import FaeryReader

        return FaeryReader(path, fallback_size)
    raise EventFileError(f"{path}: unknown event file type (readable: {', '.join(READ_SUFFIXES)})")


def read_info(path: str | Path) -> EventFileInfo:
    return open_events(path).info


def write_events(path: str | Path, chunks: Iterable[EventArray], width: int, height: int) -> int:
    """Write chunks to ``path`` (format from the suffix); returns the number of events."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        from neuro_nodes.events.files.hdf5 import write_hdf5

        return write_hdf5(path, chunks, width, height)
    if suffix in (".raw", ".aedat4", ".csv"):
        from neuro_nodes.events.files.faery_io import write_faery

        return write_faery(path, chunks, width, height)
    raise EventFileError(f"{path}: cannot write this type (writable: {', '.join(WRITE_SUFFIXES)})")
