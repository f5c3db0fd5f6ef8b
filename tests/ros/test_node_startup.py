"""A node given bad start-up parameters exits 1 with one line naming the problem."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros
SCRIPT = Path(sys.executable).parent / "neuro-event-camera"


@pytest.mark.parametrize(("params", "expected"), [
    (["rate:=-5.0"], "rate out of range"),
    (["rate:=fast"], "expecting type 'DOUBLE'"),
    (["source:=webcam"], "source: 'webcam' is not one of ['file', 'sim', 'hardware']"),
    (["source:=hardware"], "no iniVation camera found"),
    (["source:=hardware", "camera_vendor:=prophesee"], "need the Metavision SDK"),
    (["path:=/nonexistent/bag"], "/nonexistent/bag: no such file"),
    (["path:=''"], "parameter 'path' is empty"),
    (["rate:="], "Couldn't parse parameter override rule"),
])
def test_bad_start_up_parameter_is_reported(shared_data: Path, params: list[str],
                                             expected: str) -> None:
    args = [f"path:={shared_data / 'event_camera_py_test_events_2'}", *params]
    cmd = [str(SCRIPT), "--ros-args"] + [a for p in args for a in ("-p", p)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_node_shuts_down_cleanly_on_signal(shared_data: Path, sig: signal.Signals) -> None:
    cmd = [str(SCRIPT), "--ros-args", "-p",
           f"path:={shared_data / 'event_camera_py_test_events_2'}", "-p", "loop:=true"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = False
    for line in proc.stdout:  # wait until it is up and replaying
        if "replaying" in line:
            started = True
            break
    assert started
    proc.send_signal(sig)
    output = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0, output
    assert "Traceback" not in output
