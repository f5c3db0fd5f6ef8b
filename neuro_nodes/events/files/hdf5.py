"""HDF5 event files through h5py.

Read: DSEC-style ``events/{t,x,y,p}`` (t in µs, optional ``t_offset``), Prophesee
``CD/events`` compound (x, y, p, t µs; only uncompressed: the ECF codec plugin is not
on PyPI, and such a file gives a clear error), and plain root datasets ``x, y, t, p``.
Write: DSEC-style, t relative to ``t_offset`` (µs), sensor size in attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files.base import EventFileError, EventFileInfo, EventFileReader
from neuro_nodes.events.geometry import MAX_SIDE, SizeError, parse_side

CHUNK = 1 << 20


def _layout(f) -> tuple[str, object]:
    if "events" in f and "t" in f["events"]:
        return "dsec", f["events"]
    if "CD" in f and "events" in f["CD"]:
        return "prophesee", f["CD"]["events"]
    if all(k in f for k in ("x", "y", "t", "p")):
        return "plain", f
    raise EventFileError(f"{f.filename}: no events/{{t,x,y,p}}, CD/events or root x,y,t,p datasets")


class Hdf5Reader(EventFileReader):
    def __init__(self, path: Path, size: tuple[int, int] | None = None) -> None:
        import h5py

        self.path = path
        try:
            self._file = h5py.File(path, "r")
        except OSError as err:
            raise EventFileError(f"{path}: not a readable HDF5 file ({err})") from err
        self._kind, self._group = _layout(self._file)
        attrs = dict(self._file.attrs)
        stated, warnings = (0, 0), []
        if "width" in attrs or "height" in attrs:
            try:
                stated = (parse_side(attrs.get("width"), f"{path}: attribute 'width'"),
                          parse_side(attrs.get("height"), f"{path}: attribute 'height'"))
            except SizeError as err:
                warnings.append(f"{err}; ignored")
        super().__init__(EventFileInfo(str(path), "hdf5", f"hdf5-{self._kind}", *stated,
                                       "the file's attributes"), size)
        if size is None:
            self.header_warnings = warnings

    def _columns(self, start: int, stop: int) -> tuple[np.ndarray, ...]:
        g = self._group
        if self._kind == "prophesee":
            block = g[start:stop]
            return block["t"], block["x"], block["y"], block["p"]
        return g["t"][start:stop], g["x"][start:stop], g["y"][start:stop], g["p"][start:stop]

    def __len__(self) -> int:
        g = self._group
        return len(g) if self._kind == "prophesee" else len(g["t"])

    def _read(self) -> Iterator[EventArray]:
        w, h = self.info.width or MAX_SIDE, self.info.height or MAX_SIDE
        offset = 0
        if "t_offset" in self._file:
            offset = int(self._file["t_offset"][()])
        try:
            for start in range(0, len(self), CHUNK):
                t, x, y, p = self._columns(start, start + CHUNK)
                yield EventArray.unchecked(
                    t=(t.astype(np.int64) + offset) * 1000, x=x.astype(np.uint16),
                    y=y.astype(np.uint16), p=(p > 0).astype(np.uint8),
                    width=w, height=h)
        except OSError as err:  # a filter plugin missing (Prophesee ECF) or a corrupt chunk
            raise EventFileError(f"{self.path}: cannot read events ({err}); Prophesee files "
                                 "compressed with the ECF codec need its HDF5 plugin") from err
        finally:
            self._file.close()


def write_hdf5(path: Path, chunks: Iterable[EventArray], width: int, height: int) -> int:
    import h5py

    count = 0
    with h5py.File(path, "w") as f:
        f.attrs["width"], f.attrs["height"] = width, height
        group = f.create_group("events")
        cols = {name: group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                           chunks=(CHUNK // 4,), compression="gzip",
                                           compression_opts=1)
                for name, dtype in (("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1"))}
        t_offset = None
        for ev in chunks:
            if not len(ev):
                continue
            t_us = ev.t // 1000
            if t_offset is None:
                t_offset = int(t_us[0])
                f.create_dataset("t_offset", data=np.int64(t_offset))
            n = len(ev)
            for name, data in (("t", t_us - t_offset), ("x", ev.x), ("y", ev.y), ("p", ev.p)):
                cols[name].resize((count + n,))
                cols[name][count:] = data
            count += n
        if t_offset is None:
            f.create_dataset("t_offset", data=np.int64(0))
    return count
