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


class _DvTrack:
    """One IMU or trigger stream read on its own through dv-processing (which reads a
    stream's packets by the file's index), so it can be merged with the events by time
    however the file interleaves the tracks (dv's writer may put all triggers at the end)."""

    def __init__(self, recording, kind: str) -> None:
        self._next = (recording.getNextImuBatch if kind == "imus"
                      else recording.getNextTriggerBatch)
        self._kind = kind
        self._t = np.empty(0, np.int64)
        self._rows: list = []
        self._done = False

    def take_until(self, t_us: int | None) -> list:
        """Samples with time <= ``t_us`` (None: all that are left)."""
        while not self._done and (t_us is None or not self._t.size or self._t[-1] <= t_us):
            batch = self._next()
            if batch is None:
                self._done = True
                break
            rows = list(batch)
            self._rows += rows
            self._t = np.concatenate([self._t, np.fromiter((r.timestamp for r in rows),
                                                           np.int64, len(rows))])
        cut = self._t.size if t_us is None else int(np.searchsorted(self._t, t_us, "right"))
        out, self._rows, self._t = self._rows[:cut], self._rows[cut:], self._t[cut:]
        return out


def _imu_from_dv(rows: list) -> ImuArray:
    return ImuArray.from_device_units(
        [r.timestamp for r in rows],
        [(r.gyroscopeX, r.gyroscopeY, r.gyroscopeZ) for r in rows],
        [(r.accelerometerX, r.accelerometerY, r.accelerometerZ) for r in rows],
        [r.temperature for r in rows])


class Aedat4Reader(EventFileReader):
    """Events of the first event track (faery), with the IMU (deg/s and g in the file,
    converted to rad/s and m/s^2) and triggers (see :data:`AEDAT4_TRIGGERS`), read through
    dv-processing and handed out in time order with the events."""

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
        self._event_track = first["events"].id
        self._kinds = [k for k in ("imus", "triggers") if k in first]
        self.has_imu = "imus" in first
        width, height = first["events"].dimensions
        super().__init__(EventFileInfo(str(path), "aedat4", "aedat4", int(width), int(height),
                                       "the aedat4 event track"), size)

    def _side_tracks(self) -> dict[str, _DvTrack] | None:
        """dv-processing cursors on the IMU/trigger streams; None when dv cannot index the
        file (e.g. truncated): they then come in file order, with the events."""
        if not self._kinds:
            return {}
        import dv_processing as dv

        try:
            recording = dv.io.MonoCameraRecording(str(self.path))
        except Exception as err:
            self.header_warnings.append(
                f"{self.path}: IMU and triggers read in file order ({err.__class__.__name__}: "
                f"{str(err).strip()})")
            return None
        return {kind: _DvTrack(recording, kind) for kind in self._kinds}

    def _take(self, side: dict[str, _DvTrack], t_us: int | None) -> None:
        if "imus" in side and (rows := side["imus"].take_until(t_us)):
            self.imu.append(_imu_from_dv(rows))
        if "triggers" in side and (rows := side["triggers"].take_until(t_us)):
            self._add_triggers(np.array([r.timestamp for r in rows], np.int64),
                               np.array([int(r.type) for r in rows], np.int64))

    def _read(self) -> Iterator[EventArray]:
        import faery

        w, h = self.info.width, self.info.height
        side = self._side_tracks()
        try:
            with faery.aedat.Decoder(self.path) as decoder:
                for track, packet in decoder:
                    if side is None and track.data_type in ("imus", "triggers") and len(packet):
                        self._add_in_file_order(track.data_type, packet)
                    if track.id != self._event_track or not len(packet):
                        continue
                    if side is not None:
                        self._take(side, int(packet["t"][-1]))
                    yield EventArray.unchecked(
                        t=packet["t"].astype(np.int64) * 1000, x=packet["x"],
                        y=packet["y"], p=packet["on"].astype(np.uint8), width=w, height=h)
        except EventFileError:
            raise
        except Exception as err:
            raise EventFileError(f"{self.path}: corrupt or truncated ({err})") from err
        if side is not None:
            self._take(side, None)  # what comes after the last events

    def _add_in_file_order(self, kind: str, packet: np.ndarray) -> None:
        if kind == "imus":
            self.imu.append(ImuArray.from_device_units(
                packet["t"], np.column_stack([packet[f"gyroscope_{a}"] for a in "xyz"]),
                np.column_stack([packet[f"accelerometer_{a}"] for a in "xyz"]),
                packet["temperature"]))
        else:
            self._add_triggers(packet["t"].astype(np.int64), packet["source"].astype(np.int64))

    def _add_triggers(self, t_us: np.ndarray, kinds: np.ndarray) -> None:
        known = np.isin(kinds, list(AEDAT4_TRIGGERS))
        t_us, kinds = t_us[known], kinds[known]
        if not t_us.size:
            return
        table = np.zeros((256, 2), np.uint8)
        for kind, (channel, value) in AEDAT4_TRIGGERS.items():
            table[kind] = channel, value
        mapped = table[kinds]
        self.triggers.append(TriggerArray.unchecked(
            t_us * 1000, mapped[:, 0].copy(), mapped[:, 1].copy()))


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
