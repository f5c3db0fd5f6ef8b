"""The README names the demo recording for what it is (issue 9 defect 6)."""

from __future__ import annotations

import re
from pathlib import Path

from neuro_nodes.bag.event_packets import read_event_packets

DEMO = "event_camera_py_test_events_2"


def test_readme_describes_the_demo_recording_as_its_packets_say(shared_data: Path,
                                                                repo_root: Path) -> None:
    first = next(read_event_packets(shared_data / DEMO))
    assert (first.encoding, first.width, first.height) == ("libcaer_cmp", 346, 260)
    text = " ".join((repo_root / "README.md").read_text().split())
    (sentence,) = [s for s in re.split(r"(?<=\.)\s", text) if DEMO in s and "replays" in s]
    assert "DAVIS346" in sentence and "libcaer_cmp" in sentence and "346x260" in sentence
    assert "Prophesee" not in sentence  # a libcaer (iniVation) encoding, not a Prophesee one
