"""``neuro demo``: run the demo launch file for a few seconds and summarise what flowed.

Launches ``launch/demo.launch.yaml`` with ``neuro launch`` in a child process and
watches the graph from here: packets on ``/events``, images on ``/event_image``,
and the renderer's decoded-event count from ``/diagnostics``.
"""

from __future__ import annotations

import subprocess
import sys
import time

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from neuro_nodes.paths import data_dir, shared_data_dir

DEMO_FILE = "demo.launch.yaml"
RECORDING = "event_camera_py_test_events_2"


def main(duration: float = 8.0) -> int:
    recording = shared_data_dir() / RECORDING
    if not recording.is_dir():
        print(f"demo: recording not found at {recording} (set NEURO_SHARED_DATA to the folder "
              "holding it)", file=sys.stderr)
        return 1
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from event_camera_msgs.msg import EventPacket
    from sensor_msgs.msg import Image

    from neuro_nodes.ros.qos import EVENTS_QOS, SENSOR_QOS

    rclpy.init(args=[])
    node = rclpy.create_node("neuro_demo_monitor")
    seen = {"packets": 0, "images": 0, "events": 0, "rendered": 0}

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id.endswith("event_renderer"):
                values = {kv.key: kv.value for kv in status.values}
                seen["events"] = int(values.get("events", seen["events"]))
                seen["rendered"] = int(values.get("images", seen["rendered"]))

    # raw: count without deserialising (the monitor must not be the bottleneck)
    node.create_subscription(EventPacket, "/events", lambda _m: seen.__setitem__(
        "packets", seen["packets"] + 1), EVENTS_QOS, raw=True)
    node.create_subscription(Image, "/event_image", lambda _m: seen.__setitem__(
        "images", seen["images"] + 1), SENSOR_QOS, raw=True)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)

    cmd = [sys.executable, "-m", "neuro_nodes.cli.main", "launch",
           str(data_dir("launch") / DEMO_FILE), f"recording:={recording}",
           "--duration", str(duration)]
    launch = subprocess.Popen(cmd)
    started = time.monotonic()
    columns = (TextColumn("[bold blue]demo"), BarColumn(), TextColumn("{task.description}"),
               TimeRemainingColumn())
    try:
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("", total=duration)
            shown = 0.0
            while launch.poll() is None:
                rclpy.spin_once(node, timeout_sec=0.1)
                if time.monotonic() - shown > 0.25:  # redraw 4x a second, not per message
                    shown = time.monotonic()
                    progress.update(task, completed=min(duration, shown - started),
                                    description=f"{seen['packets']} packets, "
                                                f"{seen['images']} images")
    except KeyboardInterrupt:
        launch.wait()
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    code = launch.wait()
    elapsed = time.monotonic() - started
    flowed = seen["packets"] > 0 and seen["images"] > 0
    state = "all nodes exited cleanly" if code == 0 else f"launch exited with {code}"
    print(f"demo: {elapsed:.1f} s, /events {seen['packets']} packets "
          f"({seen['events'] / 1e6:.2f} M events decoded), /event_image {seen['images']} images "
          f"received of {seen['rendered']} rendered, "
          f"{state}")
    if not flowed:
        print("demo: no data flowed between the nodes", file=sys.stderr)
    return 0 if code == 0 and flowed else 1
