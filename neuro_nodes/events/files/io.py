"""Open and write event files by suffix."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files.base import EventFileError, EventFileReader
from neuro_nodes.events.trigger_array import TriggerArray

READ_SUFFIXES = (".raw", ".dat", ".aedat4", ".csv", ".txt", ".h5", ".hdf5")
WRITE_SUFFIXES = (".raw", ".aedat4", ".csv", ".h5", ".hdf5")
#: Outputs that keep trigger events (RAW: EXT_TRIGGER words); the others hold CD events only.
TRIGGER_SUFFIXES = (".raw",)


def open_events(path: str | Path, size: tuple[int, int] | None = None) -> EventFileReader:
    """A streaming reader. ``size`` (the user's) replaces the size the file states; see
    :mod:`neuro_nodes.events.geometry` for the rule when neither is known or events exceed it."""
    path = Path(path)
    if not path.is_file():
        raise EventFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        from neuro_nodes.events.files.hdf5 import Hdf5Reader

        return Hdf5Reader(path, size)
    if suffix == ".raw":
        from neuro_nodes.events.files.raw import RawReader

        return RawReader(path, size)
    if suffix == ".aedat4":
        from neuro_nodes.events.files.faery_io import Aedat4Reader

        return Aedat4Reader(path, size)
    if suffix in READ_SUFFIXES:
        from neuro_nodes.events.files.faery_io import FaeryReader

        return FaeryReader(path, size)
    raise EventFileError(f"{path}: unknown event file type (readable: {', '.join(READ_SUFFIXES)})")


def read_info(path: str | Path):
    return open_events(path).info


def write_events(path: str | Path,
                 chunks: Iterable[EventArray | tuple[EventArray, TriggerArray]],
                 width: int, height: int) -> int:
    """Write chunks (events, or (events, triggers) pairs) to ``path`` (format from the
    suffix; only :data:`TRIGGER_SUFFIXES` keep triggers); returns the number of events."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise EventFileError(
            f"{path}: cannot write this type (writable: {', '.join(WRITE_SUFFIXES)})")

    def pairs() -> Iterable[tuple[EventArray, TriggerArray]]:
        for chunk in chunks:
            yield chunk if isinstance(chunk, tuple) else (chunk, TriggerArray.empty())

    if suffix == ".raw":
        from neuro_nodes.events.files.raw import write_raw

        return write_raw(path, pairs(), width, height)
    events = (ev for ev, _ in pairs())
    if suffix in (".h5", ".hdf5"):
        from neuro_nodes.events.files.hdf5 import write_hdf5

        return write_hdf5(path, events, width, height)
    from neuro_nodes.events.files.faery_io import write_faery

    return write_faery(path, events, width, height)
