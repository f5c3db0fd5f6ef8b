"""egomotion and optical_flow nodes, their window cutting, and the sim's true camera twist."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception.windows import WindowCutter, fixed_count_windows
from neuro_nodes.ros.event_window import (
    EventWindowParams,
    camera_from_info,
    estimator_factory,
    fallback_camera,
)

BIN = Path(sys.executable).parent


def stream(n: int, seed: int = 0, width: int = 64, height: int = 48) -> EventArray:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.integers(1, 2000, n))  # ns
    return EventArray(t=t, x=rng.integers(0, width, n), y=rng.integers(0, height, n),
                      p=rng.integers(0, 2, n), width=width, height=height)


# -- pure: window cutting, intrinsics, the method registry ---------------------------------
def test_count_windows_from_any_chunking_are_the_fixed_count_windows() -> None:
    from neuro_nodes.perception.types import PinholeCamera

    events = stream(10_000)
    cam = PinholeCamera.from_fovy(64, 48, 60.0)
    expected = list(fixed_count_windows(events, cam, 1234))
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.integers(0, len(events), 40))
    cutter = WindowCutter(1234)
    got = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(events)], strict=True):
        got += cutter.push(events[a:b])
    assert len(got) == len(expected) == 10_000 // 1234
    for (ev, t0, t1), w in zip(got, expected, strict=True):
        assert ev.equals(w.events) and (t0, t1) == (w.t0_s, w.t1_s)


def test_time_slices_cover_the_stream_on_a_grid_and_skip_gaps() -> None:
    ev = stream(5000)
    gap = EventArray(t=ev.t[-1] + 5_000_000 + np.arange(3000) * 1000, x=np.zeros(3000, int),
                     y=np.zeros(3000, int), p=np.ones(3000, int), width=64, height=48)
    cutter = WindowCutter(1, window_s=0.001)
    slices = cutter.push(ev[:2000]) + cutter.push(ev[2000:]) + cutter.push(gap)
    starts = np.array([t0 for _, t0, _ in slices])
    assert all(abs((t1 - t0) - 0.001) < 1e-12 for _, t0, t1 in slices)
    k = np.round(starts / 0.001)  # on the grid of multiples of window_s
    np.testing.assert_allclose(starts, k * 0.001, atol=1e-12)
    assert k[0] == ev.t[0] // 1_000_000  # the first slice holds the first event
    for events, t0, t1 in slices:
        assert len(events) and t0 <= events.t[0] * 1e-9 and events.t[-1] * 1e-9 < t1
    # every event before the last complete slice's end is in exactly one slice
    n = sum(len(e) for e, _, _ in slices)
    assert n == int(np.sum(np.r_[ev.t, gap.t] * 1e-9 < slices[-1][2]))
    assert np.diff(k).max() >= 5  # the 5 ms pause gives no (empty) slices


def test_camera_info_without_k_falls_back_to_fovy_or_focal_parameters() -> None:
    from sensor_msgs.msg import CameraInfo

    assert camera_from_info(CameraInfo(width=346, height=260)) is None
    info = CameraInfo(width=346, height=260, k=[200.0, 0, 170, 0, 201.0, 130, 0, 0, 1])
    cam = camera_from_info(info)
    assert (cam.fx, cam.fy, cam.cx, cam.cy, cam.width) == (200.0, 201.0, 170.0, 130.0, 346)
    f = fallback_camera(EventWindowParams(fovy=90.0), 346, 260)
    assert f.fy == pytest.approx(130.0) and f.cx == 172.5
    f = fallback_camera(EventWindowParams(fx=300.0), 346, 260)
    assert (f.fx, f.fy, f.cx, f.cy) == (300.0, 300.0, 172.5, 129.5)


def test_imu_rotation_must_be_a_rotation() -> None:
    from neuro_nodes.core.params import validated

    with pytest.raises(ValueError, match="imu_rotation"):
        validated(EventWindowParams(imu_rotation=(1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0)))


def test_an_unregistered_method_is_refused_naming_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"method 'no_such_method'.*registered"):
        estimator_factory("no_such_method")


# -- the simulation's true camera twist ---------------------------------------------------
def test_camera_twist_of_the_rig_is_its_trajectory_in_optical_axes() -> None:
    from sim.frames import LINK_TO_OPTICAL, frame_in
    from sim.ground_truth.poses import camera_twist, odometry
    from sim.ros.bridge import OPTICAL
    from sim.runner import scene_rig
    from sim.scenes.camera_rig import CameraRigParams, camera_rig_scene, camera_rig_trajectory
    from sim.spatial import quat_to_mat
    from sim.world import SimWorld

    params = CameraRigParams(backdrop="wall", motion="mixed", linear_speed=0.7,
                             angular_speed=0.9)
    world = SimWorld(camera_rig_scene(params))
    rig = scene_rig("camera_rig", params)
    mount = frame_in(rig.static, rig.base_frame, OPTICAL)
    traj = camera_rig_trajectory(params)
    r_lo = LINK_TO_OPTICAL.rotation
    for t in (0.1, 0.37, 1.3):
        world.step_until(t)
        tw = camera_twist(odometry(world, rig.base_body), mount)
        lin, ang = traj.twist(world.time)
        r_wo = quat_to_mat(traj.pose(world.time)[1]) @ r_lo  # optical axes in the world
        np.testing.assert_allclose(tw.angular, r_wo.T @ ang, atol=1e-9)
        np.testing.assert_allclose(tw.linear, r_wo.T @ lin, atol=1e-9)
        assert np.linalg.norm(ang) > 0.1 and np.linalg.norm(lin) > 0.1


def test_camera_twist_of_the_robot_is_mujocos_camera_velocity() -> None:
    from sim.frames import frame_in
    from sim.ground_truth.poses import camera_state, camera_twist, odometry
    from sim.ros.bridge import OPTICAL
    from sim.runner import scene_rig
    from sim.scenes import make_scene
    from sim.scenes.mobile_robot import cmd_vel_to_ctrl
    from sim.world import SimWorld

    spec = make_scene("mobile_robot")
    world = SimWorld(spec)
    rig = scene_rig("mobile_robot", spec.params)
    mount = frame_in(rig.static, rig.base_frame, OPTICAL)
    world.set_ctrl(cmd_vel_to_ctrl(0.4, 0.8, spec.params))
    world.step_until(1.5)
    tw = camera_twist(odometry(world, rig.base_body), mount)
    truth = camera_state(world, "camera").twist_optical
    np.testing.assert_allclose(tw.angular, truth.angular, atol=1e-9)
    np.testing.assert_allclose(tw.linear, truth.linear, atol=1e-9)
    assert abs(tw.angular[1]) > 0.3  # turning about world z = about optical -y


# -- the nodes over DDS ------------------------------------------------------------------
WINDOW = 10_000


def packets_of(events: EventArray, per_packet: int = 2000):
    """evt3 payloads of consecutive slices, each with the sensor time of its last event."""
    from neuro_nodes.events.codecs import make_encoder

    enc = make_encoder("evt3", events.width, events.height)
    out = []
    for i in range(0, len(events), per_packet):
        chunk = events[i:i + per_packet]
        out.append((enc.encode(chunk), int(chunk.t[-1]) // 1000 * 1000))
    return out


@pytest.fixture
def rotation_packets(tmp_path):
    """A simulated rotating camera (events, intrinsics) as evt3 packets: 2 windows."""
    from sim.datasets.event_motion import SequenceSpec, make_sequence

    seq = make_sequence(SequenceSpec(motion="rotation", duration_s=0.3, width=128, height=96),
                        cache_dir=tmp_path)
    events = seq.events[:2 * WINDOW + 500]
    return packets_of(events), seq.camera


def offline_estimates(packets, camera, method: str = "cmax"):
    """What the nodes must publish: the same decoder, windows and estimator, without ROS."""
    from neuro_nodes.events.codecs import make_decoder

    dec = make_decoder("evt3", camera.width, camera.height)
    events = dec.decode_many([p for p, _ in packets]).events
    est = estimator_factory(method)(camera)
    return [est.process(w) for w in fixed_count_windows(events, camera, WINDOW)]


def start(script: str, *params: str) -> subprocess.Popen:
    args = [str(BIN / script), "--ros-args"]
    for p in params:
        args += ["-p", p]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    alive = proc.poll() is None
    proc.terminate()
    out = proc.communicate(timeout=30)[0]
    assert alive, out
    assert proc.returncode == 0 and "Traceback" not in out, out
    return out


@pytest.fixture
def probe():
    import rclpy

    rclpy.init()
    node = rclpy.create_node("egomotion_probe")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


def publish_stream(node, packets, camera, *, bad=()) -> None:
    """camera_info (latched, K) then the packets stamped with their last event's sensor
    time; ``bad`` packets are interleaved."""
    from event_camera_msgs.msg import EventPacket
    from ros_helpers import spin_until
    from sensor_msgs.msg import CameraInfo

    from neuro_nodes.ros.qos import EVENTS_PUB_QOS, LATCHED_QOS

    info_pub = node.create_publisher(CameraInfo, "/camera_info", LATCHED_QOS)
    info = CameraInfo(width=camera.width, height=camera.height,
                      k=[camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0])
    info_pub.publish(info)
    pub = node.create_publisher(EventPacket, "/events", EVENTS_PUB_QOS)
    assert spin_until(node, lambda: pub.get_subscription_count() >= getattr(
        node, "expected_subscribers", 1) and info_pub.get_subscription_count() >= 1, 30.0)
    time.sleep(0.5)  # the latched camera_info reaches the late joiner first
    for i, (payload, t_ns) in enumerate(packets):
        if bad:
            pub.publish(bad[i % len(bad)])
        msg = EventPacket(encoding="evt3", width=camera.width, height=camera.height, seq=i,
                          events=payload)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)
        msg.header.frame_id = "camera_optical_frame"
        pub.publish(msg)
        if i % 5 == 4:
            time.sleep(0.005)  # paced: a best-effort subscriber keeps every packet


def test_nodes_publish_what_the_estimator_gives_on_the_same_windows(probe,
                                                                    rotation_packets) -> None:
    from geometry_msgs.msg import TwistStamped
    from nav_msgs.msg import Odometry
    from ros_helpers import spin_until
    from sensor_msgs.msg import Image

    from neuro_nodes.perception.flow_viz import flow_to_rgb
    from neuro_nodes.perception.odometry import TwistIntegrator
    from neuro_nodes.ros.qos import RELIABLE_QOS, SENSOR_QOS

    packets, camera = rotation_packets
    common = (f"window_events:={WINDOW}", "method:=cmax", "use_imu:=false")
    procs = [start("neuro-egomotion", *common, "angular_variance:=0.04"),
             start("neuro-optical-flow", *common, "viz_max_flow:=50.0")]
    got: dict[str, list] = {"twist": [], "odom": [], "flow": [], "viz": []}
    probe.create_subscription(TwistStamped, "/egomotion", got["twist"].append, RELIABLE_QOS)
    probe.create_subscription(Odometry, "/odom", got["odom"].append, RELIABLE_QOS)
    probe.create_subscription(Image, "/flow", got["flow"].append, SENSOR_QOS)
    probe.create_subscription(Image, "/flow/viz", got["viz"].append, SENSOR_QOS)
    probe.expected_subscribers = 2
    try:
        publish_stream(probe, packets, camera)
        expected = offline_estimates(packets, camera)
        assert len(expected) == 2
        done = spin_until(probe, lambda: all(len(v) >= 2 for v in got.values()), 120.0)
    finally:
        outs = [stop(p) for p in procs]
    assert done, ({k: len(v) for k, v in got.items()}, outs)
    odo = TwistIntegrator()
    for k, est in enumerate(expected):
        tw, od, fl, viz = got["twist"][k], got["odom"][k], got["flow"][k], got["viz"][k]
        stamp = tw.header.stamp.sec * 10**9 + tw.header.stamp.nanosec
        assert stamp == round(est.t_ref_s * 1e9)  # the window's t_ref on the packets' clock
        assert tw.header.frame_id == "camera_optical_frame"
        w = np.array([tw.twist.angular.x, tw.twist.angular.y, tw.twist.angular.z])
        np.testing.assert_allclose(w, est.omega, atol=1e-9)
        assert (tw.twist.linear.x, tw.twist.linear.y, tw.twist.linear.z) == (0.0, 0.0, 0.0)
        # odometry: the camera_odom frame, covariances filled, the integrated orientation
        assert (od.header.frame_id, od.child_frame_id) == ("camera_odom",
                                                           "camera_optical_frame")
        cov = np.array(od.twist.covariance).reshape(6, 6)
        np.testing.assert_allclose(np.diag(cov), [1e4] * 3 + [0.04] * 3)
        q = 1e4 * np.eye(6)
        q[3:, 3:] = 0.04 * np.eye(3)
        odo.advance(est.t_ref_s, est.omega, np.zeros(3), q)
        o = od.pose.pose.orientation
        np.testing.assert_allclose([o.x, o.y, o.z, o.w], odo.quaternion_xyzw, atol=1e-9)
        np.testing.assert_allclose(np.array(od.pose.covariance).reshape(6, 6), odo.covariance,
                                   rtol=1e-9, atol=1e-15)
        # flow: 32FC2 px/s as the estimator gave it (NaN where it has none), its colour wheel
        assert (fl.encoding, fl.width, fl.height, fl.step) == ("32FC2", 128, 96, 8 * 128)
        flow = np.frombuffer(bytes(fl.data), "<f4").reshape(96, 128, 2).transpose(2, 0, 1)
        np.testing.assert_array_equal(flow, est.flow.astype(np.float32))
        assert fl.header.stamp == tw.header.stamp and fl.header.frame_id == "camera_optical_frame"
        assert (viz.encoding, viz.step) == ("rgb8", 3 * 128)
        rgb = np.frombuffer(bytes(viz.data), np.uint8).reshape(96, 128, 3)
        np.testing.assert_array_equal(rgb, flow_to_rgb(est.flow.astype(np.float32), 50.0))


def test_bad_packets_are_counted_and_estimation_goes_on(probe, rotation_packets) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from event_camera_msgs.msg import EventPacket
    from geometry_msgs.msg import TwistStamped
    from ros_helpers import spin_until

    from neuro_nodes.ros.qos import RELIABLE_QOS

    packets, camera = rotation_packets
    proc = start("neuro-egomotion", f"window_events:={WINDOW}", "method:=cmax")
    twists: list[TwistStamped] = []
    diags: list[dict[str, str]] = []
    probe.create_subscription(TwistStamped, "/egomotion", twists.append, RELIABLE_QOS)
    arrivals: list[float] = []

    def on_diag(m: DiagnosticArray) -> None:
        mine = [{kv.key: kv.value for kv in s.values} for s in m.status
                if s.hardware_id.endswith("egomotion")]
        diags.extend(mine)
        arrivals.extend(time.monotonic() for _ in mine)

    probe.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    rng = np.random.default_rng(0)
    bad = [EventPacket(encoding="nonsense", width=128, height=96, events=b"\x01\x02"),
           EventPacket(encoding="evt3", width=0, height=0, events=b"\x00" * 8),
           EventPacket(encoding="evt3", width=65536, height=65536, events=b"\x00" * 8),
           EventPacket(encoding="libcaer", width=128, height=96,
                       events=rng.integers(0, 256, 999, dtype=np.uint8).tobytes())]
    try:
        publish_stream(probe, packets, camera, bad=bad)  # one bad packet before each good
        publish_stream(probe, packets, camera)  # then the stream again, clean
        estimating = time.monotonic()
        assert spin_until(probe, lambda: len(twists) >= 2 and diags and int(
            diags[-1].get("windows", 0)) >= 2, 120.0), (len(twists), diags[-1:])
    finally:
        out = stop(proc)
    # /diagnostics kept its 1 Hz while windows were estimated (the estimator has a thread)
    during = np.array([a for a in arrivals if a >= estimating])
    assert len(during) >= 2 and np.diff(np.r_[estimating, during]).max() < 3.0, np.diff(
        np.r_[estimating, during])
    last = diags[-1]
    n = len(packets)  # bad ones: kinds 0, 1, 2, 3, 0, 1, ...
    assert int(last["packets"]) == 3 * n, last
    assert int(last.get("error:undecodable_packet", 0)) == len(range(0, n, 4)) + len(
        range(1, n, 4)), (last, out)
    assert int(last.get("error:frame_too_large", 0)) == len(range(2, n, 4)), last
    assert int(last.get("error:corrupt_events", 0)) >= 1, last
    assert "latency_p50_ms" in last and "windows_hz" in last, last
    assert all(np.isfinite(t.twist.angular.x) for t in twists)


def test_bridge_publishes_the_true_camera_twist_of_the_rig(probe) -> None:
    from geometry_msgs.msg import TwistStamped
    from ros_helpers import spin_until
    from sensor_msgs.msg import CameraInfo

    from neuro_nodes.ros.qos import LATCHED_QOS, RELIABLE_QOS
    from sim.frames import LINK_TO_OPTICAL
    from sim.scenes.camera_rig import CameraRigParams, camera_rig_trajectory
    from sim.spatial import quat_to_mat

    proc = start("neuro-sim-bridge", "scene:=camera_rig", "width:=64", "height:=48",
                 "events:=0.0", "camera:=5.0", "depth:=0.0", "ground_truth:=0.0",
                 "scene_params:='{backdrop: wall}'")
    twists: list[TwistStamped] = []
    infos: list[CameraInfo] = []
    probe.create_subscription(TwistStamped, "/ground_truth/camera_twist", twists.append,
                              RELIABLE_QOS)
    # the estimator nodes' latched subscription matches the bridge's camera info
    probe.create_subscription(CameraInfo, "/camera/camera_info", infos.append, LATCHED_QOS)
    try:
        assert spin_until(probe, lambda: len(twists) >= 20 and infos, 60.0), (len(twists),
                                                                             len(infos))
    finally:
        stop(proc)
    assert camera_from_info(infos[-1]).width == 64
    traj = camera_rig_trajectory(CameraRigParams(backdrop="wall"))
    for tw in twists[-20:]:
        assert tw.header.frame_id == "camera_optical_frame"
        t = tw.header.stamp.sec + tw.header.stamp.nanosec * 1e-9
        lin, ang = traj.twist(t)
        r = quat_to_mat(traj.pose(t)[1]) @ LINK_TO_OPTICAL.rotation
        got_lin = [tw.twist.linear.x, tw.twist.linear.y, tw.twist.linear.z]
        got_ang = [tw.twist.angular.x, tw.twist.angular.y, tw.twist.angular.z]
        np.testing.assert_allclose(got_ang, r.T @ ang, atol=1e-9)
        np.testing.assert_allclose(got_lin, r.T @ lin, atol=1e-9)


def test_launch_file_runs_the_sim_rig_with_both_nodes(probe) -> None:
    """``neuro launch launch/egomotion.launch.yaml``: /egomotion and /flow arrive from the
    simulated camera rig, next to the rig's true twist."""
    from geometry_msgs.msg import TwistStamped
    from ros_helpers import spin_until
    from sensor_msgs.msg import Image

    from neuro_nodes.paths import REPO_ROOT
    from neuro_nodes.ros.qos import RELIABLE_QOS, SENSOR_QOS

    proc = subprocess.Popen(
        [str(BIN / "neuro"), "launch", str(REPO_ROOT / "launch" / "egomotion.launch.yaml"),
         "method:=cmax", "window_events:=5000", "width:=96", "height:=72", "--duration", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    got: dict[str, list] = {"ego": [], "flow": [], "truth": []}
    probe.create_subscription(TwistStamped, "/egomotion", got["ego"].append, RELIABLE_QOS)
    probe.create_subscription(Image, "/flow", got["flow"].append, SENSOR_QOS)
    probe.create_subscription(TwistStamped, "/ground_truth/camera_twist", got["truth"].append,
                              RELIABLE_QOS)
    try:
        ok = spin_until(probe, lambda: len(got["ego"]) >= 2 and len(got["flow"]) >= 2, 80.0)
    finally:
        proc.send_signal(2)  # Ctrl-C: the launch stops its nodes
        out = proc.communicate(timeout=30)[0]
    assert ok, ({k: len(v) for k, v in got.items()}, out[-3000:])
    assert got["truth"] and got["ego"][-1].header.frame_id == "camera_optical_frame"
    flow = got["flow"][-1]
    assert (flow.encoding, flow.width, flow.height) == ("32FC2", 96, 72)
    # stamps on the simulation's clock, like the ground truth's (estimates may lag behind)
    def t(msg) -> float:
        return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9

    t_ego, t_gt = [t(m) for m in got["ego"]], [t(m) for m in got["truth"]]
    assert 0.0 < t_ego[-1] < max(t_gt) + 0.1, (t_ego, max(t_gt))  # sim time starts at 0
    assert np.all(np.diff(t_ego) > 0), t_ego


def test_launch_file_replays_a_recording_with_both_nodes(probe, shared_data) -> None:
    """``recording:=BAG``: a real DAVIS346 bag through event_camera; no K in its camera_info,
    so the nodes assume the fovy intrinsics and say so on /diagnostics."""
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import TwistStamped
    from ros_helpers import spin_until
    from sensor_msgs.msg import Image

    from neuro_nodes.paths import REPO_ROOT
    from neuro_nodes.ros.qos import RELIABLE_QOS, SENSOR_QOS

    bag = shared_data / "event_camera_py_test_events_2"
    proc = subprocess.Popen(
        [str(BIN / "neuro"), "launch", str(REPO_ROOT / "launch" / "egomotion.launch.yaml"),
         f"recording:={bag}", "window_events:=100000", "--duration", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    got: dict[str, list] = {"ego": [], "viz": [], "warn": []}
    probe.create_subscription(TwistStamped, "/egomotion", got["ego"].append, RELIABLE_QOS)
    probe.create_subscription(Image, "/flow/viz", got["viz"].append, SENSOR_QOS)
    probe.create_subscription(DiagnosticArray, "/diagnostics", lambda m: got["warn"].extend(
        kv.value for s in m.status if s.hardware_id.endswith("egomotion") for kv in s.values
        if kv.key == "warn:intrinsics"), 10)
    try:
        ok = spin_until(probe, lambda: got["ego"] and got["viz"] and got["warn"], 80.0)
    finally:
        proc.send_signal(2)
        out = proc.communicate(timeout=30)[0]
    assert ok, ({k: len(v) for k, v in got.items()}, out[-3000:])
    assert (got["viz"][-1].encoding, got["viz"][-1].width) == ("rgb8", 346)
    assert "assumed from fovy 60" in got["warn"][-1], got["warn"][-1]


def test_imu_buffer_rotates_into_the_optical_frame_and_selects_the_window() -> None:
    from neuro_nodes.perception.windows import ImuBuffer

    r = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])  # a link -> optical
    buf = ImuBuffer(r, size=50)
    for k in range(100):
        buf.add(k * 0.001, np.array([1.0, 2.0, 3.0]) * k)
    buf.add(0.0405, np.zeros(3))  # out of order: ignored
    got = buf.between(0.0695, 0.0725)
    np.testing.assert_allclose(got.t_s, [0.070, 0.071, 0.072])
    np.testing.assert_allclose(got.gyro[0], r @ (np.array([1.0, 2.0, 3.0]) * 70))
    assert buf.between(0.0, 0.040) is None  # older than the 50 kept


@pytest.mark.parametrize(("script", "param", "expected"), [
    ("neuro-egomotion", "method:=webcam", "method: 'webcam' is not one of"),
    ("neuro-optical-flow", "imu_rotation:=[1.0,0.0,0.0,0.0,2.0,0.0,0.0,0.0,1.0]",
     "imu_rotation: expected a row-major 3x3 rotation"),
    ("neuro-egomotion", "window_events:=5", "window_events out of range"),
])
def test_bad_start_up_parameter_exits_1_with_one_line(script: str, param: str,
                                                      expected: str) -> None:
    proc = subprocess.run([str(BIN / script), "--ros-args", "-p", param], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_snn_flow_comes_every_10_ms_of_sensor_time(probe, rotation_packets) -> None:
    """method snn: 10 ms slices (100 Hz flow), each the shipped network's flow for it."""
    from ros_helpers import spin_until
    from sensor_msgs.msg import Image

    from neuro_nodes.events.codecs import make_decoder
    from neuro_nodes.perception.types import EventWindow
    from neuro_nodes.ros.qos import SENSOR_QOS

    packets, camera = rotation_packets
    events = make_decoder("evt3", camera.width, camera.height).decode_many(
        [p for p, _ in packets]).events
    est = estimator_factory("snn")(camera)
    expected = [est.process(EventWindow(ev, camera, t0, t1))
                for ev, t0, t1 in WindowCutter(1, 0.01).push(events)]
    assert len(expected) >= 10
    proc = start("neuro-optical-flow", "method:=snn", "max_backlog:=1000", "use_imu:=false")
    flows: list[Image] = []
    probe.create_subscription(Image, "/flow", flows.append, SENSOR_QOS)
    try:
        publish_stream(probe, packets, camera)
        spin_until(probe, lambda: len(flows) >= len(expected), 60.0)
    finally:
        stop(proc)
    assert len(flows) == len(expected)
    stamps = np.array([f.header.stamp.sec * 10**9 + f.header.stamp.nanosec for f in flows])
    np.testing.assert_array_equal(np.diff(stamps), 10_000_000)  # 100 Hz of sensor time
    for msg, e in zip(flows, expected, strict=True):
        assert msg.header.stamp.nanosec + msg.header.stamp.sec * 10**9 == round(e.t_ref_s * 1e9)
        flow = np.frombuffer(bytes(msg.data), "<f4").reshape(96, 128, 2).transpose(2, 0, 1)
        np.testing.assert_array_equal(flow, e.flow.astype(np.float32))
