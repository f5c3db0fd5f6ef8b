"""Event payloads handed to a sink on the emulation thread: same payloads, same order, the
stepping thread never further ahead than MAX_PENDING_FRAMES frames (counts, not timings)."""

from __future__ import annotations

import threading

from sim.runner import MAX_PENDING_FRAMES, Output, SimRates, SimRunner

RATES = SimRates(camera=0.0, depth=0.0, ground_truth=0.0, imu=0.0, joints=0.0)
SIZE = {"width": 96, "height": 72}


def events_by_advance(until_ns: int) -> list[tuple[int, list[bytes]]]:
    runner = SimRunner("mobile_robot", rates=RATES, **SIZE)
    try:
        runner.set_cmd_vel(0.4, 0.6)
        outs = runner.advance(until_ns)
    finally:
        runner.close()
    return [(o.t_ns, [p.events for p in o.data]) for o in outs if o.kind == "events"]


def test_sink_gets_what_advance_returned_in_order_off_the_stepping_thread() -> None:
    until = 300_000_000
    expected = events_by_advance(until)
    got: list[tuple[int, list[bytes]]] = []
    threads: set[int] = set()
    names: set[str] = set()

    def sink(out: Output) -> None:
        threads.add(threading.get_ident())
        names.add(threading.current_thread().name.split("_")[0])
        got.append((out.t_ns, [p.events for p in out.data]))

    runner = SimRunner("mobile_robot", rates=RATES, **SIZE)
    try:
        runner.set_cmd_vel(0.4, 0.6)
        runner.set_event_sink(sink)
        returned = runner.advance(until)
        runner.flush()
        assert runner._events._sensor is None  # fed the runner's render: no GL context of its own
    finally:
        runner.close()
    assert {o.kind for o in returned} == {"clock", "odometry"}  # events went to the sink
    assert len(expected) == 31 and sum(len(p) for _, p in expected) > 0
    assert got == expected  # the same payloads (one encoder stream), frame by frame in order
    assert threading.get_ident() not in threads
    assert names == {"encoder"}  # encoded and handed over while the emulator does the next


def test_stepping_waits_when_emulation_lags() -> None:
    release = threading.Event()
    delivered: list[int] = []
    submitted: list[int] = []
    seen_while_blocked: list[int] = []

    def sink(out: Output) -> None:
        release.wait(30)
        delivered.append(out.t_ns)

    runner = SimRunner("mobile_robot", rates=RATES, **SIZE)
    submit = runner._emulation.submit

    def counting_submit(fn, *args):  # noqa: ANN001, ANN202 - wraps ThreadPoolExecutor.submit
        submitted.append(len(delivered))
        return submit(fn, *args)

    def watch() -> None:
        # the first frame sits in the sink, MAX_PENDING_FRAMES more may be handed over; then
        # advance (on the test's thread, which owns the GL context) must wait
        while len(submitted) < MAX_PENDING_FRAMES + 1 and not release.is_set():
            release.wait(0.01)
        release.wait(0.5)
        seen_while_blocked.append(len(submitted))
        release.set()

    runner._emulation.submit = counting_submit
    watcher = threading.Thread(target=watch)
    try:
        runner.set_event_sink(sink)
        watcher.start()
        runner.advance(200_000_000)
        runner.flush()
    finally:
        release.set()
        watcher.join(30)
        runner.close()
    # handed over: the frame stuck in the sink + MAX_PENDING_FRAMES behind it, then no more
    assert seen_while_blocked == [MAX_PENDING_FRAMES + 1]
    assert len(delivered) == 21 and delivered == sorted(delivered)
