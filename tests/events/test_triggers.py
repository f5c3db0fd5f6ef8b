"""Trigger-bearing streams through every path that summarises or forwards triggers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from neuro_nodes.events.codecs import make_decoder, make_encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.stats import EventStats
from neuro_nodes.events.trigger_array import TriggerArray

NEURO = [sys.executable, "-m", "neuro_nodes.cli.main"]


def stream(n: int = 5000, n_triggers: int = 40, seed: int = 0) -> tuple[EventArray, TriggerArray]:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 400_000, n)) * 1000
    events = EventArray(t=t, x=rng.integers(0, 320, n), y=rng.integers(0, 240, n),
                        p=rng.integers(0, 2, n), width=320, height=240)
    tt = np.sort(rng.choice(np.arange(0, 400_000, 7), n_triggers, replace=False)) * 1000
    triggers = TriggerArray(t=tt, id=np.zeros(n_triggers, np.uint8),
                            value=np.arange(n_triggers) % 2 == 0)
    return events, triggers


def write_raw(path: Path, encoding: str, events: EventArray, triggers: TriggerArray) -> None:
    """A RAW file as Prophesee writes it: ``%`` header lines, then the EVT payload."""
    payload = make_encoder(encoding, events.width, events.height).encode(events, triggers)
    header = (f"% evt {'3.0' if encoding == 'evt3' else '2.0'}\n"
              f"% format {encoding.upper()};height={events.height};width={events.width}\n"
              "% end\n").encode()
    path.write_bytes(header + payload)


def neuro(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*NEURO, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_stats_count_trigger_edges() -> None:
    events, triggers = stream()
    stats = EventStats()
    stats.add(events, triggers)
    stats.add(events[:0], triggers[:3])  # a packet with triggers only
    d = stats.as_dict()
    assert (d["trigger_rise"], d["trigger_fall"]) == (20 + 2, 20 + 1)


def test_events_info_reports_triggers_of_evt2_and_evt3_raw(tmp_path: Path) -> None:
    events, triggers = stream()
    for encoding in ("evt2", "evt3"):
        path = tmp_path / f"{encoding}.raw"
        write_raw(path, encoding, events, triggers)
        proc = neuro("events", "info", path, "--json")
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        assert (info["events"], info["trigger_rise"], info["trigger_fall"]) == (5000, 20, 20)
        proc = neuro("events", "info", path)
        assert proc.returncode == 0, proc.stderr
        assert "triggers rising 20, falling 20" in proc.stdout


def test_convert_to_bag_and_raw_keeps_triggers_and_bag_info_counts_them(tmp_path: Path) -> None:
    events, triggers = stream()
    src = tmp_path / "src.raw"
    write_raw(src, "evt2", events, triggers)
    bag = tmp_path / "bag"
    proc = neuro("events", "convert", src, bag, "--packet-us", 500)
    assert proc.returncode == 0, proc.stderr
    proc = neuro("bag", "info", bag, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["events"]["/event_camera/events"]
    assert (summary["events"], summary["trigger_rise"], summary["trigger_fall"]) == (5000, 20, 20)
    raw = tmp_path / "back.raw"
    proc = neuro("events", "convert", bag, raw)
    assert proc.returncode == 0, proc.stderr
    from neuro_nodes.events.sources import open_sources

    (source,) = open_sources(raw)
    chunks = list(source.chunks())
    got = TriggerArray.concatenate([c.triggers for c in chunks])
    assert got.equals(triggers)
    back = EventArray.concatenate([c.events for c in chunks])
    assert len(back) == len(events) and np.array_equal(np.sort(back.t), events.t)


def test_packets_carry_triggers_in_time_order() -> None:
    from neuro_nodes.events.packetize import to_packets

    events, triggers = stream()
    encoder = make_encoder("evt3", 320, 240)
    packets = to_packets(events, encoder, max_dt_ns=1_000_000, triggers=triggers)
    decoder = make_decoder("evt3", 320, 240)
    results = [decoder.decode(p.events) for p in packets]
    assert TriggerArray.concatenate([r.triggers for r in results]).equals(triggers)
    assert sum(len(r.events) for r in results) == len(events)
    ends = [p.t_last_ns for p in packets]
    assert ends == sorted(ends)
