"""``neuro demo``: run the demo launch file for a few seconds and summarise what flowed.

Launches ``launch/demo.launch.yaml`` with ``neuro launch`` in a child process and
watches the graph from here: packets on ``/events``, images on ``/event_image``,
and the renderer's decoded-event and image counts from ``/diagnostics``. The summary
says how many of the renderer's images arrived and, for the rest, why: published
before this monitor had discovered the renderer (best effort, volatile: nobody was
there to get them), or lost in transit (gaps in the stamps of the renderer's fixed-rate
stream).
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import struct
import subprocess
import sys
import time

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from neuro_nodes.paths import data_dir, shared_data_dir

DEMO_FILE = "demo.launch.yaml"
RECORDING = "event_camera_py_test_events_2"


@dataclasses.dataclass(frozen=True)
class ImageAccount:
    rendered: int       # the renderer's image count at its last diagnostics report
    received: int       # of those, how many reached the monitor
    before_first: int   # published before the first one arrived (discovery)
    in_transit: int     # missing between the first and the last one received

    @property
    def dropped(self) -> int:
        return self.rendered - self.received

    def summary(self) -> str:
        text = f"{self.received} of {self.rendered} images received"
        if not self.dropped:
            return text + " (none dropped)"
        return (f"{text} ({self.dropped} dropped: {self.before_first} published before the "
                f"monitor discovered the renderer, {self.in_transit} lost in transit)")


def account_images(stamps_ns: list[int], rendered: int, rendered_at_ns: int) -> ImageAccount:
    """Account for the renderer's ``rendered`` images up to its report at ``rendered_at_ns``
    given the stamps of the images received. The renderer publishes at a fixed rate, so
    the time from the first received image to the report says how many were sent after
    the monitor had discovered the renderer; the rest were sent before."""
    got = sorted(t for t in stamps_ns if t <= rendered_at_ns)
    in_transit = 0
    gaps = [b - a for a, b in itertools.pairwise(got)]
    if len(gaps) >= 2:
        # the frame period: a low quantile of the gaps is one period even when most
        # frames were lost, then every gap counts its periods and the sum refines it
        first_guess = statistics.quantiles(gaps, n=10)[0] if len(gaps) >= 10 else min(gaps)
        if first_guess > 0:
            periods = sum(max(1, round(g / first_guess)) for g in gaps)
            period = sum(gaps) / periods
            # timer stamps jitter but do not drift: rounding the whole span is exact; the
            # ones due after the last received, up to the report, were lost in transit too
            in_transit = max(0, round((got[-1] - got[0]) / period) + 1 - len(got))
            in_transit += int((rendered_at_ns - got[-1]) // period)
    in_transit = min(in_transit, max(0, rendered - len(got)))
    before_first = max(0, rendered - len(got) - in_transit)
    return ImageAccount(rendered, len(got), before_first, in_transit)


def cdr_header_stamp_ns(raw: bytes) -> int:
    """``header.stamp`` of a serialized message that starts with a std_msgs/Header:
    the CDR encapsulation (2 bytes kind, 2 options: kind 0/1 = big/little endian), then
    int32 sec and uint32 nanosec. Reading 12 bytes keeps the monitor from deserialising
    270 kB images."""
    order = "<" if raw[1] & 1 else ">"
    sec, nanosec = struct.unpack_from(order + "iI", raw, 4)
    return sec * 1_000_000_000 + nanosec


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
    seen = {"packets": 0, "images": 0, "events": 0, "rendered": 0, "rendered_at": 0}
    image_stamps: list[int] = []

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id.endswith("event_renderer"):
                values = {kv.key: kv.value for kv in status.values}
                seen["events"] = int(values.get("events", seen["events"]))
                seen["rendered"] = int(values.get("images", seen["rendered"]))
                seen["rendered_at"] = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec

    def on_image(raw: bytes) -> None:
        seen["images"] += 1
        image_stamps.append(cdr_header_stamp_ns(raw))

    # raw: count without deserialising (the monitor must not be the bottleneck)
    node.create_subscription(EventPacket, "/events", lambda _m: seen.__setitem__(
        "packets", seen["packets"] + 1), EVENTS_QOS, raw=True)
    node.create_subscription(Image, "/event_image", on_image, SENSOR_QOS, raw=True)
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
    images = account_images(image_stamps, seen["rendered"], seen["rendered_at"])
    print(f"demo: {elapsed:.1f} s, /events {seen['packets']} packets "
          f"({seen['events'] / 1e6:.2f} M events decoded), /event_image {images.summary()}, "
          f"{state}")
    if not flowed:
        print("demo: no data flowed between the nodes", file=sys.stderr)
    return 0 if code == 0 and flowed else 1
