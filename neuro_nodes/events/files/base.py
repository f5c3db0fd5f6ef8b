"""Common types of the event file readers and writers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.geometry import SizeGuard
from neuro_nodes.events.imu import ImuArray
from neuro_nodes.events.trigger_array import TriggerArray


class EventFileError(RuntimeError):
    """A file that cannot be read or written, with the path and the reason."""


@dataclasses.dataclass(frozen=True)
class EventFileInfo:
    path: str
    format: str        # raw, dat, aedat4, hdf5, csv, txt
    encoding: str      # evt3, evt2, aedat4, hdf5, csv, text
    width: int         # the size in use when reading starts; 0x0: unknown (the events decide)
    height: int
    size_origin: str = "the file"  # who gave the size: the user, the header, the camera, ...


class EventFileReader:
    """A streaming reader: ``chunks()`` yields events at a size that holds them all.

    Triggers, IMU samples and decode errors met so far accumulate on the reader, so a
    consumer takes what is new after each chunk. ``warnings`` says what was doubtful (an
    unusable header size, events outside the stated size).
    """

    info: EventFileInfo
    has_imu = False  # the file holds an IMU stream

    def __init__(self, info: EventFileInfo, user_size: tuple[int, int] | None) -> None:
        if user_size is not None:
            info = dataclasses.replace(info, width=user_size[0], height=user_size[1],
                                       size_origin="the user")
        self.info = info
        known = (info.width, info.height) if info.width and info.height else None
        self.guard = SizeGuard(info.path, known, info.size_origin)
        self.triggers: list[TriggerArray] = []
        self.imu: list[ImuArray] = []
        self.errors = 0
        self.header_warnings: list[str] = []

    @property
    def warnings(self) -> list[str]:
        return self.header_warnings + self.guard.warnings

    @property
    def size(self) -> tuple[int, int] | None:
        """The size in use now (None while unknown)."""
        return self.guard.size

    def _read(self) -> Iterator[EventArray]:
        raise NotImplementedError

    def chunks(self) -> Iterator[EventArray]:
        for events in self._read():
            yield self.guard.fit(events)
