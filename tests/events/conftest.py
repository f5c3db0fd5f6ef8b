"""The real EventPacket recordings in ../shared/data, as (encoding, width, height,
time_base, payload) per message: all the codec tests need."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import pytest

from neuro_nodes.bag.event_packets import read_event_packets
from neuro_nodes.paths import shared_data_dir

PacketTuple = tuple[str, int, int, int, bytes]  # encoding, width, height, time_base, payload


@lru_cache(maxsize=8)
def _packets(folder: str) -> tuple[PacketTuple, ...]:
    return tuple((p.encoding, p.width, p.height, p.time_base, bytes(p.events))
                 for p in read_event_packets(shared_data_dir() / folder))


@pytest.fixture
def read_packets() -> Callable[[str], list[PacketTuple]]:
    """``read_packets(folder)``; the test is skipped if the recording is absent."""

    def read(folder: str) -> list[PacketTuple]:
        if not (shared_data_dir() / folder).is_dir():
            pytest.skip(f"recording {folder} not found under {shared_data_dir()}")
        return list(_packets(folder))

    return read
