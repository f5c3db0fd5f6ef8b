"""``neuro bench bag``: recording and playback throughput through live DDS.

- record: a publisher process sends evt3 EventPackets (dense 640x480 events, 1 ms
  packets) at a target event rate for a few seconds while ``neuro bag record`` (another
  process) records the topic; ``record_mevps`` is events recorded per second of
  publishing and ``record_lost_packets`` = packets published − packets in the bag, with the
  project's event publisher QoS (``EVENTS_PUB_QOS``, what event_camera and the sim bridge
  publish with: reliable since issue 9; ``record_qos`` names it); the
  ``record_best_effort_*`` keys repeat it with a best-effort publisher (the sensor-data
  default of other drivers, and our override for lossy links);
- play: ``neuro bag play --rate 0`` of that bag into a reliable KEEP_ALL subscriber in this
  process (``play_mevps``, ``play_lost_packets``);
- discovery: how long a running node takes to see the topic of a publisher process that
  has just started (``discovery_median_s``, ``discovery_max_s`` over a few starts): what a
  recorder started first waits before it can subscribe;
- baseline (same run, same messages): bare rosbags write and read of the serialized
  messages, no DDS (``rosbags_write_mevps``, ``rosbags_read_mevps``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import suite_main
from benchmarks.bag_publisher import SEPARATOR, TOPIC

WIDTH, HEIGHT = 640, 480


def dense_payloads(events_per_packet: int, n_distinct: int, seed: int = 0) -> list[bytes]:
    """Distinct 1 ms evt3 payloads of one continuous stream (dense rows, like a fast edge)."""
    from neuro_nodes.events.codecs import make_encoder
    from neuro_nodes.events.event_array import EventArray

    rng = np.random.default_rng(seed)
    encoder = make_encoder("evt3", WIDTH, HEIGHT)
    out = []
    for k in range(n_distinct):
        n = events_per_packet
        t = np.sort(rng.integers(0, 1000, n)) * 1000 + k * 1_000_000
        x = (rng.integers(0, WIDTH - 16, n // 16)[:, None] + np.arange(16)).ravel()[:n]
        y = np.repeat(rng.integers(0, HEIGHT, n // 16), 16)[:n]
        ev = EventArray(t=t[: len(x)], x=x.astype(np.uint16), y=y.astype(np.uint16),
                        p=rng.integers(0, 2, len(x)).astype(np.uint8), width=WIDTH,
                        height=HEIGHT)
        out.append(encoder.encode(ev))
    return out


def _events_in(payload: bytes) -> int:
    from neuro_nodes.events.codecs import make_decoder

    return len(make_decoder("evt3", WIDTH, HEIGHT).decode(payload).events)


def record_run(folder: Path, payloads: list[bytes], n_packets: int, rate_hz: float,
               env: dict[str, str], reliability: str = "reliable") -> dict[str, float]:
    from neuro_nodes.bag.reader import read_messages

    blob = folder / "payloads.bin"
    blob.write_bytes(SEPARATOR.join(payloads))
    bag = folder / f"recorded_{reliability}"
    neuro = [sys.executable, "-m", "neuro_nodes.cli.main"]
    recorder = subprocess.Popen([*neuro, "bag", "record", TOPIC, "-o", str(bag)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    publisher = subprocess.run([sys.executable, "-m", "benchmarks.bag_publisher", str(blob),
                                str(n_packets), str(rate_hz), "1", reliability], env=env,
                               capture_output=True, text=True, timeout=300)
    recorder.send_signal(signal.SIGINT)
    recorder.communicate(timeout=120)
    if publisher.returncode != 0:
        raise RuntimeError(publisher.stderr[-2000:])
    sent, seconds = publisher.stdout.split()
    recorded = sum(1 for _ in read_messages(bag))
    return {"sent": int(sent), "seconds": float(seconds), "recorded": recorded,
            "bag_bytes": sum(f.stat().st_size for f in bag.iterdir())}


def play_run(bag: Path, expected: int, env: dict[str, str]) -> dict[str, float]:
    import rclpy
    from event_camera_msgs.msg import EventPacket
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    from neuro_nodes.ros.qos import EVENTS_QOS

    os.environ.update({k: v for k, v in env.items() if k == "ROS_DOMAIN_ID"})
    rclpy.init()
    node = rclpy.create_node("bench_play_probe")
    times: list[float] = []
    # the bag was recorded from a reliable publisher, so the player offers reliable and
    # flow-controls on acknowledgements; a subscriber that wants every packet keeps all
    # (a KEEP_LAST(1000) one that falls further behind overwrites its own queue)
    qos = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=EVENTS_QOS.depth,
                     reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(EventPacket, TOPIC, lambda _m: times.append(time.perf_counter()),
                             qos)
    player = subprocess.Popen([sys.executable, "-m", "neuro_nodes.cli.main", "bag", "play",
                               str(bag), "--rate", "0", "--start-paused"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from std_srvs.srv import Trigger

        client = node.create_client(Trigger, "/player/resume")
        deadline = time.monotonic() + 60
        while (node.count_publishers(TOPIC) < 1 or not client.service_is_ready()) and (
                player.poll() is None and time.monotonic() < deadline):
            rclpy.spin_once(node, timeout_sec=0.05)
        if player.poll() is not None or time.monotonic() >= deadline:
            raise RuntimeError(f"player did not come up: {player.communicate()[0][-2000:]}")
        time.sleep(0.5)
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + 120
        while player.poll() is None and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.01)
        # what the player sent is acknowledged, i.e. queued here: take it all (until 2 s pass
        # without a packet); one spin_once takes one message
        last_n, quiet_since = -1, time.monotonic()
        while len(times) < expected and time.monotonic() - quiet_since < 2.0:
            rclpy.spin_once(node, timeout_sec=0.05)
            if len(times) != last_n:
                last_n, quiet_since = len(times), time.monotonic()
        del future
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        if player.poll() is None:
            player.kill()
            player.wait()
    seconds = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {"received": len(times), "seconds": seconds, "lost": expected - len(times)}


_DISCOVERY_PUBLISHER = """
import sys, time
from neuro_nodes.ros.dds import apply_loopback_defaults
apply_loopback_defaults()
import rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("discovery_probe_publisher")
pub = node.create_publisher(String, sys.argv[1], 10)
print(time.time(), flush=True)
time.sleep(60)
"""


def discovery_run(env: dict[str, str], trials: int) -> list[float]:
    """Seconds from a new publisher's creation (wall clock, another process) until this
    running node's graph lists its topic."""
    import rclpy

    os.environ.update({k: v for k, v in env.items() if k == "ROS_DOMAIN_ID"})
    rclpy.init()
    node = rclpy.create_node("bench_discovery_probe")
    delays = []
    try:
        for i in range(trials):
            topic = f"/bench/discovery_{os.getpid()}_{i}"
            proc = subprocess.Popen([sys.executable, "-c", _DISCOVERY_PUBLISHER, topic],
                                    env=env, stdout=subprocess.PIPE, text=True)
            try:
                created = float(proc.stdout.readline())
                deadline = time.monotonic() + 30
                while not node.count_publishers(topic) and time.monotonic() < deadline:
                    time.sleep(0.005)
                delays.append(time.time() - created)
            finally:
                proc.kill()
                proc.wait()
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return delays


def rosbags_baseline(folder: Path, payloads: list[bytes], n_packets: int) -> dict[str, float]:
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer

    from neuro_nodes.bag.event_packets import EVENT_PACKET, typestore

    store = typestore()
    types = store.types
    msgs = [store.serialize_cdr(types[EVENT_PACKET](
        header=types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](
            sec=0, nanosec=0), frame_id=""), height=HEIGHT, width=WIDTH, seq=0, time_base=0,
        encoding="evt3", is_bigendian=False, events=np.frombuffer(p, np.uint8)), EVENT_PACKET)
        for p in payloads]
    path = folder / "rosbags_baseline"
    t0 = time.perf_counter()
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection(TOPIC, EVENT_PACKET, typestore=store)
        for i in range(n_packets):
            writer.write(conn, i * 1_000_000, msgs[i % len(msgs)])
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with Reader(path) as reader:
        n = sum(1 for _ in reader.messages())
    read_s = time.perf_counter() - t0
    return {"write_s": write_s, "read_s": read_s, "read_messages": n}


def run(quick: bool = False) -> dict[str, Any]:
    from neuro_nodes.ros.dds import apply_loopback_defaults
    from neuro_nodes.ros.qos import EVENTS_PUB_QOS

    events_per_packet = 20_000 if quick else 50_000
    rate_hz = 1000.0 if quick else 1200.0  # packets/s: 20 resp. 60 M events/s offered
    seconds = 1.0 if quick else 3.0
    n_packets = int(rate_hz * seconds)
    env = dict(os.environ)
    apply_loopback_defaults(env)
    env["ROS_DOMAIN_ID"] = str(90 + os.getpid() % 10)
    payloads = dense_payloads(events_per_packet, 20)
    per_packet = float(np.mean([_events_in(p) for p in payloads]))
    bytes_per_packet = float(np.mean([len(p) for p in payloads]))
    folder = Path(tempfile.mkdtemp(prefix="neuro_bench_bag_"))
    try:
        rec = record_run(folder, payloads, n_packets, rate_hz, env, "default")
        best_effort = record_run(folder, payloads, n_packets, rate_hz, env, "best_effort")
        play = play_run(folder / "recorded_default", rec["recorded"], env)
        base = rosbags_baseline(folder, payloads, n_packets)
        discovery = discovery_run(env, 3 if quick else 8)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mev = per_packet / 1e6
    return {
        "quick": quick, "events_per_packet": per_packet, "bytes_per_packet": bytes_per_packet,
        "offered_mevps": rate_hz * mev, "packets_sent": rec["sent"],
        "record_qos": EVENTS_PUB_QOS.reliability.name.lower(),
        "record_mevps": rec["recorded"] * mev / rec["seconds"],
        "record_mb_per_s": rec["recorded"] * bytes_per_packet / 1e6 / rec["seconds"],
        "record_msgs_per_s": rec["recorded"] / rec["seconds"],
        "record_lost_packets": rec["sent"] - rec["recorded"],
        "record_best_effort_mevps": best_effort["recorded"] * mev / best_effort["seconds"],
        "record_best_effort_lost_packets": best_effort["sent"] - best_effort["recorded"],
        "play_mevps": play["received"] * mev / play["seconds"],
        "play_msgs_per_s": play["received"] / play["seconds"],
        "play_lost_packets": play["lost"],
        "rosbags_write_mevps": n_packets * mev / base["write_s"],
        "rosbags_read_mevps": base["read_messages"] * mev / base["read_s"],
        "discovery_median_s": float(np.median(discovery)),
        "discovery_max_s": float(np.max(discovery)),
    }


def table(res: dict[str, Any]) -> str:
    return "\n".join([
        f"offered: {res['offered_mevps']:.1f} M events/s ({res['events_per_packet']:.0f} "
        f"events, {res['bytes_per_packet'] / 1e3:.0f} kB per 1 ms evt3 packet)",
        f"record through DDS ({res['record_qos']} publisher, the project's event QoS): "
        f"{res['record_mevps']:.1f} M events/s, "
        f"{res['record_mb_per_s']:.0f} MB/s, {res['record_msgs_per_s']:.0f} msgs/s, "
        f"lost {res['record_lost_packets']} of {res['packets_sent']} packets",
        f"record through DDS (best-effort publisher): {res['record_best_effort_mevps']:.1f} "
        f"M events/s, lost {res['record_best_effort_lost_packets']} of "
        f"{res['packets_sent']} packets",
        f"play through DDS:   {res['play_mevps']:.1f} M events/s, "
        f"{res['play_msgs_per_s']:.0f} msgs/s, lost {res['play_lost_packets']}",
        f"discovery of a new publisher's topic: median {res['discovery_median_s']:.2f} s, "
        f"max {res['discovery_max_s']:.2f} s",
        f"rosbags alone:      write {res['rosbags_write_mevps']:.1f}, read "
        f"{res['rosbags_read_mevps']:.1f} M events/s (same messages, no DDS)",
    ])


if __name__ == "__main__":
    suite_main(__name__)
