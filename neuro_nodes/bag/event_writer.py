"""Write event packets to a rosbag2 (mcap by default) that ``ros2 bag`` and Foxglove open."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np

from neuro_nodes.bag.event_packets import EVENT_PACKET, typestore


class EventPacketBagWriter:
    """``with EventPacketBagWriter(path) as w: w.write(topic, t_ns, payload, ...)``."""

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
        self._writer = Writer(Path(path), version=9, storage_plugin=plugin)
        self._connections: dict[str, object] = {}
        self._seq: dict[str, int] = {}
        self.count = 0

    def __enter__(self) -> EventPacketBagWriter:
        self._writer.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._writer.close()

    def write(self, topic: str, t_ns: int, payload: bytes, *, encoding: str, width: int,
              height: int, time_base: int = 0, frame_id: str = "camera_optical_frame") -> None:
        store = typestore()
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, EVENT_PACKET, typestore=store)
            self._seq[topic] = 0
        types = store.types
        header = types["std_msgs/msg/Header"](
            stamp=types["builtin_interfaces/msg/Time"](sec=t_ns // 1_000_000_000,
                                                      nanosec=t_ns % 1_000_000_000),
            frame_id=frame_id)
        msg = types[EVENT_PACKET](
            header=header, height=height, width=width, seq=self._seq[topic], time_base=time_base,
            encoding=encoding, is_bigendian=False, events=np.frombuffer(payload, np.uint8))
        self._seq[topic] += 1
        self._writer.write(self._connections[topic], t_ns, store.serialize_cdr(msg, EVENT_PACKET))
        self.count += 1
