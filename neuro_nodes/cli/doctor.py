"""``neuro doctor``: is everything the stack needs here and working?

Checks that touch DDS run in a child process (``python -m neuro_nodes.cli.doctor
--probe``): Fast DDS prints to stdout and ``rcl``/Fast DDS end the process on a bad
``ROS_DOMAIN_ID`` or ``RMW_IMPLEMENTATION`` (exit 1, 102), which must become a failed
check in valid JSON, not a dead doctor. The DDS settings are validated before that.
"""

from __future__ import annotations

import json
import os
import re
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


_PROBE_MARK = "@@neuro-doctor-probe@@ "
_PROBE_TIMEOUT_S = 60.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
RMW = "rmw_fastrtps_cpp"  # the loopback profile is a Fast DDS profile
# ROS 2 docs ("About Domain ID"): UDP ports limit the domain to 0..232; on Linux,
# 0..101 and 215..232 keep clear of the default ephemeral port range.
MAX_DOMAIN_ID = 232
SAFE_DOMAIN_IDS = (range(0, 102), range(215, 233))


def _probe() -> dict[str, Any]:
    """In the child: start rclpy and create a node (a DDS participant)."""
    import rclpy

    rclpy.init(args=[])
    try:
        node = rclpy.create_node("neuro_doctor")
        rmw = rclpy.get_rmw_implementation_identifier()
        domain = rclpy.get_default_context().get_domain_id()
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return {"ok": True, "rmw": rmw, "domain_id": domain}


def _probe_reason(output: str, returncode: int) -> str:
    """One line from a dead probe: rcl's or Fast DDS's own error, else the last line."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not line.startswith(_PROBE_MARK)]
    errors = [line for line in lines if "error" in line.lower() or "[rcl]" in line]
    said = (errors or lines or ["(no output)"])[-1]
    return f"rclpy/DDS probe exited with {returncode}: {said}"


def check_rclpy() -> dict[str, Any]:
    cmd = [sys.executable, "-m", "neuro_nodes.cli.doctor", "--probe"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"rclpy/DDS probe hung for {_PROBE_TIMEOUT_S:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(_PROBE_MARK):
            return json.loads(line[len(_PROBE_MARK):])
    return {"ok": False, "error": _probe_reason(proc.stdout + "\n" + proc.stderr,
                                                proc.returncode)}


def check_domain_id(value: str | None) -> tuple[int | None, str | None, str | None]:
    """(domain, error, warning) for a ROS_DOMAIN_ID value (None/empty: rcl's default 0)."""
    if value is None or value.strip() == "":
        return 0, None, None
    try:
        domain = int(value.strip())
    except ValueError:
        return None, f"ROS_DOMAIN_ID={value!r} is not an integer (0..{MAX_DOMAIN_ID})", None
    if not 0 <= domain <= MAX_DOMAIN_ID:
        return None, (f"ROS_DOMAIN_ID={domain} is outside 0..{MAX_DOMAIN_ID}: DDS cannot "
                      "compute its UDP ports"), None
    if not any(domain in r for r in SAFE_DOMAIN_IDS):
        return domain, None, (f"ROS_DOMAIN_ID={domain} may clash with Linux ephemeral ports; "
                              "0..101 or 215..232 are safe")
    return domain, None, None


def check_dds() -> dict[str, Any]:
    from neuro_nodes.ros.dds import dds_status

    env = dict(os.environ)
    raw_domain = env.pop("ROS_DOMAIN_ID", None)
    status = dds_status(env)  # the domain is parsed here, where a bad value is a finding
    domain, error, warning = check_domain_id(raw_domain)
    status["domain_id"] = domain if error is None else raw_domain
    problems = [error] if error else []
    if status["rmw"] != RMW:
        problems.append(f"RMW_IMPLEMENTATION={status['rmw']}: the loopback profile needs {RMW}")
    if not status["profile_exists"]:
        problems.append(f"Fast DDS profile not found: {status['profile']}")
    if status["discovery_range"] != "LOCALHOST":
        problems.append(f"ROS_AUTOMATIC_DISCOVERY_RANGE={status['discovery_range']}, "
                        "not LOCALHOST")
    status["ok"] = not problems
    if problems:
        status["error"] = "; ".join(problems)
    if warning:
        status["warning"] = warning
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
    "dds": check_dds,
    "rclpy": check_rclpy,
    "interfaces": check_interfaces,
    "mujoco_gl": check_mujoco_gl,
    "torch": check_torch,
    "debian_packages": check_debian,
}


def run_checks() -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name, check in CHECKS.items():
        bad_domain = check_domain_id(os.environ.get("ROS_DOMAIN_ID"))[1]
        if name == "rclpy" and bad_domain:  # no DDS start on a domain it cannot use
            report[name] = {"ok": False, "error": f"not run: {bad_domain}"}
            continue
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


if __name__ == "__main__" and sys.argv[1:] == ["--probe"]:  # the child of check_rclpy
    try:
        result = _probe()
    except Exception as err:  # reported by the parent as the failed check
        result = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    print(_PROBE_MARK + json.dumps(result), flush=True)
