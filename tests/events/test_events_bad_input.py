"""``neuro events info|convert`` on bad input: one-line errors naming the file or field,
sizes the events do not contradict, nothing created or left behind on failure."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuro_nodes.events.codecs import make_encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files import open_events
from neuro_nodes.events.sources import open_sources

NEURO = [sys.executable, "-m", "neuro_nodes.cli.main", "events"]
GEN3 = "prophesee_gen3_evt2/recording.raw"


def neuro(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*NEURO, *map(str, args)], capture_output=True, text=True, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def davis_like(n: int = 20_000) -> EventArray:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 346, n)
    x[:2] = (0, 345)
    y = rng.integers(0, 260, n)
    y[:2] = (0, 259)
    return EventArray(t=np.sort(rng.integers(0, 500_000, n)) * 1000, x=x, y=y,
                      p=rng.integers(0, 2, n), width=346, height=260)


def raw_with_header(path: Path, header: str, events: EventArray) -> Path:
    payload = make_encoder("evt3", events.width, events.height).encode(events)
    path.write_bytes(header.encode() + payload)
    return path


def test_gen3_raw_without_geometry_is_640x480_from_its_system_id(shared_data: Path) -> None:
    reader = open_events(shared_data / GEN3)
    assert (reader.info.width, reader.info.height) == (640, 480)
    assert "system_ID 21" in reader.info.size_origin
    proc = neuro("info", shared_data / GEN3, "--json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    info = json.loads(proc.stdout)
    assert (info["width"], info["height"], info["events"]) == (640, 480, 521_252)
    assert (info["on"], info["off"]) == (185_861, 335_391)
    assert info["warnings"] == [] and "system_ID 21" in info["size_origin"]
    (source,) = open_sources(shared_data / GEN3)
    t_sum_us = sum(int((c.events.t // 1000).sum()) for c in source.chunks())
    assert t_sum_us == 476_298_094_656_969


def test_user_size_that_the_events_contradict_is_warned_and_grown(shared_data: Path) -> None:
    proc = neuro("info", shared_data / GEN3, "--width", 320, "--height", 240, "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert (info["width"], info["height"], info["events"]) == (640, 480, 521_252)
    assert "outside the 320x240 the user gives; using 640x480" in proc.stderr
    proc = neuro("info", shared_data / GEN3, "--width", 800, "--height", 600, "--json")
    assert json.loads(proc.stdout)["width"] == 800 and proc.stderr == ""  # not contradicted


def test_header_10x10_on_346x260_data_keeps_every_event(tmp_path: Path) -> None:
    events = davis_like()
    src = raw_with_header(tmp_path / "small.raw", "% evt 3.0\n% format EVT3;height=10;width=10\n"
                          "% end\n", events)
    proc = neuro("info", src, "--json")
    info = json.loads(proc.stdout)
    assert (info["events"], info["width"], info["height"]) == (len(events), 346, 260)
    assert "outside the 10x10 the header's format gives" in proc.stderr
    out = tmp_path / "out.h5"
    proc = neuro("convert", src, out)
    assert proc.returncode == 0, proc.stderr
    assert f"converted {len(events):,} events" in proc.stdout
    assert "written at 346x260" in proc.stderr
    back = open_events(out)
    assert (back.info.width, back.info.height) == (346, 260)
    assert sum(len(c) for c in back.chunks()) == len(events)


@pytest.mark.parametrize("line, field", [
    ("geometry 0x0", "'geometry 0x0' width: 0 is outside 1..2048"),
    ("geometry abcx480", "'geometry abcx480' width: 'abc' is not a whole number"),
    ("format EVT3;width=abc;height=480", "'format EVT3;width=abc;height=480' width: 'abc'"),
])
def test_header_size_that_is_not_a_size_is_named_and_ignored(tmp_path: Path, line: str,
                                                             field: str) -> None:
    events = davis_like()
    src = raw_with_header(tmp_path / "bad.raw", f"% evt 3.0\n% {line}\n% end\n", events)
    proc = neuro("info", src, "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert (info["events"], info["width"], info["height"]) == (len(events), 346, 260)
    assert str(src) in proc.stderr and field in proc.stderr
    proc = neuro("info", src, "--width", 400, "--height", 300, "--json")  # the user decides
    assert json.loads(proc.stdout)["width"] == 400 and proc.stderr == ""


def test_size_options_share_one_limit_and_name_the_option(tmp_path: Path,
                                                          shared_data: Path) -> None:
    src = shared_data / GEN3
    for action in ("info", "convert"):  # the rule is in the help
        text = " ".join(neuro(action, "--help").stdout.split())
        assert "Events are never dropped for their coordinates" in text, text
    for action in (("info", src), ("convert", src, tmp_path / "o.h5")):
        proc = neuro(*action, "--width", "abc", "--height", 480)
        assert proc.returncode == 2 and "--width: 'abc' is not a whole number" in proc.stderr
        proc = neuro(*action, "--width", 70000, "--height", 480)
        assert proc.returncode == 2 and "--width: 70000 is outside 1..65536" in proc.stderr
        proc = neuro(*action, "--size", "640xabc")
        one_line_error(proc, "--size height: 'abc' is not a whole number")
    assert not (tmp_path / "o.h5").exists()
    # a size EVT cannot address: refused before the bag exists, naming the limit
    proc = neuro("convert", src, tmp_path / "bag", "--width", 4000, "--height", 3000)
    one_line_error(proc, "at most 2048x2048", "4000x3000")
    assert not (tmp_path / "bag").exists()
    proc = neuro("convert", src, tmp_path / "big.h5", "--width", 4000, "--height", 3000)
    assert proc.returncode == 0, proc.stderr


def test_packet_us_0_is_refused_before_anything_is_created(tmp_path: Path,
                                                           shared_data: Path) -> None:
    src = shared_data / "event_camera_codecs_mono_cd"
    out = tmp_path / "bag"
    proc = neuro("convert", src, out, "--packet-us", 0)
    assert proc.returncode == 2 and "--packet-us: 0 is outside" in proc.stderr
    assert not out.exists()
    from neuro_nodes.cli.events_cmd import convert  # the path `neuro bag convert` takes

    assert convert(str(src), str(out), None, "/events", None, 0, "mcap") == 1
    assert not out.exists()
    assert neuro("convert", src, out).returncode == 0  # a rerun is not blocked


def test_failed_convert_removes_its_partial_output_but_never_an_existing_one(
        tmp_path: Path, shared_data: Path) -> None:
    bag = tmp_path / "bag"
    assert neuro("convert", shared_data / "event_camera_codecs_libcaer_rollover", bag
                 ).returncode == 0
    (mcap,) = bag.glob("*.mcap")
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])  # truncated: fails midway through the conversion
    for out in (tmp_path / "out.h5", tmp_path / "outbag", tmp_path / "out.raw"):
        proc = neuro("convert", bag, out)
        one_line_error(proc, str(mcap), "truncated")
        assert not out.exists()
    existing = tmp_path / "keep.h5"
    existing.write_bytes(b"precious")
    proc = neuro("convert", bag, existing)
    one_line_error(proc, "already exists")
    assert existing.read_bytes() == b"precious"


def _bags(tmp_path: Path, shared_data: Path) -> dict[str, Path]:
    src = shared_data / "event_camera_codecs_libcaer_rollover"
    made = {}
    for storage in ("mcap", "sqlite3"):
        bag = tmp_path / storage
        assert neuro("convert", src, bag, "--storage", storage).returncode == 0
        made[storage] = bag
    cut = tmp_path / "cut_mcap"
    shutil.copytree(made["mcap"], cut)
    (f,) = cut.glob("*.mcap")
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    cutdb = tmp_path / "cut_db3"
    shutil.copytree(made["sqlite3"], cutdb)
    (f,) = cutdb.glob("*.db3")
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    yaml_bad = tmp_path / "bad_yaml"
    shutil.copytree(made["mcap"], yaml_bad)
    (yaml_bad / "metadata.yaml").write_text("rosbag2_bagfile_information:\n  version: [9\n")
    random = tmp_path / "random_yaml"
    shutil.copytree(made["mcap"], random)
    (random / "metadata.yaml").write_bytes(bytes(np.random.default_rng(0).integers(
        128, 256, 300, dtype=np.uint8)))
    return {"cut_mcap": cut, "cut_db3": cutdb, "bad_yaml": yaml_bad, "random_yaml": random}


def test_broken_bags_give_one_line_errors_naming_the_file(tmp_path: Path,
                                                          shared_data: Path) -> None:
    bags = _bags(tmp_path, shared_data)
    expected = {"cut_mcap": ".mcap", "cut_db3": ".db3", "bad_yaml": "metadata.yaml",
                "random_yaml": "metadata.yaml"}
    for name, bag in bags.items():
        before = sorted(p.name for p in bag.iterdir())
        proc = neuro("info", bag)
        one_line_error(proc, str(bag), expected[name])
        proc = neuro("info", bag, "--json")
        one_line_error(proc, str(bag), expected[name])
        out = tmp_path / f"{name}.h5"
        proc = neuro("convert", bag, out)
        one_line_error(proc, str(bag), expected[name])
        assert not out.exists()
        assert sorted(p.name for p in bag.iterdir()) == before  # the input is untouched
    assert "not UTF-8" in neuro("info", bags["random_yaml"]).stderr
    assert "not valid YAML" in neuro("info", bags["bad_yaml"]).stderr
