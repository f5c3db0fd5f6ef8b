"""Prophesee RAW files (EVT 2.0 / 3.0) through the project's stream codecs.

Read with our decoders rather than faery because faery drops external-trigger
events, which ``neuro events info`` counts; the payload after the ``%`` header is
exactly an EventPacket payload stream. (Writing goes through faery.)
Header lines: ``% format EVT3;width=640;height=480``, ``% evt 3.0``,
``% geometry 640x480``, ``% t0 <µs>`` (added to times), ending with ``% end`` or the
first line that does not start with ``%``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from neuro_nodes.events.codecs.base import make_decoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files.base import EventFileError, EventFileInfo
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


def header_geometry(fields: dict[str, str]) -> tuple[str, int | None, int | None]:
    fmt = fields.get("format", "")
    encoding = fmt.split(";")[0].strip().lower()
    if not encoding:
        version = fields.get("evt", "")
        encoding = {"3.0": "evt3", "2.0": "evt2"}.get(version, "")
    width = height = None
    for part in fmt.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip() == "width":
            width = int(v)
        elif k.strip() == "height":
            height = int(v)
    if (width is None or height is None) and "geometry" in fields:
        m = re.match(r"(\d+)x(\d+)", fields["geometry"])
        if m:
            width, height = int(m.group(1)), int(m.group(2))
    return encoding, width, height


class RawReader:
    def __init__(self, path: Path, fallback_size: tuple[int, int] = (1280, 720)) -> None:
        self.path = path
        fields, self._offset = parse_header(path)
        encoding, width, height = header_geometry(fields)
        if encoding not in ("evt3", "evt2"):
            raise EventFileError(f"{path}: RAW encoding '{encoding or '?'}' is not EVT 2.0/3.0")
        self._t0_ns = int(fields.get("t0", "0") or 0) * 1000
        self.info = EventFileInfo(str(path), "raw", encoding, width or fallback_size[0],
                                  height or fallback_size[1])
        self.triggers: list[TriggerArray] = []
        self.errors = 0

    def chunks(self) -> Iterator[EventArray]:
        """Events block by block; triggers and error counts accumulate on the reader."""
        decoder = make_decoder(self.info.encoding, self.info.width, self.info.height)
        with self.path.open("rb") as f:
            f.seek(self._offset)
            while block := f.read(BLOCK):
                result = decoder.decode(block)
                self.errors += result.errors
                if len(result.triggers):
                    self.triggers.append(result.triggers)
                ev = result.events
                if self._t0_ns and len(ev):
                    ev = EventArray.unchecked(t=ev.t + self._t0_ns, x=ev.x, y=ev.y, p=ev.p,
                                              width=ev.width, height=ev.height)
                yield ev
