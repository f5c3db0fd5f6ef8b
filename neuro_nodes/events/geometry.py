"""Sensor size of an event file: one rule for every reader, command and node.

The size in use is, in this order: the one the user gives (``--width/--height``, the
event_camera ``width``/``height`` parameters); else the one the file states (RAW
``format``/``geometry`` header, AEDAT4/DAT/HDF5 metadata); else the camera's, when a RAW
header names a known Prophesee camera (system ID or plugin name); else the extent of the
events themselves. A stated size that is not a size (``0x0``, ``abcx480``) is ignored with a
warning naming the file and the field. Events are never dropped for their coordinates:
where they fall outside the size in use, a warning names both sizes and the size the events
need is used from then on (:class:`SizeGuard`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuro_nodes.events.event_array import MAX_SENSOR_SIDE, EventArray

#: The one limit on a sensor side that a user or a file may state (coordinates are uint16).
MAX_SIDE = MAX_SENSOR_SIDE

#: EVT 2.0 / 3.0 address 11 bits per coordinate: RAW files and bag payloads reach 2048.
EVT_MAX_SIDE = 1 << 11

# Prophesee cameras by the RAW header's `system_ID` (decimal) and `plugin_name`, for headers
# without a geometry line. Source: OpenEB (prophesee-ai/openeb, Apache-2.0),
# hal_psee_plugins/include/devices/utils/device_system_id.h (the IDs) and the
# `system_id_map` of the RAW header parser (hal_psee_plugins/src/utils/psee_raw_header...,
# "EVT2;height=480;width=640" per ID), plus the `plugins_map` of raw_constants.h.
_VGA, _HD = (640, 480), (1280, 720)
PROPHESEE_SYSTEM_IDS: dict[int, tuple[int, int]] = {
    0x15: _VGA,  # CCAM3_GEN3
    0x1C: _VGA,  # CCAM3_GEN31
    0x1A: _HD,   # CCAM3_GEN4
    0x17: _VGA,  # CCAM4_GEN3
    0x97: _VGA,  # CCAM4_GEN3_EVK (0x80 | CCAM4_GEN3)
    0x19: _VGA,  # CCAM4_GEN3_REV_B
    0x99: _VGA,  # CCAM4_GEN3_REV_B_EVK
    0x1D: _VGA,  # CCAM4_GEN3_REV_B_EVK_BRIDGE
    0x23: _VGA,  # CCAM5_GEN31
    0x1E: _HD,   # CCAM5_GEN4
    0x2E: _HD,   # CCAM5_GEN4_FIXED_FRAME
    0x21: _VGA,  # VISIONCAM_GEN3
    0xA1: _VGA,  # VISIONCAM_GEN3_EVK
    0x22: _VGA,  # VISIONCAM_GEN31
    0xA2: _VGA,  # VISIONCAM_GEN31_EVK
    0x29: _VGA,  # EVK2_GEN31
    0x1F: _HD,   # EVK2_GEN4
    0x27: _HD,   # EVK2_GEN41
    0x28: _VGA,  # EVK3_GEN31_EVT3
    0x30: _HD,   # EVK3_GEN41
    0x32: _HD,   # EVK2_IMX636
    0x31: _HD,   # EVK3_IMX636
}
PROPHESEE_PLUGINS: dict[str, tuple[int, int]] = {
    "hal_plugin_gen3_fx3": _VGA, "hal_plugin_gen31_fx3": _VGA, "hal_plugin_gen31_evk2": _VGA,
    "hal_plugin_gen31_evk3": _VGA, "hal_plugin_gen4_fx3": _HD, "hal_plugin_gen4_evk2": _HD,
    "hal_plugin_gen41_evk2": _HD, "hal_plugin_gen41_evk3": _HD,
}


class SizeError(ValueError):
    """A size that is not a sensor size; the message names where it came from."""


def parse_side(text: object, field: str, max_side: int = MAX_SIDE) -> int:
    """One side (px) from ``text``; ``field`` names it in the error."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise SizeError(f"{field}: {str(text)!r} is not a whole number of pixels") from None
    if not 0 < value <= max_side:
        raise SizeError(f"{field}: {value} is outside 1..{max_side}")
    return value


def parse_size(text: str, field: str, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """``WxH`` -> (width, height); ``field`` names the text in the error."""
    w, sep, h = str(text).strip().lower().partition("x")
    if not sep:
        raise SizeError(f"{field}: {text!r} is not WIDTHxHEIGHT (e.g. 640x480)")
    return (parse_side(w, f"{field} width", max_side), parse_side(h, f"{field} height", max_side))


def user_size(width: int | None, height: int | None) -> tuple[int, int] | None:
    """The size a user gave as two numbers (both or neither; 0/None: not given)."""
    if not width and not height:
        return None
    if not width or not height:
        raise SizeError("give both width and height, or neither")
    return parse_side(width, "width"), parse_side(height, "height")


def prophesee_camera_size(fields: dict[str, str]) -> tuple[tuple[int, int], str] | None:
    """The sensor size a RAW header implies by naming its camera, and which field said so.

    Like Metavision, the system ID is trusted only for Prophesee's own integrations."""
    integrator = fields.get("integrator_name", "Prophesee").strip()
    if integrator and integrator != "Prophesee":
        return None
    try:
        system_id = int(fields.get("system_id", "").strip(), 0)
    except ValueError:
        system_id = None
    if system_id in PROPHESEE_SYSTEM_IDS:
        return PROPHESEE_SYSTEM_IDS[system_id], f"system_ID {system_id}"
    plugin = fields.get("plugin_name", "").strip()
    if plugin in PROPHESEE_PLUGINS:
        return PROPHESEE_PLUGINS[plugin], f"plugin_name {plugin}"
    return None


@dataclasses.dataclass
class SizeGuard:
    """Keeps chunks at a size that holds all their events (see the module rule).

    ``size`` is the size in use (None: unknown, the events' extent is used); ``origin``
    says where it came from, for the warning. :meth:`fit` returns the chunk at the current
    size, growing it (with a warning in ``warnings``) when events fall outside.
    """

    name: str
    size: tuple[int, int] | None
    origin: str = "the file"
    warnings: list[str] = dataclasses.field(default_factory=list)
    _max: tuple[int, int] = (-1, -1)

    def fit(self, events: EventArray) -> EventArray:
        if len(events):
            mx, my = int(np.max(events.x)), int(np.max(events.y))
            self._max = (max(self._max[0], mx), max(self._max[1], my))
        if self._max[0] < 0 and self.size is None:  # nothing seen yet, nothing known
            return events
        need = (self._max[0] + 1, self._max[1] + 1)
        if self.size is None:
            self.size, self.origin = need, "the events"
        elif need[0] > self.size[0] or need[1] > self.size[1]:
            grown = (max(self.size[0], need[0]), max(self.size[1], need[1]))
            self.warnings.append(
                f"{self.name}: events reach x={self._max[0]}, y={self._max[1]}, outside the "
                f"{self.size[0]}x{self.size[1]} {self.origin} gives; using {grown[0]}x{grown[1]}"
                ", the size the events need (--width/--height set the size)")
            self.size, self.origin = grown, "the events"
        return EventArray.unchecked(events.t, events.x, events.y, events.p, *self.size)
