"""Write messages a node publishes straight into a rosbag2 (mcap), in-process.

For producers that own their clock (the simulator): every published message is also
serialised into the bag with its sim-time stamp, so nothing is lost to DDS. The live
recorder for other nodes' topics is ``neuro bag record``.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from rclpy.serialization import serialize_message

from neuro_nodes.bag.event_packets import typestore


def type_name(msg: Any) -> str:
    """``sensor_msgs/msg/Image`` for a ``sensor_msgs.msg.Image`` instance."""
    package, kind = type(msg).__module__.split(".")[:2]
    return f"{package}/{kind}/{type(msg).__name__}"


class BagTap:
    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
        self.path = Path(path)
        self._writer = Writer(self.path, version=9, storage_plugin=plugin)
        self._writer.open()
        self._connections: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def __call__(self, topic: str, msg: Any, t_ns: int) -> None:
        data = serialize_message(msg)
        with self._lock:
            if topic not in self._connections:
                self._connections[topic] = self._writer.add_connection(
                    topic, type_name(msg), typestore=typestore())
            self._writer.write(self._connections[topic], t_ns, data)
            self.counts[topic] += 1

    def close(self) -> None:
        with self._lock:
            self._writer.close()
