"""Read an mcap file front to back, without its index, up to the first damaged record.

What a killed recorder leaves is a file whose last chunk is cut off and which has no summary
or footer; every chunk before that is intact. ``McapScan`` yields the messages of the intact
records in file order and then says why it stopped (``complete``, ``error``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

MCAP_MAGIC = b"\x89MCAP0\r\n"


def has_footer(path: Path) -> bool:
    """Whether the file ends with the mcap magic (a writer that finished it)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            if f.tell() < 2 * len(MCAP_MAGIC):
                return False
            f.seek(-len(MCAP_MAGIC), 2)
            return f.read() == MCAP_MAGIC
    except OSError:
        return False


class McapScan:
    """``for schema, channel, message in McapScan(path): ...``; then ``complete``/``error``.

    ``schemas``/``channels`` hold every record of those kinds met (also those of channels
    without messages), ``metadata`` the Metadata records (name -> dict), ``header`` the
    Header record.
    """

    def __init__(self, path: str | Path, topics: set[str] | None = None) -> None:
        self.path = Path(path)
        self.topics = topics
        self.schemas: dict[int, Any] = {}
        self.channels: dict[int, Any] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.header: Any = None
        self.messages = 0
        self.complete = False
        self.error: str | None = None

    def __iter__(self) -> Iterator[tuple[Any, Any, Any]]:
        from mcap.records import Channel, Footer, Header, Message, Metadata, Schema
        from mcap.stream_reader import StreamReader

        self.complete, self.error, self.messages = False, None, 0
        with self.path.open("rb") as stream:
            records = StreamReader(stream, record_size_limit=1 << 32).records
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    self.complete = True
                    return
                except Exception as err:  # noqa: BLE001 - any damage ends the readable part
                    self.error = f"{type(err).__name__}: {err}" if str(err) else type(
                        err).__name__
                    return
                if isinstance(record, Message):
                    channel = self.channels.get(record.channel_id)
                    if channel is None:
                        continue  # a message before its channel: not a valid file
                    if self.topics is None or channel.topic in self.topics:
                        self.messages += 1
                        yield self.schemas.get(channel.schema_id), channel, record
                elif isinstance(record, Channel):
                    self.channels.setdefault(record.id, record)
                elif isinstance(record, Schema):
                    self.schemas.setdefault(record.id, record)
                elif isinstance(record, Metadata):
                    self.metadata[record.name] = dict(record.metadata)
                elif isinstance(record, Header):
                    self.header = record
                elif isinstance(record, Footer):
                    self.complete = True
                    return
