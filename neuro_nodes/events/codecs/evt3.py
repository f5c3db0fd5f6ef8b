"""Prophesee EVT 3.0: 16-bit words that set the row, column base and clock, then emit events.

Word types (bits 15..12; Prophesee "EVT 3.0" docs, openeb ``evt3_event_types.h``):
0x0 ADDR_Y (y = bits 10..0), 0x2 ADDR_X (x = bits 10..0, polarity bit 11: one event),
0x3 VECT_BASE_X (base x, polarity bit 11), 0x4 VECT_12 / 0x5 VECT_8 (bit mask of events at
base x + i, then base x += 12 / 8), 0x6 TIME_LOW (time bits 11..0), 0x8 TIME_HIGH (time bits
23..12), 0xA EXT_TRIGGER (value bit 0, id bits 11..8), 0x7/0xE/0xF continued/others (skipped).

The microsecond clock is 24 bits and wraps every 16.777216 s; the decoder unwraps it (see
``wrap_tolerance``). Timestamps are the unwrapped sensor clock in ns; the packet's
``time_base`` is not used, as in ``event_camera_codecs``.
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs import _kernels as K
from neuro_nodes.events.codecs.base import CodecError, StreamDecoder, as_words, check_geometry
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

ADDR_Y, ADDR_X, VECT_BASE_X, VECT_12, VECT_8 = 0x0, 0x2, 0x3, 0x4, 0x5
TIME_LOW, CONTINUED_4, TIME_HIGH, EXT_TRIGGER = 0x6, 0x7, 0x8, 0xA
OTHERS, CONTINUED_12 = 0xE, 0xF

#: Largest coordinate + 1 that the format can carry (11 bits).
MAX_SIDE = 1 << 11
#: Words decoded per vectorised step (bounds memory and keeps the arrays in cache).
CHUNK_WORDS = 1 << 16
#: Largest step between TIME_HIGH words the encoder writes (half the 12-bit period): a
#: backward step of at least this much reads as a wrap.
_HIGH_STEP = 1 << 11
_EMPTY_I64 = np.empty(0, np.int64)
_EMPTY_INTP = np.empty(0, np.intp)


class Evt3Decoder(StreamDecoder):
    """Stateful EVT 3.0 decoder, vectorised with numpy.

    Stream semantics: payloads are consecutive pieces of one byte stream, so a word split
    between two payloads (odd length) is completed by the next one (the trailing byte is kept,
    not counted as an error), and vector/row/clock state carries over. Events before the
    stream's first TIME_HIGH are dropped silently (their time is unknown); until the first
    TIME_LOW the low time bits are 0, as faery's RAW writer assumes (the upstream ROS codec
    instead waits for a TIME_LOW). Errors counted: events outside the sensor
    (dropped), reserved word types (0x1, 0x9, 0xB-0xD; skipped), and TIME_HIGH steps backwards
    by more than ``wrap_tolerance`` ticks (of 4096 us) but less than half the 12-bit period
    (not a wrap; the clock follows the word). Backward steps of at least half the period are
    wraps.
    """

    encoding = "evt3"

    def __init__(self, width: int, height: int, wrap_tolerance: int = 10) -> None:
        super().__init__(width, height)
        self.wrap_tolerance = int(wrap_tolerance)
        self._max_x = min(self.width, MAX_SIDE)  # EVT 3.0 columns are 11 bits
        self._scratch = np.empty(CHUNK_WORDS, dtype=np.uint64)
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._tail = np.empty(0, np.uint8)
        self._y = 0
        self._low = 0
        self._epoch = 0
        self._last_high: int | None = None  # raw 12-bit value of the last TIME_HIGH
        self._base = 0
        self._pol = 0

    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        if self._tail.size:
            data = np.concatenate((self._tail, data))
        words = as_words(data, "<u2")
        self._tail = data[words.size * 2 :].copy()
        parts = [self._chunk(words[i : i + CHUNK_WORDS]) for i in range(0, words.size, CHUNK_WORDS)]
        if not parts:
            return EventArray.empty(self.width, self.height), TriggerArray.empty(), 0
        if len(parts) == 1:
            t, x, y, p, tt, tid, tval, errors = parts[0]
        else:
            cols = list(zip(*parts, strict=True))
            t, x, y, p, tt, tid, tval = (np.concatenate(c) for c in cols[:7])
            errors = sum(cols[7])
        events = EventArray.unchecked(t, x, y, p, self.width, self.height)
        return events, TriggerArray.unchecked(tt, tid, tval), errors

    def _chunk(self, w: np.ndarray) -> tuple:
        """Decode whole words; returns final columns (t ns, x, y, p, triggers) and errors."""
        n = w.size
        typ = w >> 12
        pos_y = (typ == ADDR_Y).nonzero()[0]
        pos_lo = (typ == TIME_LOW).nonzero()[0]
        pos_hi = (typ == TIME_HIGH).nonzero()[0]
        pos_x = (typ == ADDR_X).nonzero()[0]
        rest = n - pos_y.size - pos_lo.size - pos_hi.size - pos_x.size
        errors = 0
        pos_v = pos_tr = _EMPTY_INTP
        n_base = 0
        if rest:  # anything but the four commonest word types
            is_v = (typ == VECT_12) | (typ == VECT_8)
            pos_v = is_v.nonzero()[0]
            pos_tr = (typ == EXT_TRIGGER).nonzero()[0]
            n_base = int(np.count_nonzero(typ == VECT_BASE_X))
            n_skip = np.count_nonzero(typ == CONTINUED_4) + np.count_nonzero(typ >= OTHERS)
            errors = rest - pos_v.size - pos_tr.size - n_base - int(n_skip)

        # clock: unwrap TIME_HIGH, find where the time becomes valid
        high_before = self._epoch * 4096 + (self._last_high or 0)
        if pos_hi.size:
            raw = w[pos_hi] & 0xFFF
            highs, self._epoch, err = K.unwrap_counter(
                raw, self._last_high, self._epoch, 12, self.wrap_tolerance
            )
            errors += err
        else:
            highs = _EMPTY_I64
        # events count from the stream's first TIME_HIGH on
        valid_from = -1
        if self._last_high is None:
            valid_from = int(pos_hi[0]) if pos_hi.size else n
        if pos_hi.size:
            self._last_high = int(raw[-1])
        # time of TIME_HIGH rank r and TIME_LOW l, in ns: high_ns[r] + 1000 * l
        high_ns = np.concatenate(([high_before], highs)) * (4096 * 1000)

        # vector words: masks, events so far, column base and polarity in force at each
        if pos_v.size:
            wv = w[pos_v]
            masks = np.where((wv >> 12) == VECT_12, wv & 0xFFF, wv & 0xFF)
            counts_before = np.cumsum(K.POPCOUNT12[masks])
            _, vbase, vpol, self._base, self._pol = K.vector_bases(
                typ, w, VECT_BASE_X, {VECT_12: 12, VECT_8: 8}, self._base, self._pol
            )
            self._base = min(self._base, 2 * MAX_SIDE)
            vbase = np.minimum(vbase, 2 * MAX_SIDE).astype(np.uint16)  # beyond the sensor
            vpol = vpol.astype(np.uint8)
        elif n_base:
            last = w[(typ == VECT_BASE_X).nonzero()[0][-1]]
            self._base, self._pol = int(last & 0x7FF), int(last >> 11 & 1)

        # forward-fill: row (bits 0..10), TIME_LOW (11..22), TIME_HIGH rank (23..39),
        # vector events up to here (40..59)
        lows = w[pos_lo] & 0xFFF
        fields = [
            (pos_y, w[pos_y] & 0x7FF, 0, 11),
            (pos_lo, lows, 11, 12),
            (pos_hi, np.arange(1, pos_hi.size + 1), 23, 17),
        ]
        if pos_v.size:
            fields.append((pos_v, counts_before, 40, 20))
        state = K.packed_ffill(n, self._y | self._low << 11, fields, out=self._scratch)
        if pos_y.size:
            self._y = int(w[pos_y[-1]] & 0x7FF)
        if pos_lo.size:
            self._low = int(lows[-1])

        dropped_vec_events = 0
        if valid_from >= 0:  # drop events before the first valid time
            pos_x = pos_x[np.searchsorted(pos_x, valid_from, side="right") :]
            pos_tr = pos_tr[np.searchsorted(pos_tr, valid_from, side="right") :]
            if pos_v.size:
                k = int(np.searchsorted(pos_v, valid_from, side="right"))
                dropped_vec_events = int(counts_before[k - 1]) if k else 0
                pos_v, masks, vbase, vpol = pos_v[k:], masks[k:], vbase[k:], vpol[k:]

        n_vec_events = (int(counts_before[-1]) - dropped_vec_events) if pos_v.size else 0
        if pos_v.size and 4 * n_vec_events > pos_x.size:
            # many vector events: expand every event word (ADDR_X as a one-bit mask)
            pos_e = ((typ == ADDR_X) | is_v).nonzero()[0]
            if valid_from >= 0:
                pos_e = pos_e[np.searchsorted(pos_e, valid_from, side="right") :]
            s = state[pos_e]
            we = w[pos_e]
            vec = ((we >> 12) != ADDR_X).nonzero()[0]
            base = we & 0x7FF
            base[vec] = vbase
            pol = ((we >> 11) & 1).astype(np.uint8)
            pol[vec] = vpol
            mask = np.ones(pos_e.size, dtype=np.uint16)
            mask[vec] = masks
            word, bit = K.expand_masks(mask)
            x = base[word] + bit.astype(np.uint16)
            t = self._times(s, high_ns)[word]
            y = (s & 0x7FF).astype(np.uint16)[word]
            p = pol[word]
        else:
            s = state[pos_x]
            t = self._times(s, high_ns)
            y = (s & 0x7FF).astype(np.uint16)
            wx = w[pos_x]
            x = wx & 0x7FF
            p = ((wx >> 11) & 1).astype(np.uint8)
            if pos_v.size:  # few vector events: scatter them between the singles
                word, bit = K.expand_masks(masks)
                at_s = ((s >> 40) & 0xFFFFF).astype(np.intp)
                at_s += np.arange(pos_x.size) - dropped_vec_events
                at_v = np.searchsorted(pos_x, pos_v)[word]
                at_v += np.arange(word.size)
                sv = state[pos_v]
                x = K.merge(x, at_s, vbase[word] + bit.astype(np.uint16), at_v)
                t = K.merge(t, at_s, self._times(sv, high_ns)[word], at_v)
                y = K.merge(y, at_s, (sv & 0x7FF).astype(np.uint16)[word], at_v)
                p = K.merge(p, at_s, vpol[word], at_v)
        if x.size and (int(x.max()) >= self._max_x or int(y.max()) >= self.height):
            ok = (x < self._max_x) & (y < self.height)
            errors += ok.size - int(np.count_nonzero(ok))
            t, x, y, p = t[ok], x[ok], y[ok], p[ok]

        wt = w[pos_tr]
        return (
            t, x, y, p, self._times(state[pos_tr], high_ns),
            ((wt >> 8) & 0xF).astype(np.uint8), (wt & 1).astype(np.uint8), errors,
        )

    @staticmethod
    def _times(s: np.ndarray, high_ns: np.ndarray) -> np.ndarray:
        """Timestamps (ns) from packed states: TIME_HIGH of the rank field, plus TIME_LOW."""
        t = ((s >> 11) & 0xFFF).astype(np.int64)
        t *= 1000
        if high_ns.size == 1:
            t += high_ns[0]
        else:
            t += high_ns[((s >> 23) & 0x1FFFF).astype(np.intp)]
        return t


class Evt3Encoder:
    """Stateful EVT 3.0 encoder: consecutive ``encode`` calls continue one stream.

    Events are written in (t, y, p, x) order at microsecond resolution (``t // 1000``):
    TIME_HIGH/TIME_LOW when the time changes, ADDR_Y when the row changes, and for each run of
    same-time, same-row, same-polarity events, 12-pixel blocks with at least two events as
    VECT_BASE_X + VECT_12 (chained blocks share the base; a chain's last block that fits in
    8 bits is a VECT_8), everything else as ADDR_X. Triggers become EXT_TRIGGER words.
    Every packet starts with TIME_HIGH, TIME_LOW and ADDR_Y, so a decoder that joins the
    stream late (a ROS subscriber) decodes from its first packet on. Decoding gives back the
    same events (as a multiset; order within one microsecond may change) and triggers. The
    clock carries only 24 bits: a decoder starting on this stream reconstructs times modulo
    2**24 us of the first one (exact if it is below 16.777216 s); gaps longer than one period
    are bridged with extra TIME_HIGH words.
    """

    encoding = "evt3"

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = check_geometry(width, height, MAX_SIDE)
        self.reset()

    def reset(self) -> None:
        """Start a new stream (the next packet begins with a full time)."""
        self._last_high: int | None = None  # unwrapped TIME_HIGH ticks last written
        self._last_t = -1  # microseconds of the last TIME_LOW written
        self._last_y = -1

    def encode(self, events: EventArray, triggers: TriggerArray | None = None) -> bytes:
        """Encode one packet's events (and triggers); returns the payload bytes."""
        if (events.width, events.height) != (self.width, self.height):
            raise CodecError(
                f"events of a {events.width}x{events.height} sensor given to a "
                f"{self.width}x{self.height} encoder"
            )
        tr = TriggerArray.empty() if triggers is None else triggers
        if len(tr) and int(tr.id.max()) > 0xF:
            raise CodecError("EVT 3.0 trigger ids are 4 bits (0..15)")
        t_ev = events.t // 1000
        t_tr = tr.t // 1000
        if len(events) + len(tr) == 0:
            return b""
        t_min = min(int(a.min()) for a in (t_ev, t_tr) if a.size)
        if t_min < 0:
            raise CodecError("EVT 3.0 cannot encode negative timestamps")
        if t_min < self._last_t:
            raise CodecError(
                f"time goes backwards across packets: {t_min} us < {self._last_t} us"
            )

        # ---- units: single events, vector blocks, triggers; one payload word each
        order = np.lexsort((events.x, events.p, events.y, t_ev))
        T, Y = t_ev[order], events.y[order].astype(np.int64)
        P, X = events.p[order].astype(np.int64), events.x[order].astype(np.int64)
        n = T.size
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = (T[1:] != T[:-1]) | (Y[1:] != Y[:-1]) | (P[1:] != P[:-1])
        dup = np.zeros(n, dtype=bool)
        dup[1:] = ~new_group[1:] & (X[1:] == X[:-1])
        group_id = np.cumsum(new_group) - 1
        group_x0 = X[new_group][group_id]
        block = (X - group_x0) // 12
        # blocks among non-duplicate events
        nd = np.flatnonzero(~dup)
        bkey_new = np.ones(nd.size, dtype=bool)
        bkey_new[1:] = (group_id[nd[1:]] != group_id[nd[:-1]]) | (block[nd[1:]] != block[nd[:-1]])
        bstart = np.flatnonzero(bkey_new)
        bcount = np.diff(np.append(bstart, nd.size))
        is_vec_block = bcount >= 2
        vblock_first = nd[bstart[is_vec_block]]  # sorted index of each vector block's 1st event
        in_vec = np.zeros(n, dtype=bool)
        in_vec[nd[np.repeat(is_vec_block, bcount)]] = True
        blk_of_nd = np.repeat(np.arange(bstart.size), bcount)
        # vector block masks and bases
        vb_ids = np.flatnonzero(is_vec_block)
        vb_group = group_id[vblock_first]
        vb_block = block[vblock_first]
        vb_base = group_x0[vblock_first] + 12 * vb_block
        members = in_vec[nd]
        bit = X[nd[members]] - (group_x0 + 12 * block)[nd[members]]
        mask_acc = np.bincount(  # bits are distinct within a block: the sum is the OR
            blk_of_nd[members], weights=(1 << bit).astype(np.float64), minlength=bstart.size
        ).astype(np.int64)
        vb_mask = mask_acc[vb_ids]

        single = np.flatnonzero(~in_vec)
        n_s, n_t = single.size, len(tr)
        # unit table: one payload word each; sorted by time, then event order
        u_t = np.concatenate((T[single], T[vblock_first], t_tr))
        u_key = np.concatenate((single, vblock_first, np.full(n_t, -1)))
        u_y = np.concatenate((Y[single], Y[vblock_first], np.full(n_t, -1)))
        u_group = np.concatenate((np.full(n_s, -1), vb_group, np.full(n_t, -1)))
        u_block = np.concatenate((np.full(n_s, -9), vb_block, np.full(n_t, -9)))
        u_mask = np.concatenate((np.zeros(n_s, np.int64), vb_mask, np.zeros(n_t, np.int64)))
        u_baseword = np.concatenate((
            np.full(n_s, -1), (VECT_BASE_X << 12) | (P[vblock_first] << 11) | vb_base,
            np.full(n_t, -1),
        ))
        u_word = np.concatenate((
            (ADDR_X << 12) | (P[single] << 11) | X[single],
            (VECT_12 << 12) | vb_mask,
            (EXT_TRIGGER << 12) | (tr.id.astype(np.int64) << 8) | tr.value,
        ))
        uo = np.lexsort((u_key, u_t))
        u_t, u_y, u_group, u_block = u_t[uo], u_y[uo], u_group[uo], u_block[uo]
        u_mask, u_baseword, u_word = u_mask[uo], u_baseword[uo], u_word[uo]
        # a vector block right after the previous block of its run reuses the advanced base;
        # (an ADDR_X in between breaks the chain: some decoders let it move the base)
        is_vec = u_baseword >= 0
        chained = np.zeros(u_t.size, dtype=bool)
        chained[1:] = (
            is_vec[1:] & is_vec[:-1] & (u_group[1:] == u_group[:-1])
            & (u_block[1:] == u_block[:-1] + 1)
        )
        chain_end = np.ones(u_t.size, dtype=bool)
        chain_end[:-1] = ~chained[1:]
        use8 = is_vec & chain_end & (u_mask < 256)
        u_word[use8] = (VECT_8 << 12) | u_mask[use8]
        u_base = np.where(chained, -1, u_baseword)
        return self._assemble(u_t, u_y, u_base, u_word)

    def _assemble(
        self, u_t: np.ndarray, u_y: np.ndarray, u_base: np.ndarray, u_word: np.ndarray
    ) -> bytes:
        m = u_t.size
        high = u_t >> 12
        prev_high = np.empty(m, dtype=np.int64)
        prev_high[0] = -1 if self._last_high is None else self._last_high
        prev_high[1:] = high[:-1]
        gap = high - prev_high
        n_high = np.where(gap > 0, (gap + _HIGH_STEP - 1) // _HIGH_STEP, 0)
        # every packet starts with the full time (one word when the stream starts) ...
        n_high[0] = 1 if self._last_high is None else max(n_high[0], 1)
        prev_t = np.empty(m, dtype=np.int64)
        prev_t[0] = self._last_t
        prev_t[1:] = u_t[:-1]
        n_low = ((u_t != prev_t) | (n_high > 0)).astype(np.int64)
        # row changes among event units (triggers keep the row)
        ev = u_y >= 0
        y_ev = u_y[ev]
        prev_y = np.empty(y_ev.size, dtype=np.int64)
        if y_ev.size:
            prev_y[0] = self._last_y
            prev_y[1:] = y_ev[:-1]
        n_y = np.zeros(m, dtype=np.int64)
        n_y[ev] = y_ev != prev_y
        if y_ev.size:  # ... and its first event's row
            n_y[np.argmax(ev)] = 1
        n_base = (u_base >= 0).astype(np.int64)
        n_words = n_high + n_low + n_y + n_base + 1
        start = np.cumsum(n_words) - n_words
        out = np.empty(int(n_words.sum()), dtype=np.uint16)
        # TIME_HIGH words (bridging steps, then the target)
        hu = np.repeat(np.arange(m), n_high)
        j = np.arange(hu.size) - (np.cumsum(n_high) - n_high)[hu]
        last_step = j == n_high[hu] - 1
        hval = np.where(last_step, high[hu], prev_high[hu] + _HIGH_STEP * (j + 1))
        out[start[hu] + j] = (TIME_HIGH << 12) | (hval & 0xFFF)
        off = start + n_high
        lo = n_low > 0
        out[off[lo]] = (TIME_LOW << 12) | (u_t[lo] & 0xFFF)
        off = off + n_low
        yy = n_y > 0
        out[off[yy]] = (ADDR_Y << 12) | u_y[yy]
        off = off + n_y
        bb = n_base > 0
        out[off[bb]] = u_base[bb]
        out[off + n_base] = u_word
        self._last_high = int(high[-1])
        self._last_t = int(u_t[-1])
        if y_ev.size:
            self._last_y = int(y_ev[-1])
        return out.astype("<u2", copy=False).tobytes()
