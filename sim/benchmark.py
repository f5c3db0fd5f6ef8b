"""Quick throughput numbers of the simulation core: physics steps/s and render fps.

``python -m sim.benchmark [--json]`` times ``mj_step`` per scene (controls held at zero,
mocap bodies following their trajectories) and RGB, depth and segmentation rendering at
346x260 and 640x480 of each scene's main camera. Numbers depend on the machine and on
``MUJOCO_GL`` (EGL on llvmpipe renders on the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

from sim.scenes import SCENES, make_scene  # noqa: E402
from sim.sensors.camera import CameraSensor  # noqa: E402
from sim.world import SimWorld  # noqa: E402

MAIN_CAMERA = {"room": None, "camera_rig": "camera", "mobile_robot": "camera",
               "swimmer": "tracking"}
SIZES = ((346, 260), (640, 480))


def physics_steps_per_s(world: SimWorld, seconds: float = 0.5) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        world.step(100)
        n += 100
    return n / (time.perf_counter() - t0)


def render_fps(world: SimWorld, camera: str, width: int, height: int,
               seconds: float = 0.5) -> dict[str, float]:
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


def run() -> dict[str, dict]:
    results: dict[str, dict] = {}
    for name in SCENES:
        world = SimWorld(make_scene(name))
        entry: dict = {"steps_per_s": physics_steps_per_s(world),
                       "timestep": world.timestep, "nbody": world.model.nbody,
                       "ngeom": world.model.ngeom}
        camera = MAIN_CAMERA.get(name)
        if camera:
            entry["render_fps"] = {f"{w}x{h}": render_fps(world, camera, w, h)
                                   for w, h in SIZES}
        results[name] = entry
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    results = run()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        line = f"{name:13s} {r['steps_per_s']:10.0f} steps/s (dt {r['timestep']})"
        for size, fps in r.get("render_fps", {}).items():
            line += f" | {size}: " + " ".join(f"{k} {v:.0f}" for k, v in fps.items())
        print(line)


if __name__ == "__main__":
    main()
