"""BagWriter: bags that independent readers (rosbags, the mcap library + mcap_ros2) open."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from bag_test_helpers import IMU, QOS, STRING, T0, imu_cdr, read_metadata, store, string_cdr

from neuro_nodes.bag.reader import list_topics, read_messages
from neuro_nodes.bag.writer import (
    BagWriter,
    BagWriterError,
    message_definition,
    resolve_type,
    type_description_hash,
)

SEP = "=" * 80


def _write_basic(path, **kwargs) -> None:
    with pytest.warns(UserWarning, match="no message definition"), BagWriter(path, **kwargs) as w:
        s = w.add_topic("/chatter", STRING, offered_qos_profiles=QOS)
        i = w.add_topic("/imu", IMU)
        u = w.add_topic("/raw", "unknown_msgs/msg/Thing")
        for k in range(50):
            t = T0 + k * 10_000_000
            w.write(s, t, string_cdr(f"hello {k}"))
            w.write(i, t + 1, imu_cdr(k, t))
        w.write(u, T0 + 5, b"\x00\x01\x00\x00raw!")
        assert w.warnings and "unknown_msgs/msg/Thing" in w.warnings[0]


def test_message_definitions() -> None:
    imu = message_definition(IMU)
    assert imu.startswith("std_msgs/Header header\n")
    for dep in ("std_msgs/Header", "builtin_interfaces/Time", "geometry_msgs/Quaternion",
                "geometry_msgs/Vector3"):
        assert f"{SEP}\nMSG: {dep}\n" in imu
    packet = resolve_type("event_camera_msgs/EventPacket")
    assert packet.known and "uint8[] events" in packet.definition
    assert f"{SEP}\nMSG: builtin_interfaces/Time\n" in packet.definition
    # the upstream type hash (the same from the ament package and from rosbags)
    assert packet.type_hash == (
        "RIHS01_d6fa176260b1f37e5a40845305315e150a0f18191241eb64f407442aa29844aa")
    assert resolve_type("event_array_msgs/msg/EventArray").known
    assert type_description_hash(STRING).startswith("RIHS01_")
    assert message_definition("nope_msgs/msg/Nothing") == ""


@pytest.mark.parametrize("compression", [None, "zstd"])
def test_mcap_read_by_rosbags_and_mcap(tmp_path, compression) -> None:
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    from rosbags.rosbag2 import Reader

    bag = tmp_path / "bag"
    _write_basic(bag, compression=compression)
    meta = read_metadata(bag)
    assert meta["version"] == 9 and meta["storage_identifier"] == "mcap"
    assert meta["ros_distro"] == "kilted" and meta["message_count"] == 101
    assert meta["relative_file_paths"] == ["bag_0.mcap"]
    assert meta["starting_time"]["nanoseconds_since_epoch"] == T0
    assert meta["duration"]["nanoseconds"] == 49 * 10_000_000 + 1
    topics = {t["topic_metadata"]["name"]: t for t in meta["topics_with_message_count"]}
    assert topics["/chatter"]["message_count"] == 50
    assert topics["/chatter"]["topic_metadata"]["offered_qos_profiles"][0]["depth"] == 10
    assert topics["/imu"]["topic_metadata"]["type_description_hash"].startswith("RIHS01_")

    # rosbags: connections, counts, QoS, deserialisation through its own type store
    with Reader(bag) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert conns["/chatter"].msgcount == 50 and conns["/raw"].msgcount == 1
        assert conns["/chatter"].ext.offered_qos_profiles[0].depth == 10
        texts = [store().deserialize_cdr(d, STRING).data
                 for _, _, d in reader.messages(connections=[conns["/chatter"]])]
        assert texts == [f"hello {k}" for k in range(50)]

    # mcap + mcap_ros2: decoding from the embedded schema only
    with (bag / "bag_0.mcap").open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
        assert summary.statistics.message_count == 101
        chunk_comp = {c.compression for c in summary.chunk_indexes}
        assert chunk_comp == ({"zstd"} if compression else {""})
        schemas = {s.name: s for s in summary.schemas.values()}
        assert schemas[IMU].encoding == "ros2msg"
        assert schemas[IMU].data.decode() == message_definition(IMU)
        decoded = {}
        for _, channel, _, msg in reader.iter_decoded_messages(topics=["/chatter", "/imu"]):
            decoded.setdefault(channel.topic, []).append(msg)
            assert channel.metadata["offered_qos_profiles"] in (QOS, "")
    assert [m.data for m in decoded["/chatter"]] == [f"hello {k}" for k in range(50)]
    imu = decoded["/imu"][7]
    assert imu.angular_velocity.x == 7.0 and imu.header.frame_id == "imu"
    assert imu.linear_acceleration.z == pytest.approx(9.81)

    # our own reader
    assert {t.name: t.count for t in list_topics(bag)} == {"/chatter": 50, "/imu": 50, "/raw": 1}


@pytest.mark.parametrize("compression", [None, "zstd"])
def test_sqlite3_round_trip(tmp_path, compression) -> None:
    import sqlite3

    from rosbags.rosbag2 import Reader

    bag = tmp_path / "sq"
    _write_basic(bag, storage="sqlite3", compression=compression)
    meta = read_metadata(bag)
    assert meta["storage_identifier"] == "sqlite3"
    assert meta["relative_file_paths"] == ["sq_0.db3"]
    assert (meta["compression_mode"], meta["compression_format"]) == (
        ("message", "zstd") if compression else ("", ""))
    assert not (bag / "sq_0.db3-wal").exists()  # folded back at close
    db = sqlite3.connect(bag / "sq_0.db3")
    assert db.execute("SELECT schema_version, ros_distro FROM schema").fetchone() == (4, "kilted")
    cols = [r[1] for r in db.execute("PRAGMA table_info(topics)")]
    assert cols == ["id", "name", "type", "serialization_format", "offered_qos_profiles",
                    "type_description_hash"]
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone() == (101,)
    db.close()
    with Reader(bag) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert conns["/imu"].msgcount == 50
        assert conns["/imu"].msgdef.data == message_definition(IMU)
        msgs = [store().deserialize_cdr(d, IMU)
                for _, _, d in reader.messages(connections=[conns["/imu"]])]
    assert [m.angular_velocity.x for m in msgs] == [float(k) for k in range(50)]
    ours = [m for m in read_messages(bag, ["/chatter"])]
    assert [store().deserialize_cdr(m.data, STRING).data for m in ours] == [
        f"hello {k}" for k in range(50)]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_split_by_size(tmp_path, storage) -> None:
    from rosbags.rosbag2 import Reader

    bag = tmp_path / "big"
    payload = string_cdr("x" * 4000)
    with BagWriter(bag, storage=storage, max_bag_size=60_000, chunk_size=16_000) as w:
        h = w.add_topic("/blob", STRING)
        for k in range(100):
            w.write(h, T0 + k * 1_000_000, payload)
    meta = read_metadata(bag)
    files = meta["files"]
    assert len(files) >= 4
    assert meta["relative_file_paths"] == [f"big_{i}{'.mcap' if storage == 'mcap' else '.db3'}"
                                           for i in range(len(files))]
    assert sum(f["message_count"] for f in files) == meta["message_count"] == 100
    for f in files[:-1]:
        size = (bag / f["path"]).stat().st_size
        assert 45_000 < size < 90_000, size
    t = T0
    for f in files:  # contiguous, in order
        assert f["starting_time"]["nanoseconds_since_epoch"] == t
        t += f["message_count"] * 1_000_000
    with Reader(bag) as reader:
        assert sum(1 for _ in reader.messages()) == 100
    assert len(list(read_messages(bag))) == 100


def test_split_by_duration(tmp_path) -> None:
    bag = tmp_path / "dur"
    with BagWriter(bag, max_bag_duration_s=1.0) as w:
        a = w.add_topic("/a", STRING)
        b = w.add_topic("/b", IMU)
        for k in range(35):  # 0.1 s apart: 3.4 s
            w.write(a, T0 + k * 100_000_000, string_cdr(str(k)))
            if k % 5 == 0:
                w.write(b, T0 + k * 100_000_000 + 1, imu_cdr(k, T0))
    meta = read_metadata(bag)
    assert [f["message_count"] for f in meta["files"]] == [12, 12, 12, 6]
    assert [f["duration"]["nanoseconds"] for f in meta["files"]] == [900_000_000] * 3 + [
        400_000_000]
    counts = {t["topic_metadata"]["name"]: t["message_count"]
              for t in meta["topics_with_message_count"]}
    assert counts == {"/a": 35, "/b": 7}
    # every file is a complete bag of its own with all topics
    from mcap.reader import make_reader

    for f in meta["files"]:
        with (bag / f["path"]).open("rb") as fh:
            summary = make_reader(fh).get_summary()
        assert {c.topic for c in summary.channels.values()} == {"/a", "/b"}
        assert summary.statistics.message_count == f["message_count"]


def test_metadata_refreshed_while_recording(tmp_path) -> None:
    bag = tmp_path / "live"
    w = BagWriter(bag, snapshot_interval_s=1.0)
    h = w.add_topic("/a", STRING)
    assert read_metadata(bag)["relative_file_paths"] == ["live_0.mcap"]
    for k in range(25):  # 2.4 s of log time
        w.write(h, T0 + k * 100_000_000, string_cdr(str(k)))
    live = read_metadata(bag)
    assert 20 <= live["message_count"] <= 25
    w.close()
    assert read_metadata(bag)["message_count"] == 25
    with pytest.raises(BagWriterError):
        w.write(h, T0, b"")


def test_concurrent_writes(tmp_path) -> None:
    bag = tmp_path / "threads"
    with BagWriter(bag, chunk_size=4096) as w:
        handles = [w.add_topic(f"/t{i}", STRING) for i in range(4)]

        def run(i: int) -> None:
            for k in range(200):
                w.write(handles[i], T0 + k * 1000 + i, string_cdr(f"{i}:{k}"))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    counts = {t.name: t.count for t in list_topics(bag)}
    assert counts == {f"/t{i}": 200 for i in range(4)}


def test_writer_refuses_misuse(tmp_path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BagWriterError, match="not overwriting"):
        BagWriter(tmp_path / "full")
    with pytest.raises(BagWriterError, match="storage"):
        BagWriter(tmp_path / "s", storage="rosbag1")
    with BagWriter(tmp_path / "ok") as w:
        h = w.add_topic("/a", STRING)
        assert w.add_topic("/a", "std_msgs/String") == h
        with pytest.raises(BagWriterError, match="already added"):
            w.add_topic("/a", IMU)


def test_event_packets_through_writer(tmp_path) -> None:
    """EventPacket definition from the ament share dir / registry: the event reader decodes."""
    from neuro_nodes.bag.event_packets import EVENT_PACKET, read_event_packets, typestore

    s = typestore()
    T = s.types
    bag = tmp_path / "ev"
    with BagWriter(bag) as w:
        h = w.add_topic("/events", EVENT_PACKET)
        msg = T[EVENT_PACKET](
            header=T["std_msgs/msg/Header"](
                stamp=T["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="cam"),
            height=480, width=640, seq=0, time_base=5, encoding="evt3", is_bigendian=False,
            events=np.arange(8, dtype=np.uint8))
        w.write(h, T0, s.serialize_cdr(msg, EVENT_PACKET))
    (packet,) = read_event_packets(bag)
    assert (packet.encoding, packet.width, packet.height, packet.time_base) == (
        "evt3", 640, 480, 5)
    assert packet.events.tolist() == list(range(8))
