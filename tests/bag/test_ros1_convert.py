"""ROS 1 dvs / prophesee EventArray bags -> rosbag2 EventPacket (evt3) bags."""

from __future__ import annotations

import numpy as np
import pytest
from bag_test_helpers import read_metadata

from neuro_nodes.bag.event_packets import read_event_packets
from neuro_nodes.bag.ros1_convert import convert_ros1
from neuro_nodes.events.codecs import make_decoder

EVENT_MSG = "uint16 x\nuint16 y\ntime ts\nbool polarity\n"
ARRAY_MSG = "Header header\nuint32 height\nuint32 width\n{pkg}/Event[] events\n"
W, H = 346, 260
T_START = 1_600_000_000_123_456_000  # whole microseconds: evt3 keeps them exactly


def _store(pkg: str):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(get_types_from_msg(EVENT_MSG, f"{pkg}/msg/Event"))
    store.register(get_types_from_msg(ARRAY_MSG.format(pkg=pkg), f"{pkg}/msg/EventArray"))
    return store


def _events(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = T_START + np.sort(rng.integers(0, 50_000, n)) * 1000  # 50 ms, us steps
    return t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n)


def _write_ros1(path, pkg: str, t, x, y, p, per_msg: int = 700, imu: bool = False) -> None:
    from rosbags.rosbag1 import Writer

    store = _store(pkg)
    T = store.types
    array = f"{pkg}/msg/EventArray"
    with Writer(path) as writer:
        conn = writer.add_connection("/dvs/events", array, typestore=store)
        imu_conn = (writer.add_connection("/dvs/imu", "sensor_msgs/msg/Imu", typestore=store)
                    if imu else None)
        for seq, i in enumerate(range(0, len(t), per_msg)):
            sl = slice(i, i + per_msg)
            events = [T[f"{pkg}/msg/Event"](
                x=int(a), y=int(b),
                ts=T["builtin_interfaces/msg/Time"](sec=int(tt) // 10**9,
                                                    nanosec=int(tt) % 10**9),
                polarity=bool(c)) for tt, a, b, c in zip(t[sl], x[sl], y[sl], p[sl], strict=True)]
            last = int(t[sl][-1])
            header = T["std_msgs/msg/Header"](
                seq=seq, stamp=T["builtin_interfaces/msg/Time"](sec=last // 10**9,
                                                               nanosec=last % 10**9),
                frame_id="dvs")
            msg = T[array](header=header, height=H, width=W, events=events)
            writer.write(conn, last + 1000, store.serialize_ros1(msg, array))
            if imu_conn is not None:
                imu_msg = T["sensor_msgs/msg/Imu"](
                    header=header,
                    orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
                    orientation_covariance=np.zeros(9),
                    angular_velocity=T["geometry_msgs/msg/Vector3"](x=float(seq), y=0.0, z=0.0),
                    angular_velocity_covariance=np.zeros(9),
                    linear_acceleration=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=9.8),
                    linear_acceleration_covariance=np.zeros(9))
                writer.write(imu_conn, last + 2000,
                             store.serialize_ros1(imu_msg, "sensor_msgs/msg/Imu"))


def _decode(bag) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list]:
    decoder = make_decoder("evt3", W, H)
    ts, xs, ys, ps, packets = [], [], [], [], []
    for packet in read_event_packets(bag):
        packets.append(packet)
        assert (packet.encoding, packet.width, packet.height) == ("evt3", W, H)
        ev = decoder.decode(packet.events, packet.time_base).events
        offset = packet.stamp_ns - packet.time_base  # == t0 for every packet
        ts.append(ev.t + offset)
        xs.append(ev.x)
        ys.append(ev.y)
        ps.append(ev.p)
    return (np.concatenate(ts), np.concatenate(xs), np.concatenate(ys), np.concatenate(ps),
            packets)


def _sorted(t, x, y, p):
    order = np.lexsort((p, x, y, t))
    return (np.asarray(t, np.int64)[order], np.asarray(x)[order], np.asarray(y)[order],
            np.asarray(p)[order])


@pytest.mark.parametrize("pkg", ["dvs_msgs", "prophesee_event_msgs"])
def test_ros1_events_to_evt3_round_trip(tmp_path, pkg) -> None:
    t, x, y, p = _events(1, 5000)
    src = tmp_path / "in.bag"
    _write_ros1(src, pkg, t, x, y, p)
    out = tmp_path / "out"
    result = convert_ros1(src, out, max_dt_ns=2_000_000)
    rep = result.event_topics["/dvs/events"]
    assert (rep.messages_in, rep.events_in, rep.events_out, rep.dropped) == (8, 5000, 5000, 0)
    assert rep.t0_ns == int(t[0])
    meta = read_metadata(out)
    assert meta["custom_data"]["ros1_convert.t0_ns./dvs/events"] == str(int(t[0]))
    (topic,) = meta["topics_with_message_count"]
    assert topic["topic_metadata"]["type"] == "event_camera_msgs/msg/EventPacket"
    assert topic["message_count"] == rep.packets_out
    dt, dx, dy, dp, packets = _decode(out)
    for got, want in zip(_sorted(dt, dx, dy, dp), _sorted(t, x, y, p), strict=True):
        np.testing.assert_array_equal(got, want)
    # packets: at most 2 ms each, in order, stamped with their first event, frame kept
    assert len(packets) == rep.packets_out >= 25
    assert all(a.stamp_ns < b.stamp_ns for a, b in zip(packets, packets[1:], strict=False))
    assert packets[0].stamp_ns == t[0]
    log = [q.log_time_ns for q in packets]
    assert log == sorted(log)


def test_other_topics_copied_to_cdr(tmp_path) -> None:
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    t, x, y, p = _events(2, 1500)
    src = tmp_path / "in.bag"
    _write_ros1(src, "dvs_msgs", t, x, y, p, per_msg=500, imu=True)
    out = tmp_path / "out"
    result = convert_ros1(src, out)
    assert result.copied_topics == {"/dvs/imu": 3} and not result.skipped_topics
    store = get_typestore(Stores.ROS2_KILTED)
    with Reader(out) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert conns["/dvs/imu"].msgtype == "sensor_msgs/msg/Imu"
        imus = [store.deserialize_cdr(d, "sensor_msgs/msg/Imu")
                for _, _, d in reader.messages(connections=[conns["/dvs/imu"]])]
    assert [m.angular_velocity.x for m in imus] == [0.0, 1.0, 2.0]
    assert imus[0].header.frame_id == "dvs" and imus[0].linear_acceleration.z == 9.8
    only_events = convert_ros1(src, tmp_path / "ev", copy_other_topics=False)
    assert "/dvs/imu" in only_events.skipped_topics
    one = convert_ros1(src, tmp_path / "one", topic="/dvs/events", packet_us=500)
    assert not one.copied_topics and one.event_topics["/dvs/events"].events_out == 1500
    assert one.event_topics["/dvs/events"].packets_out > only_events.event_topics[
        "/dvs/events"].packets_out  # 0.5 ms packets instead of 1 ms


def test_unreadable_ros1_bag(tmp_path) -> None:
    from neuro_nodes.bag.reader import BagError

    with pytest.raises(BagError, match="no such"):
        convert_ros1(tmp_path / "missing.bag", tmp_path / "o1")
    (tmp_path / "junk.bag").write_bytes(b"not a bag at all")
    with pytest.raises(BagError, match="not a readable ROS 1 bag"):
        convert_ros1(tmp_path / "junk.bag", tmp_path / "o2")
    assert not (tmp_path / "o2").exists()


def test_backwards_events_are_dropped_and_counted(tmp_path) -> None:
    t, x, y, p = _events(3, 1400)
    t = t.copy()
    t[700:710] = t[0]  # second message starts with events older than the first's packets
    src = tmp_path / "in.bag"
    _write_ros1(src, "dvs_msgs", t, x, y, p)
    result = convert_ros1(src, tmp_path / "out", max_dt_ns=1_000_000)
    rep = result.event_topics["/dvs/events"]
    assert rep.dropped == 10 and rep.events_out == 1390
    assert any("dropped" in w for w in result.warnings)
