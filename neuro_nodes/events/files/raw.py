"""Prophesee RAW files (EVT 2.0 / 3.0) through the project's stream codecs.

Read and written with our codecs rather than faery because faery drops external-trigger
events; the payload after the ``%`` header is exactly an EventPacket payload stream.
Header lines: ``% format EVT3;width=640;height=480``, ``% evt 3.0``, ``% geometry 640x480``,
``% t0 <us>`` (added to times), ending with ``% end`` or the first line that does not start
with ``%``. Older headers give no geometry, only ``% system_ID``/``% plugin_name``: the size
then comes from the camera they name (see :mod:`neuro_nodes.events.geometry`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from neuro_nodes.events.codecs.base import make_decoder, make_encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files.base import EventFileError, EventFileInfo, EventFileReader
from neuro_nodes.events.geometry import (
    EVT_MAX_SIDE,
    SizeError,
    parse_side,
    parse_size,
    prophesee_camera_size,
)
from neuro_nodes.events.trigger_array import TriggerArray

BLOCK = 1 << 22  # bytes per read (even, so EVT3/EVT2 words are never split)


def parse_header(path: Path) -> tuple[dict[str, str], int]:
    """Header key/values and the byte offset where the payload starts."""
    fields: dict[str, str] = {}
    offset = 0
    with path.open("rb") as f:
        while True:
            line = f.readline()
            if not line.startswith(b"% "):
                break
            offset += len(line)
            text = line[2:].decode("ascii", "replace").strip()
            if text == "end":
                break
            key, _, value = text.partition(" ")
            fields[key.lower()] = value
    if not fields:
        raise EventFileError(f"{path}: no Prophesee RAW header ('% ' lines) at the start")
    return fields, offset


def header_geometry(fields: dict[str, str], name: str = "RAW header"
                    ) -> tuple[str, tuple[int, int] | None, str, list[str]]:
    """Encoding, the size the header gives (or None), who gave it, and warnings about
    header sizes that are not sizes (ignored, each naming ``name`` and the field)."""
    fmt = fields.get("format", "")
    encoding = fmt.split(";")[0].strip().lower()
    if not encoding:
        encoding = {"3.0": "evt3", "2.0": "evt2"}.get(fields.get("evt", "").strip(), "")
    warnings: list[str] = []
    candidates: list[tuple[tuple[int, int], str]] = []
    parts = dict(p.partition("=")[::2] for p in fmt.split(";")[1:])
    parts = {k.strip().lower(): v.strip() for k, v in parts.items()}
    if "width" in parts or "height" in parts:
        field = f"format {fmt}"
        try:
            candidates.append(((parse_side(parts.get("width", ""), f"{name} '{field}' width",
                                           EVT_MAX_SIDE),
                                parse_side(parts.get("height", ""), f"{name} '{field}' height",
                                           EVT_MAX_SIDE)), "the header's format"))
        except SizeError as err:
            warnings.append(f"{err}; ignored")
    if "geometry" in fields:
        try:
            candidates.append((parse_size(fields["geometry"],
                                          f"{name} 'geometry {fields['geometry']}'",
                                          EVT_MAX_SIDE), "the header's geometry"))
        except SizeError as err:
            warnings.append(f"{err}; ignored")
    if len(candidates) == 2 and candidates[0][0] != candidates[1][0]:
        (a, _), (b, _) = candidates
        warnings.append(f"{name}: format says {a[0]}x{a[1]} but geometry {b[0]}x{b[1]}; "
                        "using the format's")
    if candidates:
        return encoding, candidates[0][0], candidates[0][1], warnings
    camera = prophesee_camera_size(fields)
    if camera is not None:
        return encoding, camera[0], f"the camera of the header's {camera[1]}", warnings
    return encoding, None, "", warnings


class RawReader(EventFileReader):
    def __init__(self, path: Path, size: tuple[int, int] | None = None) -> None:
        self.path = path
        fields, self._offset = parse_header(path)
        encoding, stated, origin, warnings = header_geometry(fields, str(path))
        if encoding not in ("evt3", "evt2"):
            raise EventFileError(f"{path}: RAW encoding '{encoding or '?'}' is not EVT 2.0/3.0")
        try:
            self._t0_ns = int(fields.get("t0", "0") or 0) * 1000
        except ValueError:
            raise EventFileError(f"{path}: header 't0 {fields['t0']}' is not a whole number "
                                 "of microseconds") from None
        w, h = stated or (0, 0)
        super().__init__(EventFileInfo(str(path), "raw", encoding, w, h, origin), size)
        if size is None:
            self.header_warnings = warnings

    def _read(self) -> Iterator[EventArray]:
        """Events block by block; triggers and error counts accumulate on the reader."""
        # decode at the largest size EVT can address: events outside the stated size are
        # then seen (and the size grown, with a warning), not dropped by the decoder
        decoder = make_decoder(self.info.encoding, EVT_MAX_SIDE, EVT_MAX_SIDE)
        with self.path.open("rb") as f:
            f.seek(self._offset)
            while block := f.read(BLOCK):
                result = decoder.decode(block)
                self.errors += result.errors
                tr = result.triggers
                if len(tr):
                    if self._t0_ns:
                        tr = TriggerArray.unchecked(tr.t + self._t0_ns, tr.id, tr.value)
                    self.triggers.append(tr)
                ev = result.events
                if self._t0_ns and len(ev):
                    ev = EventArray.unchecked(t=ev.t + self._t0_ns, x=ev.x, y=ev.y, p=ev.p,
                                              width=ev.width, height=ev.height)
                yield ev


def write_raw(path: Path, chunks: Iterable[tuple[EventArray, TriggerArray]], width: int,
              height: int) -> int:
    """EVT 3.0 RAW with triggers, streaming; times relative to ``% t0`` (the first time,
    us), as EVT 3.0's 24-bit clock is exact only from its start. Returns events written."""
    encoder = make_encoder("evt3", width, height)
    header = (f"% evt 3.0\n% format EVT3;height={height};width={width}\n"
              f"% geometry {width}x{height}\n")
    count = 0
    t0_ns: int | None = None
    with path.open("wb") as f:
        f.write(header.encode())
        for events, triggers in chunks:
            if not len(events) and not len(triggers):
                continue
            if t0_ns is None:
                first = [int(a.t.min()) for a in (events, triggers) if len(a)]
                t0_ns = min(first) // 1000 * 1000
                f.write(f"% t0 {t0_ns // 1000}\n% end\n".encode())
            ev = EventArray.unchecked(events.t - t0_ns, events.x, events.y, events.p,
                                      width, height)
            tr = TriggerArray.unchecked(triggers.t - t0_ns, triggers.id, triggers.value)
            f.write(encoder.encode(ev, tr))
            count += len(events)
        if t0_ns is None:
            f.write(b"% end\n")
    return count
