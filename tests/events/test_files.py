"""Event files: every readable format, round trips of the writable ones, clear errors."""

from __future__ import annotations

from pathlib import Path

import faery
import h5py
import numpy as np
import pytest

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files import EventFileError, open_events, write_events


def random_events(n: int = 60_000, t0_ns: int = 17_000_000_000, span_us: int = 40_000_000,
                  seed: int = 0) -> EventArray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n)) * 1000 + t0_ns  # crosses EVT3's 16.78 s wrap
    return EventArray(t=t, x=rng.integers(0, 640, n).astype(np.uint16),
                      y=rng.integers(0, 480, n).astype(np.uint16),
                      p=rng.integers(0, 2, n).astype(np.uint8), width=640, height=480)


def read_all(path: Path, **kwargs) -> EventArray:
    reader = open_events(path, **kwargs)
    chunks = list(reader.chunks())
    return EventArray.concatenate(chunks) if chunks else EventArray.empty(
        reader.info.width, reader.info.height)


@pytest.mark.parametrize("suffix", [".raw", ".aedat4", ".h5"])
def test_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    events = random_events()
    path = tmp_path / f"events{suffix}"
    chunks = [events[i:i + 7000] for i in range(0, len(events), 7000)]
    assert write_events(path, chunks, 640, 480) == len(events)
    back = read_all(path)
    assert (back.width, back.height) == (640, 480)
    if suffix == ".raw":  # our EVT 3.0 encoder writes a microsecond's events in (y, p, x) order
        events = events[np.lexsort((events.x, events.p, events.y, events.t))]
    assert back.equals(events)


def test_csv_round_trip_with_given_size(tmp_path: Path) -> None:
    events = random_events(5000)
    write_events(tmp_path / "e.csv", [events], 640, 480)
    back = read_all(tmp_path / "e.csv", size=(640, 480))
    assert np.array_equal(back.t, events.t) and np.array_equal(back.x, events.x)
    assert np.array_equal(back.p, events.p)


def test_raw_header_names_the_encoding(tmp_path: Path) -> None:
    write_events(tmp_path / "e.raw", [random_events(100)], 640, 480)
    assert open_events(tmp_path / "e.raw").info.encoding == "evt3"
    assert (tmp_path / "e.raw").read_bytes().startswith(b"% ")


def test_dat_written_by_faery_is_read(tmp_path: Path) -> None:
    events = random_events(3000, t0_ns=0, span_us=1_000_000)
    arr = np.empty(len(events), faery.EVENTS_DTYPE)
    arr["t"], arr["x"], arr["y"], arr["on"] = events.t // 1000, events.x, events.y, events.p > 0
    faery.events_stream_from_array(arr, (640, 480)).to_file(tmp_path / "e.dat", zero_t0=False)
    back = read_all(tmp_path / "e.dat")
    assert np.array_equal(back.x, events.x) and np.array_equal(back.t, events.t)


def test_ecd_events_txt(tmp_path: Path) -> None:
    (tmp_path / "events.txt").write_text("0.000100 10 20 1\n0.000250 11 21 0\n1.5 12 22 1\n")
    back = read_all(tmp_path / "events.txt", size=(240, 180))
    assert back.t.tolist() == [100_000, 250_000, 1_500_000_000]
    assert back.x.tolist() == [10, 11, 12] and back.p.tolist() == [1, 0, 1]


def test_prophesee_and_plain_hdf5_layouts(tmp_path: Path) -> None:
    events = random_events(2000, t0_ns=0, span_us=1_000_000)
    cd = np.empty(len(events), [("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])
    cd["x"], cd["y"], cd["p"], cd["t"] = events.x, events.y, events.p, events.t // 1000
    with h5py.File(tmp_path / "prophesee.hdf5", "w") as f:
        f.attrs["width"], f.attrs["height"] = 640, 480
        f.create_group("CD").create_dataset("events", data=cd)
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        for name in ("t", "x", "y", "p"):
            f.create_dataset(name, data=cd[name])
    assert read_all(tmp_path / "prophesee.hdf5").equals(events)
    plain = read_all(tmp_path / "plain.h5", size=(640, 480))
    assert plain.equals(events)


def test_hdf5_without_events_is_a_clear_error(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("images", data=np.zeros(3))
    with pytest.raises(EventFileError, match="no events/"):
        open_events(tmp_path / "other.h5")


@pytest.mark.parametrize("name", ["e.h5", "e.aedat4", "e.raw"])
def test_garbage_files_give_clear_errors(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(EventFileError, match=name):
        read_all(path)


def test_truncated_aedat4_keeps_the_readable_part(tmp_path: Path) -> None:
    events = random_events(200_000)
    path = tmp_path / "e.aedat4"
    write_events(path, [events[i:i + 20_000] for i in range(0, len(events), 20_000)], 640, 480)
    data = path.read_bytes()
    (tmp_path / "cut.aedat4").write_bytes(data[: len(data) * 2 // 3])
    got: list[EventArray] = []
    with pytest.raises(EventFileError, match="corrupt or truncated"):
        got.extend(open_events(tmp_path / "cut.aedat4").chunks())
    assert got and sum(len(c) for c in got) < len(events)
    assert EventArray.concatenate(got).equals(events[: sum(len(c) for c in got)])


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EventFileError, match="unknown event file type"):
        (tmp_path / "e.xyz").write_text("1"), open_events(tmp_path / "e.xyz")
    with pytest.raises(EventFileError, match="no such file"):
        open_events(tmp_path / "missing.raw")
    with pytest.raises(EventFileError, match="cannot write"):
        write_events(tmp_path / "e.dat", [], 640, 480)
