"""DDS never sends a packet beyond loopback with the project's defaults."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.ros

PEER = textwrap.dedent("""
    import sys, time
    from neuro_nodes.ros.dds import apply_loopback_defaults
    apply_loopback_defaults()
    import rclpy
    from std_msgs.msg import String
    rclpy.init()
    node = rclpy.create_node("peer_" + sys.argv[1])
    pub = node.create_publisher(String, "chatter", 10)
    heard = set()
    node.create_subscription(String, "chatter", lambda m: heard.add(m.data), 10)
    deadline = time.time() + 20
    while time.time() < deadline and len(heard) < 2:
        pub.publish(String(data=sys.argv[1]))
        rclpy.spin_once(node, timeout_sec=0.05)
    linger = time.time() + 2.0  # keep answering so the other peer hears us too
    while time.time() < linger:
        pub.publish(String(data=sys.argv[1])); rclpy.spin_once(node, timeout_sec=0.05)
        time.sleep(0.02)
    print(sorted(heard))
""")

DEST = re.compile(r'(?:sin_addr=inet_addr\("([0-9.]+)"\)|inet_pton\(AF_INET6, "([0-9a-f:.]+)")')


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace missing (setup installs it)")
def test_two_nodes_exchange_messages_without_leaving_loopback(tmp_path, monkeypatch) -> None:
    for var in ("FASTDDS_DEFAULT_PROFILES_FILE", "ROS_AUTOMATIC_DISCOVERY_RANGE"):
        monkeypatch.delenv(var, raising=False)  # the entry point must apply them itself
    trace = tmp_path / "trace"
    other = subprocess.Popen([sys.executable, "-c", PEER, "b"], stdout=subprocess.PIPE, text=True)
    traced = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=sendto,sendmsg,sendmmsg,connect",
         "-o", str(trace), sys.executable, "-c", PEER, "a"],
        capture_output=True, text=True, timeout=60)
    out_b, _ = other.communicate(timeout=60)
    assert "'a', 'b'" in traced.stdout and "'a', 'b'" in out_b, (traced.stdout, out_b)
    destinations = set()
    for line in trace.read_text().splitlines():
        for v4, v6 in DEST.findall(line):
            destinations.add(v4 or v6)
    assert destinations, "strace saw no inet traffic at all: the check would prove nothing"
    leaks = {d for d in destinations if not (d.startswith("127.") or d in ("::1", "0.0.0.0"))}
    assert not leaks, f"DDS sent to non-loopback addresses: {leaks}"
