"""Event benchmark: codec decode/encode rates against faery, decode memory, emulator throughput.

Everything is measured in one process, on the same data, in the same run::

    python -m benchmarks.events [--quick] [--json]

Data: the real DAVIS346 recording ``event_camera_py_test_events_2`` (346x260, ``libcaer_cmp``,
under ``../shared/data``), decoded with our codec and re-encoded to EVT 3.0 / EVT 2.0 packets
of 1 ms as a driver sends them (10 ms packets and the whole stream as one RAW file too); and a
synthetic dense 640x480 stream (rows of nearby events in one microsecond, as a sensor reads
them out, plus uniform noise). faery decodes the same payload bytes written as a RAW file
(header ``% evt 3.0`` / ``% format EVT3;width=W;height=H`` / ``% geometry WxH`` / ``% end``)
and encodes the same events to EVT 3.0.

Decoding 1 ms packets is measured as a node does it: the payloads arrive as ``array.array('B')``
(what rclpy hands a subscriber for ``uint8[]``), and the node decodes the packets queued since
its last callback in one ``decode_many`` call. ``{enc}_decode_mevps`` and
``speedup_{enc}_decode_vs_faery`` are that path with ``CALLBACK_PACKETS`` (10) packets per call:
a 100 Hz consumer, the fastest callback rate of the event nodes (``event_renderer`` at its
default 25 fps takes 40 per frame: ``..._decode_batch40_...``). One ``decode`` call per packet
is reported beside it (``..._decode_per_packet_...``). faery decodes the same bytes as a file.

Rates are in millions of events per second, best of N runs after a warm-up run (so numba's
compilation is excluded: the first calls of all codecs are timed separately as
``jit_warmup_s``, which is short when the kernels come from numba's on-disk cache). The decode
rates that are compared with faery are measured in interleaved rounds (ours, faery, ours, ...),
so that load from other processes affects both sides of a ratio alike.
"""

from __future__ import annotations

import array
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import machine as shared_machine
from benchmarks import suite_main
from neuro_nodes.events.codecs import make_decoder, make_encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.packetize import to_packets
from neuro_nodes.paths import shared_data_dir

RECORDING = "event_camera_py_test_events_2"
ROLLOVER_RECORDING = "event_camera_codecs_libcaer_rollover"
CODEC_MODULES = ("evt3", "evt2", "libcaer", "libcaer_cmp")
#: Packets per ``decode_many`` call in the headline decode rate: 10 ms of 1 ms packets, what a
#: 100 Hz callback (a 10 ms render or SNN step) finds queued.
CALLBACK_PACKETS = 10
#: What ``event_renderer`` finds queued at its default 25 fps.
RENDERER_PACKETS = 40


def _log(msg: str) -> None:
    print(f"[bench events] {msg}", file=sys.stderr, flush=True)


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Seconds of the fastest of ``repeat`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _best_interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Seconds of the fastest of ``repeat`` calls of each function, called in turns (after
    one warm-up call each), so that a burst of load from elsewhere hits all of them."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _mevps(n: int, seconds: float) -> float:
    return round(n / seconds / 1e6, 2)


# ------------------------------------------------------------------------------ machine
def machine() -> dict[str, Any]:
    return {**shared_machine("numba", "faery"), "numpy": np.__version__}


def jit_warmup() -> dict[str, Any]:
    """Time the first decode/encode call of every codec (numba compiles or loads its kernels
    from the cache then), and count cache hits and compilations."""
    import importlib

    from numba.core.registry import CPUDispatcher

    ev = EventArray(np.arange(64) * 1000, np.arange(64) % 40, np.arange(64) % 30,
                    np.arange(64) % 2, 64, 64)
    t0 = time.perf_counter()
    for enc in ("evt3", "evt2"):
        payload = make_encoder(enc, 64, 64).encode(ev)
        make_decoder(enc, 64, 64).decode(payload)  # bytes: a read-only array
        make_decoder(enc, 64, 64).decode(bytearray(payload))  # writable: another compilation
    make_decoder("libcaer", 64, 64).decode(bytes(16))
    make_decoder("libcaer_cmp", 64, 64).decode(bytes(16))
    seconds = time.perf_counter() - t0
    hits = misses = 0
    for name in CODEC_MODULES:
        module = importlib.import_module(f"neuro_nodes.events.codecs.{name}")
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher):
                hits += sum(obj.stats.cache_hits.values())
                misses += sum(obj.stats.cache_misses.values())
    return {"jit_warmup_s": round(seconds, 3), "jit_cache_hits": hits, "jit_compiled": misses}


# --------------------------------------------------------------------------------- data
def davis_events() -> tuple[EventArray, list[tuple[int, bytes]], str]:
    """The DAVIS recording's events and its (time_base, payload) packets, or a synthetic
    sparse stream (and no packets) where the recording is absent."""
    folder = shared_data_dir() / RECORDING
    if folder.is_dir():
        from neuro_nodes.bag.event_packets import read_event_packets

        packets = list(read_event_packets(folder))
        encoding, width, height = packets[0].encoding, packets[0].width, packets[0].height
        payloads = [(p.time_base, bytes(p.events)) for p in packets]
        decoder = make_decoder(encoding, width, height)
        events = EventArray.concatenate([decoder.decode(pl, tb).events for tb, pl in payloads])
        desc = (f"{RECORDING}: real DAVIS346 recording, {width}x{height}, {encoding}, "
                f"{len(packets)} packets")
        return events, payloads, desc
    rng = np.random.default_rng(1)
    n = 571_266
    t = np.sort(rng.integers(0, 1_000_000, n)) * 1000
    events = EventArray(t, rng.integers(0, 346, n), rng.integers(0, 260, n),
                        rng.integers(0, 2, n), 346, 260)
    return events, [], "synthetic sparse 346x260 stream (the DAVIS recording was not found)"


def dense_events(n: int, width: int = 640, height: int = 480, seed: int = 0) -> EventArray:
    """``n`` events over 1 s: 80 % in row bursts (16 events 1-2 px apart in one row, one
    microsecond and polarity: what EVT 3.0 vectors carry), 20 % uniform noise."""
    rng = np.random.default_rng(seed)
    run = 16
    k = n * 4 // 5 // run
    t = rng.integers(0, 1_000_000, k)
    y = rng.integers(0, height, k)
    p = rng.integers(0, 2, k)
    x = rng.integers(0, width - 2 * run, k)[:, None] + np.cumsum(
        rng.integers(1, 3, (k, run)), axis=1) - 1
    m = n - k * run
    t = np.concatenate((np.repeat(t, run), rng.integers(0, 1_000_000, m)))
    order = np.argsort(t, kind="stable")
    cols = [
        t,
        np.concatenate((x.reshape(-1), rng.integers(0, width, m))),
        np.concatenate((np.repeat(y, run), rng.integers(0, height, m))),
        np.concatenate((np.repeat(p, run), rng.integers(0, 2, m))),
    ]
    t, x, y, p = (c[order] for c in cols)
    return EventArray(t * 1000, x, y, p, width, height)


def _slices(events: EventArray, dt_ns: int, max_events: int = 100_000) -> list[EventArray]:
    """Time-sorted events cut as ``to_packets`` cuts them (the events of each packet)."""
    t = events.t
    out = []
    i = 0
    while i < len(events):
        end = min(i + max_events, int(np.searchsorted(t, t[i] + dt_ns, side="left")))
        out.append(events[i:end])
        i = end
    return out


def _payloads(events: EventArray, encoding: str, dt_ns: int) -> list[bytes]:
    """A driver's packets: one stream, cut every ``dt_ns`` (``packetize.to_packets``)."""
    return [p.events for p in to_packets(events, encoding, max_dt_ns=dt_ns)]


def write_raw(path: Path, payload: bytes, encoding: str, width: int, height: int) -> None:
    version = {"evt3": "3.0", "evt2": "2.0"}[encoding]
    header = (f"% evt {version}\n% format {encoding.upper()};width={width};height={height}\n"
              f"% geometry {width}x{height}\n% end\n")
    path.write_bytes(header.encode() + payload)


# ---------------------------------------------------------------------------- measures
def decode_rate(encoding: str, payloads: list[bytes], width: int, height: int, repeat: int,
                time_bases: list[int] | None = None) -> tuple[float, int]:
    """Decode all payloads as one stream with a fresh decoder: (M events/s, events)."""
    bases = time_bases or [0] * len(payloads)
    count = [0]

    def run() -> None:
        decoder = make_decoder(encoding, width, height)
        n = 0
        for tb, payload in zip(bases, payloads, strict=True):
            n += len(decoder.decode(payload, tb).events)
        count[0] = n

    seconds = _best(run, repeat)
    return _mevps(count[0], seconds), count[0]


def decode_runs(encoding: str, payloads: list[bytes], width: int, height: int,
                batch: int, count: list[int]) -> Callable[[], None]:
    """A run over all packets of one stream with a fresh decoder, as a subscriber gets them
    (``array.array('B')``): one ``decode`` per packet (``batch`` 1) or ``decode_many`` over
    ``batch`` consecutive packets per call. The run stores its event count in ``count[0]``."""
    msgs = [array.array("B", p) for p in payloads]
    batches = [msgs[i : i + batch] for i in range(0, len(msgs), batch)]

    def per_packet() -> None:
        decoder = make_decoder(encoding, width, height)
        count[0] = sum(len(decoder.decode(m).events) for m in msgs)

    def batched() -> None:
        decoder = make_decoder(encoding, width, height)
        count[0] = sum(len(decoder.decode_many(b).events) for b in batches)

    return per_packet if batch == 1 else batched


def file_decode_run(path: Path, count: list[int]) -> Callable[[], None]:
    """Our RAW reader over a whole file (blocks of 4 MiB), as faery reads it."""
    from neuro_nodes.events.files.raw import RawReader

    def run() -> None:
        count[0] = sum(len(ev) for ev in RawReader(path).chunks())

    return run


def faery_decode_run(path: Path, count: list[int]) -> Callable[[], None]:
    import faery

    def run() -> None:
        count[0] = sum(len(chunk) for chunk in faery.events_stream_from_file(path))

    return run


def compare_decodes(enc: str, payloads: list[bytes], width: int, height: int, raw: Path,
                    repeat: int, prefix: str = "") -> tuple[dict[str, Any], list[int]]:
    """Our decodes of one stream's 1 ms packets (per packet, per callback batch, the whole
    file) and faery's decode of the same bytes, in interleaved rounds; the rates, the
    speedups against faery, and the event counts of all runs (which must agree)."""
    k = f"{prefix}{enc}"
    counts = {name: [0] for name in ("batch", "per_packet", "batch40", "file", "faery")}
    runs = {
        "batch": decode_runs(enc, payloads, width, height, CALLBACK_PACKETS, counts["batch"]),
        "per_packet": decode_runs(enc, payloads, width, height, 1, counts["per_packet"]),
        "batch40": decode_runs(enc, payloads, width, height, RENDERER_PACKETS,
                               counts["batch40"]),
        "file": file_decode_run(raw, counts["file"]),
        "faery": faery_decode_run(raw, counts["faery"]),
    }
    best = _best_interleaved(runs, repeat)
    rate = {name: _mevps(counts[name][0], best[name]) for name in runs}
    out = {
        f"{k}_decode_mevps": rate["batch"],
        f"{k}_decode_per_packet_mevps": rate["per_packet"],
        f"{k}_decode_batch40_mevps": rate["batch40"],
        f"{k}_file_decode_mevps": rate["file"],
        f"faery_{k}_decode_mevps": rate["faery"],
        # the ratios from the seconds (not the rounded rates) of the same run
        f"speedup_{k}_decode_vs_faery": round(best["faery"] / best["batch"], 2),
        f"speedup_{k}_decode_per_packet_vs_faery": round(best["faery"] / best["per_packet"], 2),
        f"speedup_{k}_decode_batch40_vs_faery": round(best["faery"] / best["batch40"], 2),
        f"speedup_{k}_file_decode_vs_faery": round(best["faery"] / best["file"], 2),
    }
    return out, [counts[name][0] for name in runs]


def encode_rate(encoding: str, chunks: list[EventArray], repeat: int) -> float:
    """Encode consecutive packets with a fresh encoder."""
    width, height = chunks[0].width, chunks[0].height

    def run() -> None:
        encoder = make_encoder(encoding, width, height)
        for c in chunks:
            encoder.encode(c)

    return _mevps(sum(len(c) for c in chunks), _best(run, repeat))


def faery_encode_rate(events: EventArray, folder: Path, repeat: int) -> float:
    import faery

    arr = np.empty(len(events), dtype=faery.EVENTS_DTYPE)
    arr["t"] = events.t // 1000
    arr["x"] = events.x
    arr["y"] = events.y
    arr["on"] = events.p.astype(bool)
    path = folder / "faery_out.raw"

    def run() -> None:
        faery.events_stream_from_array(arr, (events.width, events.height)).to_file(
            path, version="evt3")

    return _mevps(len(events), _best(run, repeat))


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns the memory ``a`` views."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def decode_memory(encoding: str, payloads: list[bytes], width: int, height: int
                  ) -> dict[str, Any]:
    """Output bytes of a decode of every packet (results kept), and the memory it took."""
    decoder = make_decoder(encoding, width, height)
    decoder.decode(payloads[0])  # compiled / loaded already; first-call allocations aside
    decoder.reset()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    results = [decoder.decode(p) for p in payloads]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cols = [c for r in results for c in (r.events.t, r.events.x, r.events.y, r.events.p)]
    n = sum(len(r.events) for r in results)
    used = sum(c.nbytes for c in cols)
    owners = {id(o): o for o in map(_owner, cols)}
    allocated = sum(o.nbytes for o in owners.values())  # (numba allocates through
    # PyMem_RawMalloc: tracemalloc sees the arrays that the kernels allocate too)
    return {
        f"{encoding}_bytes_per_event": round(used / n, 2),
        f"{encoding}_allocated_bytes_per_event": round(allocated / n, 2),
        f"{encoding}_bytes_per_packet": round(used / len(payloads)),
        f"{encoding}_decode_all_tracemalloc_peak_bytes": peak,
        f"{encoding}_decode_all_tracemalloc_peak_bytes_per_event": round(peak / n, 2),
        # ru_maxrss is in KiB on Linux; 0 when the process's earlier peak was higher
        f"{encoding}_decode_all_peak_rss_delta_bytes": (rss_after - rss_before) * 1024,
    }


def textured_frames(width: int, height: int, n: int) -> list[np.ndarray]:
    """A textured pattern (sinusoids, a checkerboard, noise) moving 1 px per frame."""
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:height, 0:width + n].astype(np.float64)
    img = 0.5 + 0.2 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
    img += 0.15 * (((xx // 16) + (yy // 16)) % 2) + 0.1 * rng.random(img.shape)
    img = np.clip(img, 0.02, 1.0)
    return [np.ascontiguousarray(img[:, i : i + width]) for i in range(n)]


def emulator_rate(width: int, height: int, n_frames: int) -> dict[str, float]:
    from neuro_nodes.events.emulator import PRESETS, EventEmulator

    frames = textured_frames(width, height, n_frames + 1)
    emu = EventEmulator(width, height, PRESETS["clean"])
    emu.feed(frames[0], 0)  # sets the pixel state only
    n = 0
    t0 = time.perf_counter()
    for i, frame in enumerate(frames[1:], start=1):
        n += len(emu.feed(frame, i * 1_000_000))  # 1 ms frames
    seconds = time.perf_counter() - t0
    key = f"emulator_{width}x{height}"
    return {
        f"{key}_mevps": round(n / seconds / 1e6, 3),
        f"{key}_fps": round(n_frames / seconds, 1),
        f"{key}_events_per_frame": round(n / n_frames),
    }


# ---------------------------------------------------------------------------------- run
def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark; returns a flat dict of results (rates in M events/s)."""
    import faery  # noqa: F401  (fail early if absent)

    repeat = 2 if quick else 5
    out: dict[str, Any] = {"quick": quick, "machine": machine()}
    _log("first calls of the codecs (numba)")
    out.update(jit_warmup())

    _log("DAVIS recording")
    events, cmp_packets, desc = davis_events()
    w, h = events.width, events.height
    data: dict[str, Any] = {
        "davis": desc, "davis_events": len(events),
        "decode_batch": (f"{{enc}}_decode_mevps: decode_many over {CALLBACK_PACKETS} 1 ms "
                         f"packets per call (a 100 Hz callback); _batch40: {RENDERER_PACKETS} "
                         "(event_renderer at 25 fps); _per_packet: one decode per packet; "
                         "payloads as array.array('B'), as rclpy delivers uint8[]"),
    }
    if cmp_packets:
        rate, _ = decode_rate("libcaer_cmp", [p for _, p in cmp_packets], w, h, repeat,
                              [tb for tb, _ in cmp_packets])
        out["libcaer_cmp_decode_mevps"] = rate
    rollover = shared_data_dir() / ROLLOVER_RECORDING
    if rollover.is_dir():
        from neuro_nodes.bag.event_packets import read_event_packets

        pk = list(read_event_packets(rollover))
        rate, n = decode_rate("libcaer", [bytes(p.events) for p in pk], pk[0].width,
                              pk[0].height, repeat, [p.time_base for p in pk])
        out["libcaer_decode_mevps"] = rate
        data["libcaer"] = (f"{ROLLOVER_RECORDING}: real recording, {pk[0].width}x"
                           f"{pk[0].height}, libcaer, {len(pk)} packets, {n} events")

    with tempfile.TemporaryDirectory(prefix="bench_events_") as tmp:
        folder = Path(tmp)
        n_dense = 500_000 if quick else 5_000_000
        for prefix, ev in (("", events), ("dense_", None)):
            if ev is None:
                _log(f"synthetic dense stream ({n_dense} events)")
                ev = dense_events(n_dense)
                data["dense"] = (f"synthetic dense {ev.width}x{ev.height}: {len(ev)} events "
                                 "over 1 s, 80 % in 16-event row bursts, 20 % noise")
                data["dense_events"] = len(ev)
            ew, eh = ev.width, ev.height
            for enc in ("evt3", "evt2"):
                _log(f"{prefix or 'davis_'}{enc}")
                payloads = _payloads(ev, enc, 1_000_000)
                whole = b"".join(payloads)
                data[f"{prefix}{enc}_packets_1ms"] = len(payloads)
                data[f"{prefix}{enc}_bytes"] = len(whole)
                data[f"{prefix}{enc}_bytes_per_event"] = round(len(whole) / len(ev), 2)
                data[f"{prefix}{enc}_events_per_packet_1ms"] = round(len(ev) / len(payloads))
                if not prefix and enc == "evt3":
                    out.update(decode_memory(enc, payloads, ew, eh))
                raw = folder / f"{prefix}{enc}.raw"
                write_raw(raw, whole, enc, ew, eh)
                rates, counts = compare_decodes(enc, payloads, ew, eh, raw, repeat, prefix)
                out.update(rates)
                if len(set(counts)) > 1:  # ours (4 ways) and faery's, in that order
                    out[f"faery_{prefix}{enc}_event_count_mismatch"] = counts
                if not quick:
                    out[f"{prefix}{enc}_decode_10ms_mevps"] = decode_rate(
                        enc, _payloads(ev, enc, 10_000_000), ew, eh, repeat)[0]
                out[f"{prefix}{enc}_encode_mevps"] = encode_rate(
                    enc, _slices(ev, 1_000_000), repeat)
            out[f"faery_{prefix}evt3_encode_mevps"] = faery_encode_rate(ev, folder, repeat)
            out[f"speedup_{prefix}evt3_encode_vs_faery"] = round(
                out[f"{prefix}evt3_encode_mevps"] / out[f"faery_{prefix}evt3_encode_mevps"], 2)

    n_frames = 10 if quick else 100
    for ew, eh in ((346, 260), (640, 480)):
        _log(f"emulator {ew}x{eh}, {n_frames} frames")
        out.update(emulator_rate(ew, eh, n_frames))
    data["emulator"] = (f"EventEmulator(PRESETS['clean']), textured pattern moving 1 px per "
                        f"1 ms frame, {n_frames} frames")
    out["data"] = data
    return out


def table(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        f"machine: {m['cpu']} x{m['cpu_count']}, {m['platform']}",
        f"numpy {m['numpy']}, numba {m['numba']}, faery {m['faery']}; "
        f"jit warm-up {res['jit_warmup_s']} s ({res['jit_compiled']} compiled, "
        f"{res['jit_cache_hits']} from cache)",
        "",
        f"{'M events/s':38s} {'ours':>9s} {'faery':>9s} {'ratio':>7s}",
    ]
    for prefix in ("", "dense_"):
        for enc in ("evt3", "evt2"):
            k = f"{prefix}{enc}"
            f = res.get(f"faery_{k}_decode_mevps")
            for label, key in ((f"x{CALLBACK_PACKETS}", ""), (f"x{RENDERER_PACKETS}", "_batch40"),
                               ("per packet", "_per_packet")):
                lines.append(f"{k + ' decode, 1 ms, ' + label:38s} "
                             f"{res[k + '_decode' + key + '_mevps']:9.1f} {f:9.1f} "
                             f"{res[f'speedup_{k}_decode{key}_vs_faery']:7.2f}")
            if f"{k}_decode_10ms_mevps" in res:
                lines.append(f"{k + ' decode, 10 ms packets':38s} "
                             f"{res[k + '_decode_10ms_mevps']:9.1f} {f:9.1f} "
                             f"{res[k + '_decode_10ms_mevps'] / f:7.2f}")
            lines.append(f"{k + ' decode, RAW file':38s} {res[k + '_file_decode_mevps']:9.1f} "
                         f"{f:9.1f} {res[f'speedup_{k}_file_decode_vs_faery']:7.2f}")
        k = f"{prefix}evt3"
        lines.append(f"{k + ' encode, 1 ms packets':38s} {res[k + '_encode_mevps']:9.1f} "
                     f"{res['faery_' + k + '_encode_mevps']:9.1f} "
                     f"{res[f'speedup_{k}_encode_vs_faery']:7.2f}")
        lines.append(f"{prefix + 'evt2 encode, 1 ms packets':38s} "
                     f"{res[prefix + 'evt2_encode_mevps']:9.1f}")
    for k in ("libcaer_cmp", "libcaer"):
        if f"{k}_decode_mevps" in res:
            lines.append(f"{k + ' decode, recording':38s} {res[k + '_decode_mevps']:9.1f}")
    lines += [
        "",
        f"evt3 decode output: {res['evt3_bytes_per_event']} B/event "
        f"({res['evt3_allocated_bytes_per_event']} allocated), "
        f"{res['evt3_bytes_per_packet']} B/packet; decoding all packets: tracemalloc peak "
        f"{res['evt3_decode_all_tracemalloc_peak_bytes'] / 1e6:.1f} MB, peak RSS +"
        f"{res['evt3_decode_all_peak_rss_delta_bytes'] / 1e6:.1f} MB",
    ]
    for ew, eh in ((346, 260), (640, 480)):
        k = f"emulator_{ew}x{eh}"
        lines.append(f"emulator {ew}x{eh}: {res[k + '_fps']} frames/s, "
                     f"{res[k + '_mevps']} M events/s ({res[k + '_events_per_frame']}/frame)")
    lines += ["", "data:"] + [f"  {k}: {v}" for k, v in res["data"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    suite_main(__name__)
