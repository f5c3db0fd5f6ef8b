"""Common types of the event file readers and writers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Protocol

from neuro_nodes.events.event_array import EventArray


class EventFileError(RuntimeError):
    """A file that cannot be read or written, with the path and the reason."""


@dataclasses.dataclass(frozen=True)
class EventFileInfo:
    path: str
    format: str        # raw, dat, aedat4, hdf5, csv, txt
    encoding: str      # evt3, evt2, aedat4, hdf5, csv, text
    width: int
    height: int


class EventReader(Protocol):
    info: EventFileInfo

    def chunks(self) -> Iterator[EventArray]: ...
