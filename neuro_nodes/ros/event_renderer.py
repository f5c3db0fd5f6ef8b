"""event_renderer: ``EventPacket`` -> ``sensor_msgs/Image`` (rgb8) at a fixed rate.

Decodes every packet (evt3, evt2, libcaer, mono) and draws the events since the
last frame, ON and OFF in their colours, for RViz and Foxglove. Packets it cannot
decode are counted by reason on /diagnostics; the node keeps running. So are packets
whose size would need a frame above ``max_frame_pixels`` (a corrupt or hostile header
such as 65536x65536 asks for a 12 GiB image): they are dropped before anything is
allocated and the previous geometry keeps rendering. Packets are queued as they arrive
and the queue is decoded in one ``decode_many`` call per frame (the per-call cost of a
decode is paid once per frame, not per 1 ms packet).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from event_camera_msgs.msg import EventPacket
from sensor_msgs.msg import Image

from neuro_nodes.core.params import param
from neuro_nodes.events.codecs import CodecError, make_decoder
from neuro_nodes.events.packet_decode import decode_packets
from neuro_nodes.events.render import RenderParams, render_polarity
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes, subscribes
from neuro_nodes.ros.qos import EVENTS_QOS, SENSOR_QOS

#: Packets queued before they are decoded without waiting for the frame (frames late).
MAX_QUEUED_PACKETS = 1000


@dataclasses.dataclass(frozen=True)
class EventRendererParams(RenderParams):
    fps: float = param(25.0, "Images per second", min=1.0, max=200.0, read_only=True)
    # 2048x2048 covers every event sensor sold (1280x720 IMX636, 1280x960 DVS-Gen4) and full
    # HD; about 20 bytes a pixel are needed per frame.
    max_frame_pixels: int = param(
        2048 * 2048, "Largest frame (width x height) rendered; bigger packets are counted "
        "as error frame_too_large and dropped", min=1, max=1 << 28, read_only=True)


class EventRendererNode(NeuroNode[EventRendererParams]):
    params_type = EventRendererParams
    node_name = "event_renderer"
    ports = (
        subscribes("events", "event_camera_msgs/msg/EventPacket", "event packets",
                   "best effort, depth 1000"),
        publishes("event_image", "sensor_msgs/msg/Image",
                  "rgb8 image of the events since the previous frame", "sensor data"),
    )

    def __init__(self, **node_kwargs) -> None:
        super().__init__(self.node_name, **node_kwargs)
        self._decoder = None
        self._key: tuple[str, int, int] | None = None
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._queued: list[EventPacket] = []  # packets not decoded yet, in arrival order
        self._frame_id = ""
        self._pub = self.create_publisher(Image, "event_image", SENSOR_QOS)
        self.create_subscription(EventPacket, "events", self._on_packet, EVENTS_QOS)
        self.create_timer(1.0 / self.params.fps, self._on_frame)
        self.get_logger().info(f"rendering events at {self.params.fps} fps")

    def _on_packet(self, msg: EventPacket) -> None:
        started = time.perf_counter()
        self.health.count("packets")
        key = (msg.encoding, msg.width, msg.height)
        if key != self._key:
            pixels = int(msg.width) * int(msg.height)
            if pixels > self.params.max_frame_pixels:
                self.health.error("frame_too_large", f"{msg.width}x{msg.height} = {pixels} "
                                  f"pixels > max_frame_pixels {self.params.max_frame_pixels}")
                return
            self._decode_queued()  # by the decoder of their stream (counts their errors)
            try:
                self._decoder = make_decoder(msg.encoding, msg.width, msg.height)
            except (CodecError, ValueError) as err:
                self.health.error("undecodable_packet", str(err))
                return
            self._key = key
            self._chunks = []  # events of another geometry do not fit this frame
        self._queued.append(msg)
        self._frame_id = msg.header.frame_id
        if len(self._queued) >= MAX_QUEUED_PACKETS:  # frames late: bound what is held
            self._decode_queued()
        self.stamp_latency(started)

    def _decode_queued(self) -> None:
        """Decode the queued packets in one call (zero-copy from the messages' buffers)."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        result = decode_packets(self._decoder, queued)
        for failure in result.failures:
            self.health.error("decoder_failure", failure)
        if result.errors:
            seqs = f"{queued[0].seq}" if len(queued) == 1 else \
                f"{queued[0].seq}..{queued[-1].seq}"
            self.health.error("corrupt_events", f"{result.errors} in packets {seqs}",
                              result.errors)
        ev = result.events
        self._chunks.append((ev.x, ev.y, ev.p))
        self.health.count("events", len(ev))

    def _on_frame(self) -> None:
        if self._key is None:
            return
        _, width, height = self._key
        self._decode_queued()
        chunks, self._chunks = self._chunks, []
        if chunks:
            x, y, p = (np.concatenate(c) for c in zip(*chunks, strict=True))
        else:
            x = y = p = np.zeros(0, np.uint16)
        rgb = render_polarity(x, y, p, width, height, self.params)
        msg = Image(height=height, width=width, encoding="rgb8", step=3 * width,
                    data=rgb.tobytes())
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self._frame_id
        self._pub.publish(msg)
        self.health.count("images")


NODE_CLASS = EventRendererNode


def main(args=None) -> int:
    return run_node(EventRendererNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
