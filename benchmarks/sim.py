"""``neuro bench sim``: physics steps/s per scene, render fps, and real-time factors.

- physics: ``mj_step`` per scene (controls at zero, mocap bodies on their trajectories);
- rendering: RGB, depth and segmentation of each scene's main camera at 346x260 and
  640x480 (``MUJOCO_GL``: EGL on Mesa llvmpipe renders on the CPU);
- real-time factor of ``mobile_robot`` driving a circle with the event camera at 346x260
  (emulator fed at 100 Hz, RGB 20 Hz, IMU 200 Hz, odometry/TF/joints 50 Hz, clock 100 Hz):
  ``rtf_mobile_robot_events`` runs the sim bridge node as fast as possible, publishing
  every message over DDS (what a user gets); ``rtf_mobile_robot_events_core`` is the same
  loop without ROS (the baseline, same run); ``rtf_mobile_robot_all_outputs`` adds the
  depth image + point cloud (10 Hz) and dense ground truth (flow, depth, labels, 5 Hz).

Wall-clock real-time factors depend on what else the machine runs; ``cpu_per_sim_s_*`` (CPU
seconds of the whole process, all threads, per simulated second) does not, and is what
to compare between code states. The bridge runs as a node does: its executor blocks in
``spin()`` on its own thread (no polling loop adding work of its own).
"""

from __future__ import annotations

import os
import platform
import threading
import time
from typing import Any

import sim  # noqa: F401  (chooses the GL backend before mujoco loads)
from benchmarks import suite_main
from sim.runner import SimRates, SimRunner
from sim.scenes import SCENES, make_scene
from sim.sensors.camera import CameraSensor
from sim.world import SimWorld

MAIN_CAMERA = {"room": None, "camera_rig": "camera", "mobile_robot": "camera",
               "swimmer": "tracking"}
SIZES = ((346, 260), (640, 480))


def physics_steps_per_s(world: SimWorld, seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        world.step(100)
        n += 100
    return n / (time.perf_counter() - t0)


def render_fps(world: SimWorld, camera: str, width: int, height: int,
               seconds: float) -> dict[str, float]:
    out = {}
    with CameraSensor(world.model, camera, width, height) as cam:
        for kind in ("rgb", "depth", "segmentation"):
            render = getattr(cam, kind)
            render(world.data)  # warm up
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                render(world.data)
                n += 1
            out[kind] = n / (time.perf_counter() - t0)
    return out


EVENTS_ONLY = {"depth": 0.0, "ground_truth": 0.0}


def rtf_core(sim_seconds: float) -> tuple[float, float]:
    """(real-time factor, CPU s per sim s) of the runner alone, its event payloads handed
    to a sink on the encoder thread as the bridge has them (the same pipeline)."""
    runner = SimRunner("mobile_robot", rates=SimRates(**EVENTS_ONLY))
    packets = [0]
    try:
        runner.set_cmd_vel(0.4, 0.6)  # move, so the event camera sees motion
        runner.set_event_sink(lambda out: packets.__setitem__(0, packets[0] + len(out.data)))
        runner.advance(200_000_000)  # warm-up (first renders, JIT caches)
        runner.flush()
        t0, c0, s0 = time.perf_counter(), time.process_time(), runner.time_ns
        runner.advance(s0 + round(sim_seconds * 1e9))
        runner.flush()
        sim_s = (runner.time_ns - s0) * 1e-9
        return sim_s / (time.perf_counter() - t0), (time.process_time() - c0) / sim_s
    finally:
        runner.close()


def rtf_bridge(sim_seconds: float, rates: dict[str, float]) -> tuple[float, int, float]:
    """(real-time factor, event packets published, CPU s per sim s) through the bridge."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from neuro_nodes.ros.dds import apply_loopback_defaults
    from sim.ros.bridge import SimBridgeNode

    apply_loopback_defaults()
    context = rclpy.Context()
    rclpy.init(context=context)
    node = SimBridgeNode(context=context, parameter_overrides=[
        Parameter("scene", value="mobile_robot"), Parameter("real_time_factor", value=0.0),
        Parameter("start_paused", value=True),
        *(Parameter(k, value=v) for k, v in rates.items())])
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True, name="executor")
    spinner.start()
    try:
        node.sim.call(lambda: node.runner.set_cmd_vel(0.4, 0.6))
        node.sim.paused.clear()
        while node.runner.time_ns < 200_000_000:
            time.sleep(0.005)
        t0, c0, s0 = time.perf_counter(), time.process_time(), node.runner.time_ns
        while node.runner.time_ns - s0 < sim_seconds * 1e9:
            time.sleep(0.005)
        sim_s = (node.runner.time_ns - s0) * 1e-9
        rtf = sim_s / (time.perf_counter() - t0)
        cpu = (time.process_time() - c0) / sim_s
        return rtf, int(node.health.counts["event_packets"]), cpu
    finally:
        executor.shutdown()
        spinner.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def run(quick: bool = False) -> dict[str, Any]:
    seconds = 0.2 if quick else 0.5
    results: dict[str, Any] = {"quick": quick, "machine": {
        "platform": platform.platform(), "cpu_count": os.cpu_count()}}
    scenes: dict[str, Any] = {}
    for name in SCENES:
        world = SimWorld(make_scene(name))
        entry: dict[str, Any] = {"steps_per_s": physics_steps_per_s(world, seconds),
                                 "timestep": world.timestep}
        camera = MAIN_CAMERA.get(name)
        if camera:
            entry["render_fps"] = {f"{w}x{h}": render_fps(world, camera, w, h, seconds)
                                   for w, h in SIZES}
        scenes[name] = entry
    results["scenes"] = scenes
    sim_seconds = 1.0 if quick else 4.0
    results["rtf_mobile_robot_events_core"], results["cpu_per_sim_s_mobile_robot_events_core"] = (
        rtf_core(sim_seconds))
    (results["rtf_mobile_robot_events"], results["bridge_event_packets"],
     results["cpu_per_sim_s_mobile_robot_events"]) = rtf_bridge(sim_seconds, EVENTS_ONLY)
    (results["rtf_mobile_robot_all_outputs"], _,
     results["cpu_per_sim_s_mobile_robot_all_outputs"]) = rtf_bridge(sim_seconds, {})
    results["load_average"] = os.getloadavg()[0]  # what else ran: wall-clock RTFs depend on it
    return results


def table(res: dict[str, Any]) -> str:
    lines = ["scene          steps/s   render fps (rgb / depth / segmentation)"]
    for name, r in res["scenes"].items():
        line = f"{name:13s} {r['steps_per_s']:9.0f}"
        for size, fps in r.get("render_fps", {}).items():
            line += f"   {size}: " + " / ".join(f"{v:.0f}" for v in fps.values())
        lines.append(line)
    lines.append(f"real-time factor, mobile_robot + event camera 346x260: "
                 f"{res['rtf_mobile_robot_events']:.2f} through the sim bridge (DDS), "
                 f"{res['rtf_mobile_robot_events_core']:.2f} without ROS; with depth, points "
                 f"and dense ground truth too: {res['rtf_mobile_robot_all_outputs']:.2f}")
    lines.append(f"CPU s per sim s (all threads): "
                 f"{res['cpu_per_sim_s_mobile_robot_events']:.2f} through the bridge, "
                 f"{res['cpu_per_sim_s_mobile_robot_events_core']:.2f} without ROS, "
                 f"{res['cpu_per_sim_s_mobile_robot_all_outputs']:.2f} with every output; "
                 f"load average {res['load_average']:.2f} on {res['machine']['cpu_count']} CPUs")
    return "\n".join(lines)


if __name__ == "__main__":
    suite_main(__name__)
