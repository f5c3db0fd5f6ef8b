"""reindex: metadata rebuilt from the files; killed and truncated recordings recovered."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
from bag_test_helpers import IMU, QOS, STRING, T0, imu_cdr, read_metadata, store, string_cdr

from neuro_nodes.bag.reader import BagError, read_messages
from neuro_nodes.bag.reindex import reindex
from neuro_nodes.bag.writer import BagWriter


def _texts(bag) -> list[str]:
    return [store().deserialize_cdr(m.data, STRING).data for m in read_messages(bag, ["/a"])]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_reindex_reproduces_deleted_metadata(tmp_path, storage) -> None:
    bag = tmp_path / "bag"
    with BagWriter(bag, storage=storage, max_bag_duration_s=0.5,
                   custom_data={"k": "v"}) as w:
        a = w.add_topic("/a", STRING, offered_qos_profiles=QOS)
        b = w.add_topic("/b", IMU)
        for k in range(40):
            w.write(a, T0 + k * 37_000_000, string_cdr(str(k)))
            w.write(b, T0 + k * 37_000_000 + 5, imu_cdr(k, T0))
    original = read_metadata(bag)
    assert len(original["files"]) > 2
    (bag / "metadata.yaml").unlink()
    with pytest.raises(BagError, match="no metadata.yaml"):
        next(read_messages(bag))
    result = reindex(bag)
    assert not result.problems and not result.repaired
    rebuilt = read_metadata(bag)
    for key in ("version", "storage_identifier", "duration", "starting_time", "message_count",
                "topics_with_message_count", "relative_file_paths", "files"):
        assert rebuilt[key] == original[key], key
    if storage == "sqlite3":  # the sqlite3 metadata table keeps the rest
        assert rebuilt["custom_data"] == {"k": "v"} and rebuilt["ros_distro"] == "kilted"
    assert _texts(bag) == [str(k) for k in range(40)]


def test_reindex_keeps_old_metadata_as_backup(tmp_path) -> None:
    bag = tmp_path / "bag"
    with BagWriter(bag) as w:
        a = w.add_topic("/a", STRING)
        w.write(a, T0, string_cdr("x"))
    before = (bag / "metadata.yaml").read_text()
    reindex(bag)
    assert (bag / "metadata.yaml.bak").read_text() == before
    assert read_metadata(bag)["message_count"] == 1


def test_reindex_real_bag_copy(shared_data, tmp_path) -> None:
    """The real mcap bag (empty storage_identifier, no files list, IDL schema)."""
    bag = tmp_path / "real"
    shutil.copytree(shared_data / "event_camera_py_test_events_2", bag)
    (bag / "metadata.yaml").unlink()
    meta = reindex(bag).metadata
    assert meta["storage_identifier"] == "mcap" and meta["message_count"] == 100
    (topic,) = meta["topics_with_message_count"]
    assert topic["topic_metadata"]["type"] == "event_camera_msgs/msg/EventPacket"
    assert topic["topic_metadata"]["offered_qos_profiles"][0]["depth"] == 1000
    assert meta["duration"]["nanoseconds"] == 990_468_399


_CHILD = textwrap.dedent("""
    import sys, time
    from neuro_nodes.bag.writer import BagWriter
    from rosbags.typesys import Stores, get_typestore
    ts = get_typestore(Stores.ROS2_KILTED)
    S = ts.types["std_msgs/msg/String"]
    w = BagWriter(sys.argv[1], storage=sys.argv[2], chunk_size=2048, snapshot_interval_s=1.0)
    h = w.add_topic("/a", "std_msgs/msg/String")
    for k in range(int(sys.argv[3])):
        w.write(h, {t0} + k * 10_000_000, ts.serialize_cdr(S(data=str(k)), "std_msgs/msg/String"))
    print("ready", flush=True)
    time.sleep(60)
""").format(t0=T0)


def _kill_writer(bag, storage: str, n: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(bag), storage, str(n)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_killed_writer_is_recovered(tmp_path, storage) -> None:
    from mcap.reader import make_reader
    from rosbags.rosbag2 import Reader

    bag = tmp_path / "killed"
    n = 450  # 4.5 s of log time: snapshots at 1 s steps, the last at 4 s (message 400)
    _kill_writer(bag, storage, n)
    stale = read_metadata(bag)
    assert 300 <= stale["message_count"] <= 450  # the refreshed metadata of a killed writer
    result = reindex(bag)
    meta = read_metadata(bag)
    count = meta["message_count"]
    assert 401 <= count <= n  # everything up to the last snapshot at least
    assert meta["topics_with_message_count"][0]["message_count"] == count
    assert meta["files"][0]["starting_time"]["nanoseconds_since_epoch"] == T0
    assert meta["duration"]["nanoseconds"] == (count - 1) * 10_000_000
    assert _texts(bag) == [str(k) for k in range(count)]
    with Reader(bag) as reader:  # an independent reader opens the recovered bag
        assert sum(1 for _ in reader.messages()) == count
    if storage == "mcap":
        assert result.repaired == [("killed_0.mcap", "killed_0.mcap.bak")]
        assert "truncated" in result.problems[0]
        with (bag / "killed_0.mcap").open("rb") as f:
            assert make_reader(f).get_summary().statistics.message_count == count
        assert (bag / "killed_0.mcap.bak").stat().st_size > 0  # original kept
    else:
        assert not (bag / "killed_0.db3-wal").exists()


def test_truncated_mcap_reads_its_complete_part(tmp_path) -> None:
    src = tmp_path / "src"
    with BagWriter(src, chunk_size=1500) as w:
        a = w.add_topic("/a", STRING)
        for k in range(300):
            w.write(a, T0 + k * 1_000_000, string_cdr(f"message number {k}"))
    data = (src / "src_0.mcap").read_bytes()
    seen = []
    for frac in (0.999, 0.75, 0.5, 0.2, 0.01):
        cut = int(len(data) * frac)
        bag = tmp_path / f"cut{cut}"
        shutil.copytree(src, bag)
        (bag / "src_0.mcap").write_bytes(data[:cut])
        got = []
        with pytest.raises(BagError, match="truncated"):
            for m in read_messages(bag):
                got.append(store().deserialize_cdr(m.data, STRING).data)
        assert got == [f"message number {k}" for k in range(len(got))]  # a clean prefix
        seen.append(len(got))
        result = reindex(bag)
        assert read_metadata(bag)["message_count"] == len(got)
        assert result.repaired == [("src_0.mcap", "src_0.mcap.bak")]
        assert len(_texts(bag)) == len(got)  # no error any more
        assert (bag / "src_0.mcap.bak").read_bytes() == data[:cut]
    assert seen[0] == 300 and seen == sorted(seen, reverse=True) and seen[-1] == 0
    assert 100 < seen[2] < 200
