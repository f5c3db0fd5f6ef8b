"""Codec interfaces for the ``events`` payload of ``event_camera_msgs/msg/EventPacket``.

The payload is an opaque byte string whose layout is named by the message's ``encoding``
field; ``make_decoder``/``make_encoder`` map that name to an implementation. Decoders are
stateful: several formats (EVT 2.0, EVT 3.0) carry their clock and pixel state in the stream,
so one decoder must see all packets of one stream, in order. The legacy message
``event_array_msgs/msg/EventArray`` has the same fields and uses the same codecs.

A consumer that receives many small packets per callback (1 ms packets, a frame or SNN step
every 10-40 ms) decodes them with one ``decode_many`` call: the per-call cost (about 5 us,
about as long as decoding a 600-event packet) is then paid once per callback. Payloads are
read in place (``bytes``, ``bytearray``, ``memoryview``, ``array.array`` as rclpy delivers
``uint8[]``, numpy arrays); ``decode_many`` copies a batch once, into the one buffer its
kernel reads.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from neuro_nodes.events.event_array import MAX_SENSOR_SIDE, EventArray
from neuro_nodes.events.trigger_array import TriggerArray

#: What a payload may be: the ``events`` field as rosbags (ndarray), rclpy (array.array or
#: bytes) or a file reader (bytes, memoryview) hands it over.
Payload = bytes | bytearray | memoryview | np.ndarray


class CodecError(ValueError):
    """Misuse of the codec API: unknown encoding, impossible sensor size, unencodable input.

    Never raised for malformed payload bytes: decoders skip and count those.
    """


@dataclass(frozen=True)
class DecodeResult:
    """What one decode call yields.

    ``errors`` counts the problems met in the bytes decoded by this call: events dropped for
    coordinates outside the sensor, reserved word types, timestamps that jumped backwards
    beyond the wrap tolerance, trailing partial events (formats without stream state).
    """

    events: EventArray
    triggers: TriggerArray
    errors: int = 0


@runtime_checkable
class Decoder(Protocol):
    """Stateful payload decoder; see :class:`StreamDecoder` for the semantics."""

    encoding: ClassVar[str]
    width: int
    height: int

    def decode(self, payload: Payload, time_base: int = 0) -> DecodeResult: ...

    def decode_many(self, payloads: Sequence[Payload],
                    time_bases: Sequence[int] | None = None) -> DecodeResult: ...

    def decode_until(self, payload: Payload, time_base: int, t_ns: int) -> DecodeResult: ...

    def flush(self) -> DecodeResult: ...

    def reset(self) -> None: ...


@runtime_checkable
class Encoder(Protocol):
    """Stateful payload encoder: consecutive ``encode`` calls continue one stream."""

    encoding: ClassVar[str]
    width: int
    height: int

    def encode(self, events: EventArray, triggers: TriggerArray | None = None) -> bytes: ...

    def reset(self) -> None: ...


def check_geometry(width: int, height: int, max_side: int = MAX_SENSOR_SIDE) -> tuple[int, int]:
    """Validate a sensor size for a codec, raising :class:`CodecError`."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"sensor size must be integers, got {width!r}x{height!r}") from exc
    if not (0 < w <= max_side and 0 < h <= max_side):
        raise CodecError(f"sensor size must be within 1..{max_side} per side, got {w}x{h}")
    return w, h


def as_u8(payload: Payload) -> np.ndarray:
    """View a payload as a 1-D uint8 array (no copy for buffers and contiguous arrays)."""
    if payload.__class__ is bytes:  # the common case first: one call per packet
        return np.frombuffer(payload, np.uint8)
    if isinstance(payload, np.ndarray):
        a = np.ascontiguousarray(payload).reshape(-1)
        return a if a.dtype == np.uint8 else a.view(np.uint8)
    try:
        return np.frombuffer(payload, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        return np.asarray(payload, dtype=np.uint8).reshape(-1)


def join_payloads(payloads: Sequence[Payload]) -> np.ndarray:
    """The bytes of consecutive payloads as one uint8 array: one copy into one buffer (a
    single payload is viewed, not copied)."""
    if len(payloads) == 1:
        return as_u8(payloads[0])
    try:  # bytes.join takes any C-contiguous buffer (bytes, array.array, ndarray, ...)
        return np.frombuffer(b"".join(payloads), np.uint8)
    except (TypeError, ValueError, BufferError):  # non-contiguous arrays, lists of ints
        return np.concatenate([as_u8(p) for p in payloads])


def as_words(data: np.ndarray, dtype: str) -> np.ndarray:
    """Little-endian words of ``data`` (whole words only), copied if misaligned."""
    size = np.dtype(dtype).itemsize
    n = data.size // size * size
    data = data[:n]
    if data.ctypes.data % size:
        data = data.copy()
    return data.view(dtype)


NO_TRIGGERS = TriggerArray.empty()
_NO_TRIGGER_ROWS = np.empty((3, 0), np.int64)


def output_buffers(n: int, n_triggers: int = 0) -> tuple[np.ndarray, ...]:
    """Columns a decoding kernel fills: t, x, y, p for ``n`` events, (t, id, value) rows
    for ``n_triggers`` triggers."""
    trig = np.empty((3, n_triggers), np.int64) if n_triggers else _NO_TRIGGER_ROWS
    return (np.empty(n, np.int64), np.empty(n, np.uint16), np.empty(n, np.uint16),
            np.empty(n, np.uint8), trig)


def wrap_output(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, k: int,
                trig: np.ndarray, kt: int, width: int,
                height: int) -> tuple[EventArray, TriggerArray]:
    """The first ``k`` events and ``kt`` triggers a kernel wrote, as arrays."""
    if k < t.size:  # room left over: vector pixels without events, events dropped
        t, x, y, p = t[:k], x[:k], y[:k], p[:k]
    events = EventArray.unchecked(t, x, y, p, width, height)
    if not kt:
        return events, NO_TRIGGERS
    return events, TriggerArray.unchecked(trig[0, :kt].copy(), trig[1, :kt].astype(np.uint8),
                                          trig[2, :kt].astype(np.uint8))


def decode_in_chunks(
    data: np.ndarray, step: int,
    decode: Callable[[np.ndarray], tuple[EventArray, TriggerArray, int]],
) -> tuple[EventArray, TriggerArray, int]:
    """``decode`` over pieces of at most ``step`` bytes (bounds the output buffers)."""
    if data.size <= step:
        return decode(data)
    parts = [decode(data[i : i + step]) for i in range(0, data.size, step)]
    return (EventArray.concatenate([e for e, _, _ in parts]),
            TriggerArray.concatenate([tr for _, tr, _ in parts]),
            sum(err for _, _, err in parts))


class StreamDecoder(ABC):
    """Shared behaviour of the decoders: the ``decode_until`` buffer and result assembly.

    ``decode(payload, time_base)`` decodes the whole payload and returns every event not yet
    returned (anything still buffered by ``decode_until`` comes first).

    ``decode_until(payload, time_base, t_ns)`` is for consumers that cut the stream into time
    slices (frames, SNN steps). It decodes the payload completely (stream state advances past
    it) and appends its events to an internal buffer; it then returns the longest *prefix* of
    the buffer, in stream order, whose events have ``t < t_ns`` (triggers are cut the same
    way, independently). Everything from the first event with ``t >= t_ns`` on stays buffered,
    even if a later event is older (sensor timestamps may jitter backwards slightly). Pass
    each payload exactly once; to take the next slice from what is buffered, call again with
    an empty payload (``b""``) and a later ``t_ns``. ``pending``/``next_t_ns`` describe the
    buffer, ``flush()`` empties it. ``errors`` is reported by the call that decoded the bytes.
    """

    encoding: ClassVar[str] = ""
    #: The payloads are consecutive pieces of one byte stream and ``time_base`` is unused
    #: (EVT 2.0/3.0): ``decode_many`` then decodes the joined bytes in one kernel call.
    joins_payloads: ClassVar[bool] = False

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = check_geometry(width, height)
        self._held_events: EventArray | None = None
        self._held_triggers: TriggerArray | None = None

    # -- to implement -------------------------------------------------------------------
    @abstractmethod
    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        """Decode uint8 ``data``, advancing the stream state; return events, triggers, errors."""

    @abstractmethod
    def _reset_stream(self) -> None:
        """Forget all stream state (clock, coordinates, partial words)."""

    # -- public API -----------------------------------------------------------------------
    def reset(self) -> None:
        """Start over, as for a new stream (drops anything buffered)."""
        self._reset_stream()
        self._held_events = None
        self._held_triggers = None

    @property
    def pending(self) -> int:
        """Number of events plus triggers buffered by ``decode_until``."""
        n = 0 if self._held_events is None else len(self._held_events)
        return n + (0 if self._held_triggers is None else len(self._held_triggers))

    @property
    def next_t_ns(self) -> int | None:
        """Timestamp of the first buffered event or trigger (the earlier one), else None."""
        ts = [
            int(a.t[0])
            for a in (self._held_events, self._held_triggers)
            if a is not None and len(a)
        ]
        return min(ts) if ts else None

    def decode(self, payload: Payload, time_base: int = 0) -> DecodeResult:
        """Decode a payload; returns its events preceded by any still buffered."""
        if time_base.__class__ is int and _INT64_MIN <= time_base <= _INT64_MAX:
            bad_base = 0  # (the common case, checked without a call)
        else:
            time_base, bad_base = _time_base(time_base)
        events, triggers, errors = self._decode(as_u8(payload), time_base)
        return self._result(events, triggers, errors + bad_base)

    def decode_many(self, payloads: Sequence[Payload],
                    time_bases: Sequence[int] | None = None) -> DecodeResult:
        """Decode consecutive payloads of the stream in one call: the same events, triggers
        and error count as ``decode`` called on each in order, concatenated.

        For the packets a node queued since its last callback: the per-call cost (kernel
        dispatch, output allocation, result assembly) is paid once per batch, not per packet.
        EVT 2.0/3.0 (``joins_payloads``) decode the joined bytes in one kernel call (one copy
        of the batch into one buffer, the only copy); the other formats, whose packets each
        carry their own ``time_base``, decode packet by packet and concatenate once. No
        payloads: an empty result (anything buffered by ``decode_until`` stays buffered).
        """
        n = len(payloads)
        if time_bases is not None and len(time_bases) != n:
            raise CodecError(f"decode_many: {n} payloads but {len(time_bases)} time bases")
        if n <= 1:
            if n == 0:
                return DecodeResult(EventArray.empty(self.width, self.height), NO_TRIGGERS, 0)
            return self.decode(payloads[0], 0 if time_bases is None else time_bases[0])
        if time_bases is None:
            bases, bad_bases = (0,) * n, 0
        else:
            checked = [_time_base(tb) for tb in time_bases]
            bases, bad_bases = [tb for tb, _ in checked], sum(bad for _, bad in checked)
        if self.joins_payloads:  # (the time bases are not used, only checked)
            events, triggers, errors = self._decode(join_payloads(payloads), 0)
        else:
            parts = [self._decode(as_u8(p), tb) for p, tb in zip(payloads, bases, strict=True)]
            events = EventArray.concatenate([e for e, _, _ in parts])
            triggers = TriggerArray.concatenate([tr for _, tr, _ in parts])
            errors = sum(err for _, _, err in parts)
        return self._result(events, triggers, errors + bad_bases)

    def _result(self, events: EventArray, triggers: TriggerArray, errors: int) -> DecodeResult:
        """The result of a ``decode``: anything still buffered goes first."""
        if self._held_events is not None or self._held_triggers is not None:
            events, triggers = self._with_held(events, triggers)
            self._held_events = self._held_triggers = None
        return DecodeResult(events, triggers, errors)

    def decode_until(self, payload: Payload, time_base: int, t_ns: int) -> DecodeResult:
        """Decode a payload, return the buffered prefix with ``t < t_ns``, keep the rest."""
        data = as_u8(payload)
        time_base, bad_base = _time_base(time_base)
        if data.size:
            events, triggers, errors = self._decode(data, time_base)
            errors += bad_base
        else:
            events, triggers, errors = EventArray.empty(self.width, self.height), None, 0
        events, triggers = self._with_held(events, triggers)
        k = _prefix_before(events.t, t_ns)
        j = _prefix_before(triggers.t, t_ns)
        self._held_events = events[k:] if k < len(events) else None
        self._held_triggers = triggers[j:] if j < len(triggers) else None
        return DecodeResult(events[:k], triggers[:j], errors)

    def flush(self) -> DecodeResult:
        """Return and forget everything buffered by ``decode_until``."""
        events, triggers = self._with_held(EventArray.empty(self.width, self.height), None)
        self._held_events = self._held_triggers = None
        return DecodeResult(events, triggers, 0)

    # -- helpers --------------------------------------------------------------------------
    def _with_held(
        self, events: EventArray, triggers: TriggerArray | None
    ) -> tuple[EventArray, TriggerArray]:
        if self._held_events is not None and len(self._held_events):
            events = EventArray.concatenate([self._held_events, events])
        if triggers is None:
            triggers = TriggerArray.empty()
        if self._held_triggers is not None and len(self._held_triggers):
            triggers = TriggerArray.concatenate([self._held_triggers, triggers])
        return events, triggers

    def _events(
        self, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray
    ) -> tuple[EventArray, int]:
        """Assemble decoded columns, dropping (and counting) events outside the sensor."""
        ok = (x < self.width) & (y < self.height)
        n_ok = int(np.count_nonzero(ok))
        bad = ok.size - n_ok
        if bad:
            t, x, y, p = t[ok], x[ok], y[ok], p[ok]
        return (
            EventArray.unchecked(
                t.astype(np.int64, copy=False),
                x.astype(np.uint16, copy=False),
                y.astype(np.uint16, copy=False),
                p.astype(np.uint8, copy=False),
                self.width,
                self.height,
            ),
            bad,
        )


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _time_base(time_base: int) -> tuple[int, int]:
    """``time_base`` as an int64 value; one that does not fit (a uint64 header field beyond
    2**63 - 1) is replaced by 0 and counted as an error."""
    tb = int(time_base)
    return (tb, 0) if -(1 << 63) <= tb < (1 << 63) else (0, 1)


def _prefix_before(t: np.ndarray, t_ns: int) -> int:
    """Length of the longest prefix of ``t`` with all values < ``t_ns``."""
    if t.size == 0:
        return 0
    late = t >= t_ns
    k = int(np.argmax(late))
    return k if late[k] else int(t.size)


# ----------------------------------------------------------------------------- registry
_DECODERS: dict[str, str] = {
    "evt3": "neuro_nodes.events.codecs.evt3:Evt3Decoder",
    "evt2": "neuro_nodes.events.codecs.evt2:Evt2Decoder",
    "libcaer": "neuro_nodes.events.codecs.libcaer:LibcaerDecoder",
    "libcaer_cmp": "neuro_nodes.events.codecs.libcaer_cmp:LibcaerCmpDecoder",
    "mono": "neuro_nodes.events.codecs.mono:MonoDecoder",
}
_ENCODERS: dict[str, str] = {
    "evt3": "neuro_nodes.events.codecs.evt3:Evt3Encoder",
    "evt2": "neuro_nodes.events.codecs.evt2:Evt2Encoder",
}


def decoder_encodings() -> tuple[str, ...]:
    """Encoding names ``make_decoder`` knows."""
    return tuple(sorted(_DECODERS))


def encoder_encodings() -> tuple[str, ...]:
    """Encoding names ``make_encoder`` knows."""
    return tuple(sorted(_ENCODERS))


def _load(table: dict[str, str], kind: str, encoding: str) -> type:
    key = encoding.strip().lower() if isinstance(encoding, str) else encoding
    if key not in table:
        raise CodecError(
            f"no {kind} for event encoding {encoding!r}; known encodings: "
            + ", ".join(sorted(table))
        )
    module, name = table[key].split(":")
    return getattr(importlib.import_module(module), name)


def make_decoder(encoding: str, width: int, height: int, **options: object) -> StreamDecoder:
    """A fresh decoder for ``encoding`` (the EventPacket ``encoding`` field).

    Raises :class:`CodecError` for unknown encodings (listing the known ones) and for
    impossible sensor sizes.
    """
    return _load(_DECODERS, "decoder", encoding)(width, height, **options)


def make_encoder(encoding: str, width: int, height: int, **options: object) -> Encoder:
    """A fresh encoder for ``encoding``; raises :class:`CodecError` like ``make_decoder``."""
    return _load(_ENCODERS, "encoder", encoding)(width, height, **options)
