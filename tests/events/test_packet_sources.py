"""Packet sources of the event_camera node, without ROS."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from scipy import ndimage

from neuro_nodes.events import packet_sources as sources
from neuro_nodes.events.codecs import make_decoder
from neuro_nodes.events.emulator import PRESETS
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files import write_events
from neuro_nodes.events.texture_scene import TextureScene, TextureSceneParams


def decode_all(packets: list[sources.OutPacket]) -> EventArray:
    decoder = make_decoder(packets[0].encoding, packets[0].width, packets[0].height)
    return EventArray.concatenate([decoder.decode(p.payload, p.time_base).events
                                   for p in packets])


def test_bag_packets_forward_payloads_unchanged(shared_data: Path, read_packets) -> None:
    folder = "event_camera_codecs_libcaer_rollover"
    out = list(sources.bag_packets(shared_data / folder, "/event_camera/events"))
    recorded = read_packets(folder)
    assert [p.payload for p in out] == [r[4] for r in recorded]
    assert all(p.encoding == "libcaer" for p in out)
    assert all(a.t_ns <= b.t_ns for a, b in itertools.pairwise(out))


def test_file_packets_respect_thresholds_and_keep_every_event(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 50_000
    events = EventArray(t=np.sort(rng.integers(0, 200_000_000, n)),
                        x=rng.integers(0, 346, n).astype(np.uint16),
                        y=rng.integers(0, 260, n).astype(np.uint16),
                        p=rng.integers(0, 2, n).astype(np.uint8), width=346, height=260)
    events = EventArray.unchecked(t=events.t // 1000 * 1000, x=events.x, y=events.y, p=events.p,
                                  width=346, height=260)
    write_events(tmp_path / "e.h5", [events], 346, 260)
    packing = sources.Packetizing("evt3", event_message_time_threshold=2e-3,
                                  event_message_size_threshold=2000)
    packets = list(sources.file_packets(tmp_path / "e.h5", packing))
    back = decode_all(packets)
    assert len(back) == n and np.array_equal(np.sort(back.t), events.t)
    per_packet = [decode_all([p]) for p in packets[:50]]
    assert all(len(e) <= 1000 for e in per_packet)
    assert all(e.t[-1] - e.t[0] < 2_000_000 for e in per_packet if len(e))


def test_sim_packets_are_decodable_evt3_in_sensor_time() -> None:
    scene = TextureSceneParams(width=128, height=96, velocity_x=300.0, velocity_y=0.0)
    stream = sources.sim_packets(scene, PRESETS["ideal"], sources.Packetizing(), fps=2000.0)
    packets = list(itertools.islice(stream, 40))
    assert {p.encoding for p in packets} == {"evt3"}
    events = decode_all(packets)
    assert len(events) > 1000 and events.width == 128
    assert np.all(np.diff(events.t) >= 0)
    assert events.t[-1] < 1_000_000_000  # sensor time starts at 0 and runs at sim rate


def test_texture_scene_flow_warps_one_frame_onto_the_next() -> None:
    scene = TextureScene(TextureSceneParams(velocity_x=150.0, velocity_y=-60.0,
                                            angular_velocity=0.8))
    dt = 0.005
    a, b, flow = scene.frame(0.1), scene.frame(0.1 + dt), scene.flow(0.1)
    ys, xs = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    warped = ndimage.map_coordinates(b, [ys + flow[1] * dt, xs + flow[0] * dt], order=1)
    inner = (slice(20, -20), slice(20, -20))
    error, unwarped = np.abs(warped - a)[inner].mean(), np.abs(b - a)[inner].mean()
    assert error < 0.25 * unwarped, (error, unwarped)


def test_aedat4_file_packets_carry_triggers_and_imu_in_time_order(tmp_path: Path) -> None:
    from aedat4_helpers import N_EVENTS, N_IMU, write_dv_aedat4

    from neuro_nodes.events.trigger_array import TriggerArray

    truth = write_dv_aedat4(tmp_path / "d.aedat4")
    out = list(sources.file_packets(tmp_path / "d.aedat4", sources.Packetizing()))
    times = [o.t_ns for o in out]
    assert times == sorted(times)
    packets = [o for o in out if isinstance(o, sources.OutPacket)]
    imu = [o.samples for o in out if isinstance(o, sources.OutImu)]
    assert sum(len(s) for s in imu) == N_IMU
    decoder = make_decoder("evt3", 346, 260)
    results = [decoder.decode(p.payload) for p in packets]
    assert sum(len(r.events) for r in results) == N_EVENTS
    triggers = TriggerArray.concatenate([r.triggers for r in results])
    first = EventArray.concatenate([r.events for r in results]).t.min()  # EVT3: 24-bit clock
    offsets_us = (triggers.t - first) // 1000
    assert np.array_equal(offsets_us, truth["trig_t"] - truth["t"].min())
    assert np.array_equal(triggers.value, truth["trig_value"])
