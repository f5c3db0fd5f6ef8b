"""bag_info / format_info: ros2-bag-info fields plus event summaries."""

from __future__ import annotations

import shutil

import numpy as np
from bag_test_helpers import STRING, T0, string_cdr

from neuro_nodes.bag.info import bag_info, format_info
from neuro_nodes.bag.writer import BagWriter


def test_info_real_mcap_bag(shared_data) -> None:
    info = bag_info(shared_data / "event_camera_py_test_events_2")
    assert info["storage"] == "mcap"  # metadata.yaml names none
    assert info["message_count"] == 100 and info["duration_ns"] == 990_468_399
    assert info["start_ns"] == 1_744_227_144_744_197_147
    (topic,) = info["topics"]
    assert topic == {"name": "/event_camera/events", "type": "event_camera_msgs/msg/EventPacket",
                     "count": 100, "serialization_format": "cdr"}
    ev = info["events"]["/event_camera/events"]
    assert (ev["off"], ev["on"], ev["events"]) == (360_223, 211_043, 571_266)
    assert ev["trigger_rise"] == ev["trigger_fall"] == 0 and ev["packets"] == 100
    text = format_info(info)
    assert "Storage id:        mcap" in text
    assert "Topic: /event_camera/events | Type: event_camera_msgs/msg/EventPacket | Count: 100" \
        in text
    assert "ON 211043, OFF 360223" in text


def test_info_real_sqlite_bags(shared_data) -> None:
    rollover = bag_info(shared_data / "event_camera_codecs_libcaer_rollover")
    assert rollover["storage"] == "sqlite3" and rollover["message_count"] == 201
    ev = rollover["events"]["/event_camera/events"]
    assert (ev["events"], ev["on"], ev["width"], ev["height"]) == (334_331, 181_908, 640, 480)
    mono = bag_info(shared_data / "event_camera_codecs_mono_cd")  # legacy type, version 4
    ev = mono["events"]["/event_camera/events"]
    assert (ev["events"], ev["on"], ev["off"], ev["encoding"]) == (100, 50, 50, "mono")


def test_info_without_metadata(shared_data, tmp_path) -> None:
    bag = tmp_path / "copy"
    shutil.copytree(shared_data / "event_camera_codecs_mono_cd", bag)
    (bag / "metadata.yaml").unlink()
    info = bag_info(bag)
    assert info["message_count"] == 2 and "no metadata.yaml" in info["problems"][0]
    assert info["events"]["/event_camera/events"]["events"] == 100
    assert not (bag / "metadata.yaml").exists()  # info writes nothing


def test_info_written_bag_with_events(tmp_path) -> None:
    from neuro_nodes.bag.event_packets import EVENT_PACKET, typestore
    from neuro_nodes.events.event_array import EventArray
    from neuro_nodes.events.packetize import to_packets

    rng = np.random.default_rng(0)
    n = 3000
    events = EventArray(np.sort(rng.integers(0, 20_000_000, n)), rng.integers(0, 64, n),
                        rng.integers(0, 48, n), rng.integers(0, 2, n), 64, 48)
    s = typestore()
    T = s.types
    bag = tmp_path / "ev"
    with BagWriter(bag, max_bag_duration_s=0.01) as w:
        h = w.add_topic("/cam/events", EVENT_PACKET)
        c = w.add_topic("/chatter", STRING)
        for k, packet in enumerate(to_packets(events, "evt3", max_dt_ns=2_000_000)):
            stamp = T0 + packet.time_base
            msg = T[EVENT_PACKET](
                header=T["std_msgs/msg/Header"](
                    stamp=T["builtin_interfaces/msg/Time"](sec=stamp // 10**9,
                                                          nanosec=stamp % 10**9),
                    frame_id="cam"),
                height=48, width=64, seq=k, time_base=packet.time_base, encoding="evt3",
                is_bigendian=False, events=np.frombuffer(packet.events, np.uint8))
            w.write(h, stamp, s.serialize_cdr(msg, EVENT_PACKET))
            w.write(c, stamp + 1, string_cdr(str(k)))
    info = bag_info(bag)
    assert len(info["files"]) == 2 and info["size"] == sum(f["size"] for f in info["files"])
    assert info["ros_distro"] == "kilted"
    counts = {t["name"]: t["count"] for t in info["topics"]}
    assert counts["/cam/events"] == counts["/chatter"] == 10
    ev = info["events"]["/cam/events"]
    assert ev["events"] == n and ev["on"] == int(events.p.sum())
    assert (ev["width"], ev["height"], ev["encoding"]) == (64, 48, "evt3")
    assert set(info["events"]) == {"/cam/events"}
    text = format_info(info)
    assert text.count("ev_") == 2 and "Event topics:" in text
