"""Set-up is idempotent, and the doctor finds everything working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_second_setup_run_changes_nothing(repo_root: Path) -> None:
    proc = subprocess.run(["bash", str(repo_root / "scripts" / "setup.sh")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    steps = [line for line in proc.stdout.splitlines()
             if "installing" in line or "colcon build" in line or "creating .venv" in line]
    assert not steps, f"set-up redid work with nothing changed: {steps}"
    assert "ready" in proc.stdout


def test_doctor_json_reports_everything_working() -> None:
    neuro = Path(sys.executable).parent / "neuro"
    proc = subprocess.run([str(neuro), "doctor", "--json"], capture_output=True, text=True,
                          timeout=300)
    report = json.loads(proc.stdout)
    failing = {k: v for k, v in report.items() if isinstance(v, dict) and not v["ok"]}
    assert not failing and report["ok"] and proc.returncode == 0, failing
    assert report["dds"]["discovery_range"] == "LOCALHOST"
    assert report["interfaces"]["types"]["event_camera_msgs/msg/EventPacket"]["ok"]
    assert report["mujoco_gl"]["backends"]["egl"] == "ok"


def test_doctor_reports_bad_dds_settings_as_failed_checks_in_valid_json() -> None:
    """Fast DDS prints to stdout on ROS_DOMAIN_ID=300 and rcl exits 102 on an unknown RMW:
    both must be failed checks, with the reason, in JSON that parses."""
    import os

    neuro = Path(sys.executable).parent / "neuro"
    cases = {"ROS_DOMAIN_ID": "300", "RMW_IMPLEMENTATION": "rmw_bogus"}
    procs = {var: subprocess.Popen([str(neuro), "doctor", "--json"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True,
                                   env=dict(os.environ, **{var: value}))
             for var, value in cases.items()}
    for var, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        report = json.loads(out)  # nothing but the report on stdout
        assert proc.returncode == 1 and not report["ok"], (var, out, err)
        assert f"{var}={cases[var]}" in report["dds"]["error"], report["dds"]
        assert not report["rclpy"]["ok"]
        assert report["torch"]["ok"] and report["interfaces"]["ok"]  # the others still ran


def test_rclpy_check_survives_a_native_exit_and_says_why(monkeypatch) -> None:
    from neuro_nodes.cli import doctor

    monkeypatch.setenv("ROS_DOMAIN_ID", "300")  # Fast DDS calls exit(1) creating the node
    result = doctor.check_rclpy()
    assert not result["ok"] and "exited with 1" in result["error"]
    assert "port number is too high" in result["error"], result
    monkeypatch.setenv("ROS_DOMAIN_ID", "7")
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_bogus")  # rcl exits 102
    result = doctor.check_rclpy()
    assert not result["ok"] and "102" in result["error"] and "rmw_bogus" in result["error"]


def test_domain_id_rules_follow_the_ros_2_docs() -> None:
    from neuro_nodes.cli.doctor import check_domain_id

    assert check_domain_id(None) == (0, None, None) and check_domain_id("") == (0, None, None)
    assert check_domain_id("101") == (101, None, None)
    assert check_domain_id("232") == (232, None, None)
    domain, error, warning = check_domain_id("150")
    assert domain == 150 and error is None and "ephemeral" in warning
    for bad in ("233", "300", "-1", "abc", "1.5"):
        domain, error, _ = check_domain_id(bad)
        assert domain is None and f"ROS_DOMAIN_ID={bad}" in error.replace("'", ""), error
