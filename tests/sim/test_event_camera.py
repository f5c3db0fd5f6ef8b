"""The simulated event camera emits EVT 3.0 packets that the project's decoder reads."""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs import make_decoder
from sim.scenes.camera_rig import CameraRigParams, camera_rig_scene
from sim.sensors.event_camera import EventCameraParams, SimEventCamera
from sim.world import SimWorld


def test_event_camera_packets_decode() -> None:
    world = SimWorld(camera_rig_scene(CameraRigParams(motion="pure_rotation")))
    cam = SimEventCamera(world.model, EventCameraParams(width=173, height=130, preset="ideal"))
    decoder = make_decoder("evt3", 173, 130)
    decoded, emitted, packets = [], 0, []
    t_frame = 1 / 500
    try:
        assert cam.capture(world.data) == []  # the first frame only sets the reference
        for _ in range(20):
            world.step_until(world.time + t_frame)
            new = cam.capture(world.data)
            emitted += len(cam.last_events)
            packets += new
            for pkt in new:
                decoded.append(decoder.decode(pkt.events, pkt.time_base).events)
    finally:
        cam.close()
    assert emitted > 1000
    assert all(p.encoding == "evt3" and (p.width, p.height) == (173, 130) for p in packets)
    t = np.concatenate([e.t for e in decoded])
    assert len(t) == emitted == sum(p.n_events for p in packets)
    assert np.all(np.diff(t) >= 0)
    # stamped with simulation time (us resolution of EVT 3.0)
    assert t[0] > 0 and t[-1] <= world.time_ns
    assert t[-1] > world.time_ns - 2 * t_frame * 1e9
    pol = np.concatenate([e.p for e in decoded])
    assert 0 < pol.mean() < 1


def test_event_camera_suggests_faster_sampling_under_motion() -> None:
    world = SimWorld(camera_rig_scene(CameraRigParams(motion="pure_rotation",
                                                      angular_speed=2.0)))
    cam = SimEventCamera(world.model, EventCameraParams(width=96, height=72))
    try:
        for _ in range(3):
            cam.capture(world.data)
            world.step_until(world.time + 0.01)
        assert cam.suggest_dt() < cam.emulator.params.sampling_dt_max_s
    finally:
        cam.close()
