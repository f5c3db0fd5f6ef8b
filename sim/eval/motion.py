"""Evaluation of the registered motion estimators on simulated sequences and on bags.

Every method sees the same fixed-count windows of a sequence, in time order (warm starts
carry over inside a sequence; ``reset`` between sequences). Per window the estimate is
compared with the ground truth at the window's ``t_ref`` (flow: the GT frames interpolated
in time; omega/velocity: the twist interpolated). Per sequence:

* flow: AEE and %Out at dt = 1 and dt = 4 frames (:mod:`neuro_nodes.perception.metrics`),
  per-window means, on pixels with events and finite GT;
* egomotion: omega RMS (rad/s, and % of the sequence's max |omega|), translation-direction
  error (deg, mean), windows per second (windows / summed ``compute_s``).

Overall numbers are means over sequences with the sample standard deviation as spread
(``*_std``). The ``zero`` row is the zero-motion baseline (omega = 0, flow = 0).

On a bag there is no ground truth: per method the contrast gain (IWE variance of the events
warped by the estimate over that of the unwarped events; 1 = no better than no motion) and
the mean and last-half drift of |omega|.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception import metrics as M
from neuro_nodes.perception.types import EventWindow, MotionEstimate, PinholeCamera
from neuro_nodes.perception.windows import fixed_count_windows
from sim.datasets.event_motion import MotionSequence

ZERO = "zero"


class ZeroMotion:
    """The zero-motion baseline: no rotation, no flow."""

    name = ZERO

    def __init__(self, camera: PinholeCamera) -> None:
        self.camera = camera

    def reset(self) -> None:
        pass

    def process(self, window: EventWindow) -> MotionEstimate:
        c = window.camera
        return MotionEstimate(window.t_ref_s, omega=np.zeros(3), velocity=np.zeros(3),
                              flow=np.zeros((2, c.height, c.width), np.float32))


def strided_windows(events: EventArray, camera: PinholeCamera, n_events: int,
                    max_windows: int | None, imu: Any = None) -> list[EventWindow]:
    """Fixed-count windows, spread evenly over the stream when more than ``max_windows``."""
    n = len(events)
    stride = n_events
    if max_windows and n >= n_events and (n - n_events) // n_events + 1 > max_windows:
        stride = max(n_events, (n - n_events) // max(max_windows - 1, 1))
    ws = list(fixed_count_windows(events, camera, n_events, stride, imu=imu))
    return ws[:max_windows] if max_windows else ws


@dataclass
class SequenceResult:
    name: str
    windows: int
    aee: float
    out3: float
    aee_dt4: float
    out3_dt4: float
    flow_coverage: float
    omega_rms: float
    omega_rms_pct: float
    dir_err_deg: float
    windows_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in self.__dict__.items()}


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def evaluate_sequence(estimator: Any, seq: MotionSequence, windows: list[EventWindow],
                      tick: Callable[[], None] | None = None) -> SequenceResult:
    """Run ``estimator`` over ``windows`` of ``seq`` and score it (module docstring)."""
    estimator.reset()
    fp = seq.frame_period_s
    f1: list[M.FlowErrors] = []
    f4: list[M.FlowErrors] = []
    om_est, om_gt, v_est, v_gt, compute = [], [], [], [], []
    for w in windows:
        t0 = time.perf_counter()
        est = estimator.process(w)
        wall = time.perf_counter() - t0
        compute.append(est.compute_s if est.compute_s > 0 else wall)
        t = w.t_ref_s
        if est.flow is not None:
            gt = seq.flow_at(t)
            mask = M.event_mask(w.events)
            f1.append(M.flow_errors(est.flow, gt, mask, 1, fp))
            f4.append(M.flow_errors(est.flow, gt, mask, 4, fp))
        if est.omega is not None:
            om_est.append(np.asarray(est.omega, np.float64))
            om_gt.append(seq.omega_at(t))
        if est.velocity is not None:
            v_est.append(np.asarray(est.velocity, np.float64))
            v_gt.append(seq.velocity_at(t))
        if tick:
            tick()
    aee, out3 = M.mean_flow(f1)
    aee4, out34 = M.mean_flow(f4)
    cov = float(np.mean([e.coverage for e in f1 if e.n_pixels])) if f1 else float("nan")
    max_om = float(np.max(np.linalg.norm(seq.gt_omega, axis=1)))
    if om_est:
        rms = M.omega_rms(np.array(om_est), np.array(om_gt))
        pct = M.omega_rms_pct(np.array(om_est), np.array(om_gt), max_om)
    else:
        rms = pct = float("nan")
    if v_est:
        d = M.direction_errors_deg(np.array(v_est), np.array(v_gt))
        dir_err = float(d.mean()) if d.size else float("nan")
    else:
        dir_err = float("nan")
    return SequenceResult(seq.name, len(windows), aee, out3, aee4, out34, cov, rms, pct,
                          dir_err, M.windows_per_s(compute))


SUMMARY_KEYS = ("aee", "out3", "aee_dt4", "out3_dt4", "flow_coverage", "omega_rms",
                "omega_rms_pct", "dir_err_deg", "windows_per_s")


def summarise(results: list[SequenceResult]) -> dict[str, Any]:
    """Mean and spread (sample std) over sequences of each metric (NaNs left out)."""
    out: dict[str, Any] = {"sequences": {r.name: r.as_dict() for r in results}}
    for key in SUMMARY_KEYS:
        vals = np.array([getattr(r, key) for r in results], np.float64)
        vals = vals[np.isfinite(vals)]
        out[key] = _clean(float(vals.mean())) if vals.size else None
        out[f"{key}_std"] = _clean(float(vals.std(ddof=1))) if vals.size > 1 else None
        out[f"{key}_n"] = int(vals.size)
    out["windows"] = int(sum(r.windows for r in results))
    return out


# ---------------------------------------------------------------------------------- bags
def contrast_gain(window: EventWindow, est: MotionEstimate) -> float:
    """IWE variance of ``window`` warped by the estimate (omega if given, else flow) over
    that of the unwarped events; NaN when the estimate has neither."""
    import torch

    from neuro_nodes.events.representations import (
        image_of_warped_events,
        iwe_variance,
        warp_events,
        warp_events_rotation,
    )

    ev, cam = window.events, window.camera
    t = (ev.t - int(round(window.t_ref_s * 1e9))).astype(np.float64) * 1e-9
    x, y = ev.x.astype(np.float64), ev.y.astype(np.float64)
    base = iwe_variance(image_of_warped_events(x, y, cam.width, cam.height))
    if est.omega is not None:
        xw, yw = warp_events_rotation(x, y, t, np.asarray(est.omega, np.float64), cam.matrix)
        xw, yw = xw.numpy(), yw.numpy()
    elif est.flow is not None:
        xw, yw = warp_events(x, y, t, np.nan_to_num(np.asarray(est.flow, np.float64)))
    else:
        return float("nan")
    del torch
    return float(iwe_variance(image_of_warped_events(xw, yw, cam.width, cam.height)) /
                 max(base, 1e-12))


@dataclass(frozen=True)
class BagStream:
    events: EventArray
    camera: PinholeCamera
    camera_source: str
    imu: Any
    topic: str


def read_bag(path: str | Path, fovy_deg: float = 60.0) -> BagStream:
    """Events of a rosbag2's first event topic (decoded with the project's codecs), the
    camera from a ``CameraInfo`` topic if there is one (else a pinhole of ``fovy_deg`` at the
    sensor size, said in ``camera_source``) and the gyro of an ``Imu`` topic if any."""
    from neuro_nodes.bag.event_packets import event_topics, read_event_packets
    from neuro_nodes.events.codecs import make_decoder

    topics = event_topics(path)
    if not topics:
        raise ValueError(f"{path}: no event topic in this bag")
    topic = "/events" if "/events" in topics else topics[0]
    chunks: list[EventArray] = []
    decoder, key = None, None
    for p in read_event_packets(path, [topic]):
        if (p.encoding, p.width, p.height) != key:
            key = (p.encoding, p.width, p.height)
            decoder = make_decoder(*key)
        assert decoder is not None
        res = decoder.decode(p.events, p.time_base)
        if len(res.events):
            chunks.append(res.events)
    if not chunks:
        raise ValueError(f"{path}: {topic} holds no events")
    events = EventArray.concatenate(chunks)
    if not events.is_sorted():
        events = events.sort()
    camera, source = _bag_camera(path, events.width, events.height)
    if camera is None:
        camera = PinholeCamera.from_fovy(events.width, events.height, fovy_deg)
        source = f"assumed pinhole, vertical field of view {fovy_deg:g} deg (no CameraInfo)"
    return BagStream(events, camera, source, _bag_imu(path), topic)


def _typed_messages(path: str | Path, suffix: str) -> Iterable[Any]:
    from neuro_nodes.bag import reader
    from neuro_nodes.bag.event_packets import typestore

    store = typestore()
    topics = [t.name for t in reader.list_topics(path) if t.msgtype.endswith(suffix)]
    if not topics:
        return []
    return (store.deserialize_cdr(m.data, m.msgtype) for m in
            reader.read_messages(path, topics[:1]))


def _bag_camera(path: str | Path, width: int, height: int) -> tuple[PinholeCamera | None, str]:
    try:
        for msg in _typed_messages(path, "sensor_msgs/msg/CameraInfo"):
            k = np.asarray(msg.k, np.float64).reshape(3, 3)
            if k[0, 0] > 0:
                return (PinholeCamera(k[0, 0], k[1, 1], k[0, 2], k[1, 2], width, height),
                        "CameraInfo")
    except Exception as err:  # noqa: BLE001 - a bag without a readable CameraInfo
        return None, f"CameraInfo unreadable: {err}"
    return None, ""


def _bag_imu(path: str | Path) -> Any:
    from neuro_nodes.perception.types import ImuSamples

    t, g = [], []
    try:
        for msg in _typed_messages(path, "sensor_msgs/msg/Imu"):
            s = msg.header.stamp
            t.append(s.sec + s.nanosec * 1e-9)
            v = msg.angular_velocity
            g.append((v.x, v.y, v.z))
    except Exception:  # noqa: BLE001 - no readable IMU: run without
        return None
    return ImuSamples(np.array(t), np.array(g)) if t else None


def evaluate_bag(estimator: Any, windows: list[EventWindow],
                 tick: Callable[[], None] | None = None) -> dict[str, Any]:
    """Contrast gain and |omega| statistics of ``estimator`` over ``windows``."""
    estimator.reset()
    gains, mags, compute = [], [], []
    for w in windows:
        t0 = time.perf_counter()
        est = estimator.process(w)
        wall = time.perf_counter() - t0
        compute.append(est.compute_s if est.compute_s > 0 else wall)
        gains.append(contrast_gain(w, est))
        if est.omega is not None:
            mags.append(float(np.linalg.norm(est.omega)))
        if tick:
            tick()
    g = np.array(gains)
    g = g[np.isfinite(g)]
    m = np.array(mags)
    half = len(m) // 2
    return {
        "windows": len(windows),
        "contrast_gain": _clean(float(g.mean())) if g.size else None,
        "contrast_gain_std": _clean(float(g.std(ddof=1))) if g.size > 1 else None,
        "omega_abs_mean": _clean(float(m.mean())) if m.size else None,
        "omega_abs_max": _clean(float(m.max())) if m.size else None,
        "omega_abs_first_half": _clean(float(m[:half].mean())) if half else None,
        "omega_abs_second_half": _clean(float(m[half:].mean())) if half else None,
        "windows_per_s": _clean(M.windows_per_s(compute)),
    }


__all__ = [
    "ZERO",
    "BagStream",
    "SequenceResult",
    "ZeroMotion",
    "contrast_gain",
    "evaluate_bag",
    "evaluate_sequence",
    "read_bag",
    "strided_windows",
    "summarise",
]
