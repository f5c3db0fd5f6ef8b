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
