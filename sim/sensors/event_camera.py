"""Simulated event camera: rendered RGB frames -> DVS emulator -> ``EventPacket`` payloads.

Frames come from a :class:`sim.sensors.camera.CameraSensor`, stamped with simulation time
(ns); :class:`neuro_nodes.events.emulator.EventEmulator` turns consecutive frames into
events (times interpolated between frames) and
:func:`neuro_nodes.events.packetize.to_packets` cuts them into payloads with one stream
encoder (EVT 3.0 by default), so the stream decodes like a real camera's. Use
:meth:`SimEventCamera.suggest_dt` for ESIM-style adaptive frame timing.

=================== ========= ============================================================
parameter           default   meaning
=================== ========= ============================================================
camera              camera    MuJoCo camera name
width, height       346, 260  sensor size (DAVIS346)
preset              clean     emulator preset (:data:`neuro_nodes.events.emulator.PRESETS`)
encoding            evt3      payload encoding
max_events          100000    events per packet at most
max_packet_dt_ns    1000000   time span of a packet at most (ns)
seed                0         emulator seed (mismatch, noise)
=================== ========= ============================================================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import mujoco
import numpy as np

from neuro_nodes.core.params import param, validated
from neuro_nodes.events.codecs import make_encoder
from neuro_nodes.events.emulator import PRESETS, EmulatorParams, EventEmulator
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.packetize import PacketPayload, to_packets
from sim.sensors.camera import CameraSensor


@dataclass(frozen=True)
class EventCameraParams:
    """Simulated event camera (table in the module docstring)."""

    camera: str = param("camera", "MuJoCo camera name")
    width: int = param(346, "Sensor width (px)", min=8, max=4096)
    height: int = param(260, "Sensor height (px)", min=8, max=4096)
    preset: str = param("clean", "Emulator preset", choices=tuple(PRESETS))
    encoding: str = param("evt3", "Payload encoding", choices=("evt3", "evt2"))
    max_events: int = param(100_000, "Events per packet at most", min=1, max=10_000_000)
    max_packet_dt_ns: int = param(1_000_000, "Time span of a packet at most (ns)", min=1,
                                  max=10**10)
    seed: int = param(0, "Emulator seed", min=0, max=2**32 - 1)


class SimEventCamera:
    """Renders, emulates and packetizes; ``emulator`` overrides the preset's parameters."""

    def __init__(self, model: mujoco.MjModel, params: EventCameraParams | None = None,
                 emulator: EmulatorParams | None = None) -> None:
        self.params = p = validated(params or EventCameraParams())
        emu = emulator or dataclasses.replace(PRESETS[p.preset], seed=p.seed)
        self.emulator = EventEmulator(p.width, p.height, emu)
        self.encoder = make_encoder(p.encoding, p.width, p.height)
        self._model = model
        self._sensor: CameraSensor | None = None
        self.last_events = EventArray.empty(p.width, p.height)
        self.last_frame: np.ndarray | None = None

    @property
    def sensor(self) -> CameraSensor:
        """Its own renderer, made on first use: a caller that feeds frames it rendered
        itself (the sim runner shares one render with the RGB camera) needs none."""
        if self._sensor is None:
            p = self.params
            self._sensor = CameraSensor(self._model, p.camera, p.width, p.height)
        return self._sensor

    def feed(self, rgb: np.ndarray, t_ns: int) -> list[PacketPayload]:
        """Events since the previous frame, as payloads (none for the first frame)."""
        return self.packetize(self.emulate(rgb, t_ns))

    def emulate(self, rgb: np.ndarray, t_ns: int) -> EventArray:
        """The events since the previous frame (:meth:`feed` without the encoding, so that
        a pipeline can encode one frame while it emulates the next; frames in order)."""
        self.last_frame = rgb
        self.last_events = self.emulator.feed(rgb, t_ns)
        return self.last_events

    def packetize(self, events: EventArray) -> list[PacketPayload]:
        """Payloads of one frame's events, from the one stream encoder (frames in order)."""
        if len(events) == 0:
            return []
        return to_packets(events, self.encoder, max_events=self.params.max_events,
                          max_dt_ns=self.params.max_packet_dt_ns)

    def capture(self, data: mujoco.MjData) -> list[PacketPayload]:
        """Render the camera at the current state and feed it, stamped ``data.time``."""
        return self.feed(self.sensor.rgb(data), round(data.time * 1e9))

    def suggest_dt(self) -> float:
        """Next frame interval (s) for adaptive sampling (ESIM)."""
        return self.emulator.suggest_dt()

    def reset(self) -> None:
        p = self.params
        self.emulator.reset()
        self.encoder = make_encoder(p.encoding, p.width, p.height)
        self.last_events = EventArray.empty(p.width, p.height)

    def close(self) -> None:
        if self._sensor is not None:
            self._sensor.close()


__all__ = ["EventCameraParams", "SimEventCamera"]
