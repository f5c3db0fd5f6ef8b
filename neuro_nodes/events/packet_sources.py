"""Where an event camera's packets come from: a bag, an event file, or the emulator.

Each source yields :class:`OutPacket` in stream order; ``t_ns`` is the sensor time
of the packet's last event, which paces replay. The ROS node only publishes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from neuro_nodes.events.codecs.base import make_encoder
from neuro_nodes.events.emulator import EmulatorParams, EventEmulator
from neuro_nodes.events.packetize import to_packets
from neuro_nodes.events.texture_scene import TextureScene, TextureSceneParams


@dataclasses.dataclass(frozen=True)
class OutPacket:
    t_ns: int          # pacing time: recording time (bags) or sensor time of the last event
    encoding: str
    width: int
    height: int
    time_base: int
    payload: bytes


@dataclasses.dataclass(frozen=True)
class Packetizing:
    """Driver-style packet limits (metavision_driver's parameter names and meaning)."""

    encoding: str = "evt3"
    event_message_time_threshold: float = 1e-3  # s: a packet spans at most this long
    event_message_size_threshold: int = 1 << 20  # bytes: about this large at most

    def max_events(self) -> int:
        return max(1, self.event_message_size_threshold // 2)  # EVT3: >= 2 bytes per event


def bag_packets(path: Path, topic: str) -> Iterator[OutPacket]:
    """Recorded packets, payload unchanged (any encoding), paced by recording time."""
    from neuro_nodes.bag.event_packets import read_event_packets

    for p in read_event_packets(path, [topic]):
        yield OutPacket(p.log_time_ns, p.encoding, p.width, p.height, p.time_base,
                        p.events.tobytes())


def file_packets(path: Path, packing: Packetizing,
                 fallback_size: tuple[int, int] = (1280, 720)) -> Iterator[OutPacket]:
    """Events of a file re-encoded into packets, paced by sensor time."""
    from neuro_nodes.events.files import open_events

    reader = open_events(path, fallback_size)
    encoder = make_encoder(packing.encoding, reader.info.width, reader.info.height)
    for chunk in reader.chunks():
        yield from _encode(chunk, encoder, packing)


def sim_packets(scene: TextureSceneParams, emulator: EmulatorParams, packing: Packetizing,
                fps: float) -> Iterator[OutPacket]:
    """Endless emulated stream of a moving texture, rendered at ``fps`` (sensor time)."""
    world = TextureScene(scene)
    emu = EventEmulator(scene.width, scene.height, emulator)
    encoder = make_encoder(packing.encoding, scene.width, scene.height)
    step_ns = round(1e9 / fps)
    t_ns = 0
    while True:
        events = emu.feed(world.frame(t_ns * 1e-9), t_ns)
        if len(events):
            yield from _encode(events, encoder, packing)
        t_ns += step_ns


def _encode(events, encoder, packing: Packetizing) -> Iterator[OutPacket]:
    for p in to_packets(events, encoder, max_events=packing.max_events(),
                        max_dt_ns=round(packing.event_message_time_threshold * 1e9)):
        yield OutPacket(p.t_last_ns, p.encoding, p.width, p.height, p.time_base, p.events)


def hardware_packets(vendor: str, serial: str, packing: Packetizing) -> Iterator[OutPacket]:
    """Live camera batches encoded into packets (raises CameraUnavailable when missing)."""
    from neuro_nodes.events.hardware import BACKENDS

    encoder = None
    for batch in BACKENDS[vendor](serial):
        if encoder is None:
            encoder = make_encoder(packing.encoding, batch.width, batch.height)
        yield from _encode(batch, encoder, packing)
