"""``neuro events info|convert`` on the real recordings, through the CLI a user runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NEURO = [sys.executable, "-m", "neuro_nodes.cli.main", "events"]
KEYS = {"events", "on", "off", "trigger_rise", "trigger_fall", "width", "height", "encoding",
        "t_first_ns", "t_last_ns"}


def neuro(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*NEURO, *map(str, args)], capture_output=True, text=True, timeout=120)


def info_json(path: Path, *extra: str) -> dict:
    proc = neuro("info", path, "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_info_on_recordings_gives_the_known_answers(shared_data: Path) -> None:
    topic = "/event_camera/events"
    davis = info_json(shared_data / "event_camera_py_test_events_2")[topic]
    assert davis.keys() >= KEYS
    assert (davis["off"], davis["on"], davis["trigger_rise"] + davis["trigger_fall"]) == (
        360_223, 211_043, 0)
    caer = info_json(shared_data / "event_camera_codecs_libcaer_rollover", "--topic", topic)
    assert caer[topic]["events"] == 334_331 and caer[topic]["on"] == 181_908
    assert (caer[topic]["width"], caer[topic]["height"]) == (640, 480)
    mono = info_json(shared_data / "event_camera_codecs_mono_cd")[topic]
    assert (mono["events"], mono["on"], mono["encoding"]) == (100, 50, "mono")


def test_convert_chain_keeps_every_event(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "event_camera_codecs_libcaer_rollover"
    h5, bag, raw = tmp_path / "a.h5", tmp_path / "bag", tmp_path / "b.raw"
    for a, b in ((src, h5), (h5, bag), (bag, raw)):
        proc = neuro("convert", a, b)
        assert proc.returncode == 0, proc.stderr
        assert "converted 334,331 events" in proc.stdout
    assert info_json(h5)["on"] == 181_908
    assert info_json(bag)["/event_camera/events"]["encoding"] == "evt3"
    final = info_json(raw)
    assert (final["events"], final["on"], final["width"]) == (334_331, 181_908, 640)


def test_clear_errors(shared_data: Path, tmp_path: Path) -> None:
    proc = neuro("info", tmp_path / "missing.raw")
    assert proc.returncode == 1 and "no such file" in proc.stderr
    proc = neuro("info", shared_data / "event_camera_codecs_mono_cd", "--topic", "/nope")
    assert proc.returncode == 1 and "no event topic '/nope'" in proc.stderr
    (tmp_path / "exists.h5").write_bytes(b"")
    proc = neuro("convert", shared_data / "event_camera_codecs_mono_cd", tmp_path / "exists.h5")
    assert proc.returncode == 1 and "already exists" in proc.stderr
    proc = neuro("convert", shared_data / "event_camera_codecs_mono_cd", tmp_path / "x.dat")
    assert proc.returncode == 1 and "read-only" in proc.stderr


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_written_by_convert_opens_with_rosbags_and_mcap(shared_data: Path, tmp_path: Path,
                                                             storage: str) -> None:
    from rosbags.rosbag2 import Reader

    bag = tmp_path / "bag"
    assert neuro("convert", shared_data / "event_camera_codecs_mono_cd", bag,
                 "--storage", storage).returncode == 0
    with Reader(bag) as reader:
        (conn,) = reader.connections
        assert conn.msgtype == "event_camera_msgs/msg/EventPacket"
        assert sum(1 for _ in reader.messages()) >= 1
    if storage == "mcap":
        from mcap.reader import make_reader

        (path,) = bag.glob("*.mcap")
        with path.open("rb") as f:
            summary = make_reader(f).get_summary()
        assert summary.statistics.message_count >= 1
