"""DAT, AEDAT4, CSV and ECD text files through faery (correct at 20-60 M events/s); RAW writing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files.base import EventFileError, EventFileInfo

ECD_TEXT = dict(has_header=False, separator=b" ", t_index=0, x_index=1, y_index=2, on_index=3,
                t_scale=1e6, on_value=b"1", off_value=b"0", skip_errors=False)
FORMATS = {".raw": "raw", ".dat": "dat", ".aedat4": "aedat4", ".csv": "csv", ".txt": "txt"}
# .raw is read by files/raw.py (our codecs keep trigger events); faery writes it.


class FaeryReader:
    def __init__(self, path: Path, fallback_size: tuple[int, int] = (1280, 720)) -> None:
        import faery

        self.path = path
        fmt = FORMATS[path.suffix.lower()]
        kwargs = {"dimensions_fallback": fallback_size}
        if fmt == "txt":
            kwargs.update(file_type="csv", csv_properties=faery.CsvProperties(**ECD_TEXT))
        try:
            self._stream = faery.events_stream_from_file(path, **kwargs)
            width, height = self._stream.dimensions()
        except Exception as err:  # faery raises plain exceptions for corrupt headers
            raise EventFileError(f"{path}: cannot read as {fmt} ({err})") from err
        encoding = {"dat": "dat", "aedat4": "aedat4", "csv": "csv", "txt": "text"}[fmt]
        self.info = EventFileInfo(str(path), fmt, encoding, int(width), int(height))

    def chunks(self) -> Iterator[EventArray]:
        w, h = self.info.width, self.info.height
        try:
            for packet in self._stream:
                yield EventArray.unchecked(
                    t=packet["t"].astype(np.int64) * 1000, x=packet["x"], y=packet["y"],
                    p=packet["on"].astype(np.uint8), width=w, height=h)
        except EventFileError:
            raise
        except Exception as err:
            raise EventFileError(f"{self.path}: corrupt or truncated ({err})") from err


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
    """Write RAW (EVT 3.0), AEDAT4 or CSV, streaming; returns the number of events written."""
    import faery

    fmt = FORMATS.get(path.suffix.lower())
    if fmt not in ("raw", "aedat4", "csv"):
        raise EventFileError(f"{path}: faery writes .raw, .aedat4 and .csv")
    source = _ChunkStream(chunks, width, height)
    stream = type("NeuroEventsStream", (faery.EventsStream,), {
        "__iter__": lambda self: iter(source), "dimensions": lambda self: source.dimensions()})()
    kwargs = {"zero_t0": fmt == "raw"}  # RAW: 24-bit clock; faery keeps t0 in the header
    if fmt == "raw":
        kwargs["version"] = "evt3"
    stream.to_file(path, **kwargs)
    return source.count

