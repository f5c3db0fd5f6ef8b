"""DAT, CSV and ECD text through faery (correct at 20-60 M events/s); AEDAT4 through
faery's container decoder, which also gives the IMU and trigger tracks that faery's event
stream drops; AEDAT4 and CSV writing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files.base import EventFileError, EventFileInfo, EventFileReader
from neuro_nodes.events.imu import ImuArray
from neuro_nodes.events.trigger_array import TriggerArray

ECD_TEXT = dict(has_header=False, separator=b" ", t_index=0, x_index=1, y_index=2, on_index=3,
                t_scale=1e6, on_value=b"1", off_value=b"0", skip_errors=False)
FORMATS = {".raw": "raw", ".dat": "dat", ".aedat4": "aedat4", ".csv": "csv", ".txt": "txt"}
# .raw is read and written by files/raw.py (our codecs keep trigger events).

# faery needs a size for files that state none and checks x < width: the largest it takes,
# recognised afterwards as "the file states no size" (the events then decide).
_NO_SIZE = (65535, 65535)

# AEDAT4 trigger types (dv::TriggerType) -> (channel id, value 1 rising / 0 falling).
# Channel 0: the external input; 1: the external generator; 2: APS frame start/end;
# 3: APS exposure start/end. A detected pulse counts as a rising edge; timestamp resets
# carry no edge and are skipped.
AEDAT4_TRIGGERS: dict[int, tuple[int, int]] = {
    1: (0, 1), 2: (0, 0), 3: (0, 1), 4: (1, 1), 5: (1, 0), 6: (2, 1), 7: (2, 0), 8: (3, 1),
    9: (3, 0),
}


class FaeryReader(EventFileReader):
    def __init__(self, path: Path, size: tuple[int, int] | None = None) -> None:
        import faery

        self.path = path
        fmt = FORMATS[path.suffix.lower()]
        kwargs = {"dimensions_fallback": _NO_SIZE}
        if fmt == "txt":
            kwargs.update(file_type="csv", csv_properties=faery.CsvProperties(**ECD_TEXT))
        try:
            self._stream = faery.events_stream_from_file(path, **kwargs)
            width, height = self._stream.dimensions()
        except Exception as err:  # faery raises plain exceptions for corrupt headers
            raise EventFileError(f"{path}: cannot read as {fmt} ({err})") from err
        if (width, height) == _NO_SIZE:
            width = height = 0
        encoding = {"dat": "dat", "csv": "csv", "txt": "text"}[fmt]
        super().__init__(EventFileInfo(str(path), fmt, encoding, int(width), int(height),
                                       f"the {fmt} header"), size)

    def _read(self) -> Iterator[EventArray]:
        w, h = self.info.width or _NO_SIZE[0], self.info.height or _NO_SIZE[1]
        try:
            for packet in self._stream:
                yield EventArray.unchecked(
                    t=packet["t"].astype(np.int64) * 1000, x=packet["x"], y=packet["y"],
                    p=packet["on"].astype(np.uint8), width=w, height=h)
        except EventFileError:
            raise
        except Exception as err:
            raise EventFileError(f"{self.path}: corrupt or truncated ({err})") from err


class Aedat4Reader(EventFileReader):
    """Events of the first event track, with the IMU (deg/s and g in the file, converted
    to rad/s and m/s^2) and triggers of the first IMU and trigger tracks."""

    def __init__(self, path: Path, size: tuple[int, int] | None = None) -> None:
        import faery

        self.path = path
        try:
            with faery.aedat.Decoder(path) as decoder:
                tracks = decoder.tracks()
        except Exception as err:
            raise EventFileError(f"{path}: cannot read as aedat4 ({err})") from err
        first = {}
        for track in tracks:
            first.setdefault(track.data_type, track)
        if "events" not in first:
            raise EventFileError(f"{path}: no event track (tracks: "
                                 f"{', '.join(t.data_type for t in tracks) or 'none'})")
        self._ids = {kind: track.id for kind, track in first.items()}
        width, height = first["events"].dimensions
        super().__init__(EventFileInfo(str(path), "aedat4", "aedat4", int(width), int(height),
                                       "the aedat4 event track"), size)

    def _read(self) -> Iterator[EventArray]:
        import faery

        w, h = self.info.width, self.info.height
        ids = self._ids
        try:
            with faery.aedat.Decoder(self.path) as decoder:
                for track, packet in decoder:
                    if track.id == ids["events"]:
                        yield EventArray.unchecked(
                            t=packet["t"].astype(np.int64) * 1000, x=packet["x"],
                            y=packet["y"], p=packet["on"].astype(np.uint8), width=w, height=h)
                    elif track.id == ids.get("imus") and len(packet):
                        self.imu.append(ImuArray.from_device_units(
                            packet["t"],
                            np.column_stack([packet[f"gyroscope_{a}"] for a in "xyz"]),
                            np.column_stack([packet[f"accelerometer_{a}"] for a in "xyz"]),
                            packet["temperature"]))
                    elif track.id == ids.get("triggers") and len(packet):
                        self._add_triggers(packet)
        except EventFileError:
            raise
        except Exception as err:
            raise EventFileError(f"{self.path}: corrupt or truncated ({err})") from err

    def _add_triggers(self, packet: np.ndarray) -> None:
        known = np.isin(packet["source"], list(AEDAT4_TRIGGERS))
        packet = packet[known]
        if not len(packet):
            return
        table = np.zeros((256, 2), np.uint8)
        for kind, (channel, value) in AEDAT4_TRIGGERS.items():
            table[kind] = channel, value
        mapped = table[packet["source"]]
        self.triggers.append(TriggerArray.unchecked(
            packet["t"].astype(np.int64) * 1000, mapped[:, 0].copy(), mapped[:, 1].copy()))


class _ChunkStream:
    """A faery events stream fed from our chunks, so writing streams too."""

    def __init__(self, chunks: Iterable[EventArray], width: int, height: int) -> None:
        self._chunks, self._size, self.count = chunks, (width, height), 0

    def dimensions(self) -> tuple[int, int]:
        return self._size

    def __iter__(self) -> Iterator[np.ndarray]:
        import faery

        for ev in self._chunks:
            out = np.empty(len(ev), dtype=faery.EVENTS_DTYPE)
            out["t"] = ev.t // 1000
            out["x"], out["y"], out["on"] = ev.x, ev.y, ev.p > 0
            self.count += len(ev)
            yield out


def write_faery(path: Path, chunks: Iterable[EventArray], width: int, height: int) -> int:
    """Write AEDAT4 or CSV, streaming; returns the number of events written."""
    import faery

    fmt = FORMATS.get(path.suffix.lower())
    if fmt not in ("aedat4", "csv"):
        raise EventFileError(f"{path}: faery writes .aedat4 and .csv here")
    source = _ChunkStream(chunks, width, height)
    stream = type("NeuroEventsStream", (faery.EventsStream,), {
        "__iter__": lambda self: iter(source), "dimensions": lambda self: source.dimensions()})()
    stream.to_file(path, zero_t0=False)
    return source.count
