"""Where an event camera's packets come from: a bag, an event file, or the emulator.

Each source yields :class:`OutPacket` in stream order; ``t_ns`` is the sensor time
of the packet's last event, which paces replay. Event files with an IMU (AEDAT4) also yield
:class:`OutImu` batches, in time order with the packets. The ROS node only publishes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from neuro_nodes.events.codecs.base import make_encoder
from neuro_nodes.events.emulator import EmulatorParams, EventEmulator
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.imu import ImuArray
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
class OutImu:
    t_ns: int          # pacing time: sensor time of the last sample
    samples: ImuArray  # REP-145 units (rad/s, m/s^2)


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


def file_packets(path: Path, packing: Packetizing, size: tuple[int, int] | None = None,
                 warn: Callable[[str], None] | None = None) -> Iterator[OutPacket | OutImu]:
    """Events (and triggers) of a file re-encoded into packets, with its IMU samples, in
    time order, paced by sensor time. ``size``: the user's sensor size (see
    :mod:`neuro_nodes.events.geometry`); when events need a larger one, packets continue at
    that size (a new stream) and ``warn`` is told why."""
    from neuro_nodes.events.files import open_events
    from neuro_nodes.events.trigger_array import TriggerArray

    reader = open_events(path, size)
    encoder, enc_size = None, None
    seen = {"triggers": 0, "imu": 0, "warnings": 0}
    held_imu, held_triggers = ImuArray.empty(), TriggerArray.empty()
    pending: list[OutPacket] = []
    last_ns = -1
    for events in reader.chunks():
        for text in reader.warnings[seen["warnings"]:]:
            if warn is not None:
                warn(text)
        seen["warnings"] = len(reader.warnings)
        triggers = TriggerArray.concatenate([held_triggers, *reader.triggers[seen["triggers"]:]])
        held_triggers = TriggerArray.empty()
        held_imu = ImuArray.concatenate([held_imu, *reader.imu[seen["imu"]:]])
        seen["triggers"], seen["imu"] = len(reader.triggers), len(reader.imu)
        if len(events) and (events.width, events.height) != enc_size:
            enc_size = (events.width, events.height)
            encoder = make_encoder(packing.encoding, *enc_size)
        if encoder is None:  # nothing to size packets by yet: keep the triggers for later
            held_triggers = triggers
            continue
        if len(triggers) and int(triggers.t.min()) < last_ns:
            # a trigger track running behind the events: never send time backwards
            triggers = TriggerArray.unchecked(np.maximum(triggers.t, last_ns), triggers.id,
                                              triggers.value)
        if (events.width, events.height) != enc_size:
            events = EventArray.unchecked(events.t, events.x, events.y, events.p, *enc_size)
        # the previous chunk's packets go out now, with the IMU samples read since (an IMU
        # track may run a little behind the events), all in time order
        for packet in pending:
            due = int(np.searchsorted(held_imu.t, packet.t_ns, side="right"))
            if due:
                yield OutImu(int(held_imu.t[due - 1]), held_imu[:due])
                held_imu = held_imu[due:]
            yield packet
        pending = list(_encode(events, encoder, packing, triggers))
        if pending:
            last_ns = max(last_ns, pending[-1].t_ns)
    late = TriggerArray.concatenate([held_triggers, *reader.triggers[seen["triggers"]:]])
    if len(late) and encoder is not None:  # triggers after the last events
        late = TriggerArray.unchecked(np.maximum(late.t, last_ns), late.id, late.value)
        pending += _encode(EventArray.empty(*enc_size), encoder, packing, late)
    held_imu = ImuArray.concatenate([held_imu, *reader.imu[seen["imu"]:]])
    for packet in pending:
        due = int(np.searchsorted(held_imu.t, packet.t_ns, side="right"))
        if due:
            yield OutImu(int(held_imu.t[due - 1]), held_imu[:due])
            held_imu = held_imu[due:]
        yield packet
    if len(held_imu):
        yield OutImu(int(held_imu.t[-1]), held_imu)
    for text in reader.warnings[seen["warnings"]:]:
        if warn is not None:
            warn(text)


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


def _encode(events, encoder, packing: Packetizing, triggers=None) -> Iterator[OutPacket]:
    for p in to_packets(events, encoder, max_events=packing.max_events(),
                        max_dt_ns=round(packing.event_message_time_threshold * 1e9),
                        triggers=triggers):
        yield OutPacket(p.t_last_ns, p.encoding, p.width, p.height, p.time_base, p.events)


def hardware_packets(vendor: str, serial: str, packing: Packetizing) -> Iterator[OutPacket]:
    """Live camera batches encoded into packets (raises CameraUnavailable when missing)."""
    from neuro_nodes.events.hardware import BACKENDS

    encoder = None
    for batch in BACKENDS[vendor](serial):
        if encoder is None:
            encoder = make_encoder(packing.encoding, batch.width, batch.height)
        yield from _encode(batch, encoder, packing)
