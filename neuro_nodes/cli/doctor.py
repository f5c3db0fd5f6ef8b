"""``neuro doctor``: is everything the stack needs here and working?"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

# Debian packages the stack needs at run time (scripts/setup.sh installs them).
DEBIAN_PACKAGES = ("libusb-1.0-0", "libegl1", "libgl1-mesa-dri", "libosmesa6")

_GL_PROBE = """
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos="0 0 2"/>'
    '<geom type="sphere" size=".1"/></worldbody></mujoco>')
d = mujoco.MjData(m); mujoco.mj_forward(m, d)
r = mujoco.Renderer(m, 32, 32); r.update_scene(d); img = r.render()
assert img.shape == (32, 32, 3) and img.any()
print(mujoco.__version__)
"""


def check_rclpy() -> dict[str, Any]:
    import rclpy

    rclpy.init(args=[])
    try:
        node = rclpy.create_node("neuro_doctor")
        rmw = rclpy.get_rmw_implementation_identifier()
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return {"ok": True, "rmw": rmw}


def check_dds() -> dict[str, Any]:
    from neuro_nodes.ros.dds import dds_status

    status = dds_status()
    status["ok"] = bool(status["profile_exists"]) and status["discovery_range"] == "LOCALHOST"
    if not status["project_loopback_profile"] and status["profile_exists"]:
        status["note"] = "a user-provided Fast DDS profile is in force"
    return status


def check_interfaces() -> dict[str, Any]:
    from neuro_nodes.ros.interfaces import (
        PROJECT_INTERFACES,
        UPSTREAM_TYPE_HASHES,
        import_interface,
        installed_type_hash,
    )

    result: dict[str, Any] = {"ok": True, "types": {}}
    for type_name in (*PROJECT_INTERFACES, *UPSTREAM_TYPE_HASHES):
        entry: dict[str, Any] = {}
        try:
            import_interface(type_name)
            entry["hash"], prefix = installed_type_hash(type_name)
            entry["prefix"] = str(prefix)
            expected = UPSTREAM_TYPE_HASHES.get(type_name)
            entry["ok"] = expected is None or entry["hash"] == expected
            if not entry["ok"]:
                entry["error"] = f"type hash differs from upstream {expected}"
        except Exception as err:  # report, never crash the doctor
            entry = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        result["types"][type_name] = entry
        result["ok"] &= entry["ok"]
    return result


def check_mujoco_gl() -> dict[str, Any]:
    backends = {}
    for backend in ("egl", "osmesa"):
        env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
        proc = subprocess.run([sys.executable, "-c", _GL_PROBE], env=env, capture_output=True,
                              text=True, timeout=120)
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        backends[backend] = "ok" if proc.returncode == 0 else f"fails: {tail}"
    working = [b for b, state in backends.items() if state == "ok"]
    return {"ok": bool(working), "default": working[0] if working else None, "backends": backends}


def check_torch() -> dict[str, Any]:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"ok": True, "version": torch.__version__, "device": device,
            "threads": torch.get_num_threads()}


def check_debian() -> dict[str, Any]:
    if shutil.which("dpkg-query") is None:
        return {"ok": True, "note": "not a Debian system: not checked"}
    missing = []
    for pkg in DEBIAN_PACKAGES:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True,
                              text=True)
        if "install ok installed" not in proc.stdout:
            missing.append(pkg)
    return {"ok": not missing, "missing": missing, "required": list(DEBIAN_PACKAGES)}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "rclpy": check_rclpy,
    "dds": check_dds,
    "interfaces": check_interfaces,
    "mujoco_gl": check_mujoco_gl,
    "torch": check_torch,
    "debian_packages": check_debian,
}


def run_checks() -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name, check in CHECKS.items():
        try:
            report[name] = check()
        except Exception as err:  # an import failure is a finding, not a crash
            report[name] = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    report["ok"] = all(v["ok"] for v in report.values() if isinstance(v, dict))
    return report


def _summary(name: str, result: dict[str, Any]) -> str:
    if not result["ok"]:
        return result.get("error") or json.dumps({k: v for k, v in result.items() if k != "ok"})
    if name == "interfaces":
        return f"{len(result['types'])} types, upstream hashes match"
    keys = {"rclpy": "rmw", "dds": "profile", "mujoco_gl": "default", "torch": "version"}
    detail = result.get(keys.get(name, ""), "")
    return str(detail) if detail else "ok"


def main(as_json: bool) -> int:
    report = run_checks()
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for name, result in report.items():
            if name != "ok":
                mark = "ok  " if result["ok"] else "FAIL"
                print(f"[{mark}] {name:16s} {_summary(name, result)}")
        print("doctor: all checks passed" if report["ok"] else "doctor: some checks failed")
    return 0 if report["ok"] else 1
