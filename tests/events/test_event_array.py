"""EventArray / TriggerArray: validation, slicing, conversion."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.events.event_array import EVENT_DTYPE, EventArray
from neuro_nodes.events.trigger_array import TriggerArray


def make(n: int = 10, width: int = 8, height: int = 6, seed: int = 0) -> EventArray:
    rng = np.random.default_rng(seed)
    return EventArray(
        np.sort(rng.integers(0, 10_000, n)),
        rng.integers(0, width, n),
        rng.integers(0, height, n),
        rng.integers(0, 2, n),
        width,
        height,
    )


def test_dtypes_and_counts():
    ev = make(50)
    assert (ev.t.dtype, ev.x.dtype, ev.y.dtype, ev.p.dtype) == (
        np.int64, np.uint16, np.uint16, np.uint8
    )
    assert len(ev) == 50
    assert ev.on_count + ev.off_count == 50
    assert ev.on_count == int(ev.p.sum())


def test_no_copy_when_dtypes_match():
    t = np.arange(3, dtype=np.int64)
    x = np.array([0, 1, 2], np.uint16)
    ev = EventArray(t, x, x.copy(), np.zeros(3, np.uint8), 3, 3)
    assert ev.t is t and ev.x is x


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": [0, 8]}, "x out of range"),
        ({"y": [0, 6]}, "y out of range"),
        ({"p": [0, 2]}, "polarity"),
        ({"x": [0, -1]}, "outside the range"),
        ({"t": [0, 1, 2]}, "differ in length"),
        ({"t": [0.5, 1.0]}, "integers"),
        ({"width": 0}, "sensor size"),
    ],
)
def test_validation(kwargs, match):
    cols = {"t": [0, 1], "x": [0, 1], "y": [0, 1], "p": [0, 1], "width": 8, "height": 6}
    cols.update(kwargs)
    with pytest.raises(ValueError, match=match):
        EventArray(**cols)


def test_frozen():
    ev = make()
    with pytest.raises(AttributeError):
        ev.t = ev.t  # type: ignore[misc]


def test_drop_invalid_and_mask():
    x = np.array([0, 9, 3, -1])
    y = np.array([0, 1, 6, 2])
    p = np.array([1, 0, 1, 0])
    mask = EventArray.valid_mask(x, y, p, 8, 6)
    assert mask.tolist() == [True, False, False, False]
    ev, dropped = EventArray.drop_invalid(np.arange(4), x, y, p, 8, 6)
    assert dropped == 3 and len(ev) == 1 and ev.t[0] == 0


def test_empty_concatenate():
    e = EventArray.empty(4, 3)
    assert len(e) == 0 and (e.width, e.height) == (4, 3)
    a, b = make(5, seed=1), make(7, seed=2)
    c = EventArray.concatenate([a, b])
    assert len(c) == 12
    np.testing.assert_array_equal(c.x, np.concatenate([a.x, b.x]))
    assert len(EventArray.concatenate([], width=4, height=3)) == 0
    with pytest.raises(ValueError, match="width and height"):
        EventArray.concatenate([])
    with pytest.raises(ValueError, match="sensor"):
        EventArray.concatenate([a, EventArray.empty(9, 9)])


def test_slice_time_sorted_and_unsorted():
    ev = EventArray(np.array([0, 10, 10, 20, 30]), [0] * 5, [0] * 5, [0] * 5, 1, 1)
    s = ev.slice_time(10, 30)
    assert s.t.tolist() == [10, 10, 20]
    assert np.shares_memory(s.t, ev.t)  # a view when sorted
    assert ev.slice_time(None, 10).t.tolist() == [0]
    assert ev.slice_time(31).t.tolist() == []
    un = EventArray(np.array([30, 0, 20, 10]), [0] * 4, [0] * 4, [0] * 4, 1, 1)
    assert not un.is_sorted()
    assert un.slice_time(10, 30).t.tolist() == [20, 10]
    srt = un.sort()
    assert srt.is_sorted() and srt.t.tolist() == [0, 10, 20, 30]
    assert ev.sort() is ev


def test_getitem_and_equals():
    ev = make(20)
    assert ev[2:5].equals(EventArray(ev.t[2:5], ev.x[2:5], ev.y[2:5], ev.p[2:5], 8, 6))
    assert len(ev[ev.p == 1]) == ev.on_count
    with pytest.raises(TypeError):
        ev[3]  # noqa: B018


def test_numpy_round_trip():
    ev = make(30)
    arr = ev.to_numpy()
    assert arr.dtype == EVENT_DTYPE
    assert EventArray.from_numpy(arr, 8, 6).equals(ev)


def test_to_torch_zero_copy():
    torch = pytest.importorskip("torch")
    ev = make(30)
    tensors = ev.to_torch()
    assert tensors["t"].dtype == torch.int64 and tensors["p"].dtype == torch.uint8
    assert tensors["x"].dtype == torch.int32
    assert tensors["t"].data_ptr() == ev.t.ctypes.data  # shares memory
    assert tensors["p"].data_ptr() == ev.p.ctypes.data
    np.testing.assert_array_equal(tensors["x"].numpy(), ev.x)
    raw = ev.to_torch(coord_dtype=None)
    assert raw["y"].data_ptr() == ev.y.ctypes.data


def test_trigger_array():
    tr = TriggerArray([5, 1, 3], [0, 2, 1], [1, 0, 1])
    assert (tr.t.dtype, tr.id.dtype, tr.value.dtype) == (np.int64, np.uint8, np.uint8)
    assert (tr.rising_count, tr.falling_count) == (2, 1)
    assert tr.sort().t.tolist() == [1, 3, 5]
    assert tr.slice_time(2, 5).t.tolist() == [3]
    assert TriggerArray.concatenate([tr, TriggerArray.empty()]).equals(tr)
    assert tr.to_numpy()["id"].tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="0 or 1"):
        TriggerArray([0], [0], [2])
    with pytest.raises(ValueError, match="length"):
        TriggerArray([0, 1], [0], [1])
