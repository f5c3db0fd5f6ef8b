"""``neuro bag`` on bad input: one-line errors naming the file, nothing lost or left behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NEURO = [sys.executable, "-m", "neuro_nodes.cli.main", "bag"]
MCAP_BAG = "event_camera_py_test_events_2"
DB3_BAG = "event_camera_codecs_libcaer_rollover"


def neuro(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*NEURO, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def _copy(shared_data: Path, name: str, dst: Path) -> Path:
    shutil.copytree(shared_data / name, dst)
    return dst


def _truncate(folder: Path, suffix: str) -> Path:
    (storage,) = folder.glob(f"*{suffix}")
    size = storage.stat().st_size
    with storage.open("r+b") as f:
        f.truncate(size // 2)
    return storage


def broken_bag(kind: str, shared_data: Path, tmp_path: Path) -> tuple[Path, str]:
    """A damaged copy of a real bag and the file its error must name."""
    if kind == "truncated_mcap":
        bag = _copy(shared_data, MCAP_BAG, tmp_path / kind)
        return bag, _truncate(bag, ".mcap").name
    if kind == "truncated_db3":
        bag = _copy(shared_data, DB3_BAG, tmp_path / kind)
        return bag, _truncate(bag, ".db3").name
    bag = _copy(shared_data, MCAP_BAG, tmp_path / kind)
    meta = bag / "metadata.yaml"
    if kind == "broken_yaml":
        meta.write_text("rosbag2_bagfile_information: [unclosed\n  x: {\n")
    else:  # random bytes, including ones that are not UTF-8
        meta.write_bytes(bytes([0x9f, 0x83, 0x00, 0xff]) + bytes(range(256)) * 2)
    return bag, "metadata.yaml"


@pytest.mark.parametrize("kind", ["truncated_mcap", "truncated_db3", "broken_yaml",
                                  "random_bytes"])
def test_convert_and_info_on_damaged_bags(shared_data: Path, tmp_path: Path, kind: str) -> None:
    bag, named = broken_bag(kind, shared_data, tmp_path)
    out = tmp_path / "out.h5"
    res = neuro("convert", str(bag), str(out))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuro bag convert: "), res.stderr
    assert named in lines[0]
    assert not out.exists()  # no partial output left

    info = neuro("info", str(bag))
    assert "Traceback" not in info.stderr, info.stderr
    assert info.returncode in (0, 1)
    assert named in info.stdout + info.stderr  # the damaged file is named
    if kind in ("broken_yaml", "random_bytes"):
        assert info.returncode == 0  # computed from the storage files instead
        assert "metadata.yaml: not " in info.stdout
        assert "\n      " not in info.stdout.split("Problems:")[1]  # the problem on one line


def test_folder_without_metadata_is_not_called_missing(shared_data: Path, tmp_path: Path
                                                       ) -> None:
    bag = _copy(shared_data, MCAP_BAG, tmp_path / "no_meta")
    (bag / "metadata.yaml").unlink()
    res = neuro("convert", str(bag), str(tmp_path / "out.h5"))
    assert res.returncode == 1
    assert "no such file" not in res.stderr
    assert "without metadata.yaml" in res.stderr and "neuro bag reindex" in res.stderr
    assert res.stderr.startswith("neuro bag convert: ")


def test_packet_us_zero_is_refused_before_anything_is_created(shared_data: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "converted"
    res = neuro("convert", str(shared_data / MCAP_BAG), str(out), "--packet-us", "0")
    assert res.returncode == 2 and "--packet-us" in res.stderr
    assert not out.exists()
    again = neuro("convert", str(shared_data / MCAP_BAG), str(out))  # a rerun is not blocked
    assert again.returncode == 0, again.stderr
    assert (out / "metadata.yaml").is_file()


def test_ros1_packet_us_zero_is_refused(tmp_path: Path) -> None:
    from test_ros1_convert import _events, _write_ros1

    src = tmp_path / "events.bag"
    _write_ros1(src, "dvs_msgs", *_events(0, 2000))
    out = tmp_path / "converted"
    res = neuro("convert", str(src), str(out), "--packet-us", "0")
    assert res.returncode == 2 and "--packet-us" in res.stderr
    assert not out.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    res = neuro("convert", str(src), str(existing))
    assert res.returncode == 1 and "already exists" in res.stderr
    assert (existing / "keep.txt").read_text() == "mine"  # never removed


def test_reindex_of_a_corrupt_db3_keeps_the_good_metadata(shared_data: Path, tmp_path: Path
                                                          ) -> None:
    bag = _copy(shared_data, DB3_BAG, tmp_path / "corrupt")
    good = (bag / "metadata.yaml").read_bytes()
    storage = _truncate(bag, ".db3")
    res = neuro("reindex", str(bag))
    assert res.returncode == 1, res.stdout
    assert "corrupt sqlite3 database" in res.stderr and storage.name in res.stderr
    assert "kept as it was" in res.stderr
    assert (bag / "metadata.yaml").read_bytes() == good
    assert not (bag / "metadata.yaml.bak").exists()


@pytest.mark.parametrize("args, reason", [
    (["bad topic!"], "'bad topic!' is not a valid topic name"),
    (["--topics", "/ok", "no spaces"], "'no spaces' is not a valid topic name"),
    (["/events", "--duration", "-1"], "--duration: must be a positive number of seconds"),
    (["/events", "--duration", "0"], "--duration: must be a positive number of seconds"),
    ([], "nothing to record"),
])
def test_record_refuses_bad_topics_and_durations(tmp_path: Path, args: list[str],
                                                 reason: str) -> None:
    out = tmp_path / "never"
    res = neuro("record", *args, "-o", str(out))
    assert res.returncode == 2, res.stdout + res.stderr
    assert reason in res.stderr
    assert not out.exists()


@pytest.mark.ros
def test_play_start_offset_past_the_end_is_refused(shared_data: Path) -> None:
    res = neuro("play", str(shared_data / MCAP_BAG), "--start-offset", "5")
    assert res.returncode == 1
    assert "start_offset 5 s is past the end" in res.stderr
    assert "its duration is 0.990 s" in res.stderr


@pytest.mark.parametrize("args, reason", [
    (["--delay", "-1"], "--delay: must be 0 or more seconds"),
    (["--wait-timeout", "nan"], "--wait-timeout: must be 0 or more seconds"),
    (["--wait-for-subscribers", "-2"], "--wait-for-subscribers and --wait-for-all-acked"),
])
def test_play_refuses_bad_waits(shared_data: Path, args: list[str], reason: str) -> None:
    res = neuro("play", str(shared_data / MCAP_BAG), *args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert reason in res.stderr
