"""A transform tree (what tf2's buffer does) without ROS: edges in, ``T_target_source`` out.

There is no ``tf2_ros`` wheel here, so nodes feed ``/tf`` and ``/tf_static`` into a
:class:`TfTree` and look up chains themselves. Each frame has at most one parent (as in
tf2); an edge ``parent -> child`` holds the pose of ``child`` in ``parent`` as a 4x4 matrix
``T_parent_child`` (a point in ``child`` coordinates maps to ``parent`` by
``p_parent = R p_child + t``). Static edges hold one pose for all times; dynamic edges keep
the newest ``history`` samples and are interpolated at the lookup time:

.. math::

    t(\\tau) = (1 - a)\\, t_0 + a\\, t_1, \\qquad
    q(\\tau) = \\mathrm{slerp}(q_0, q_1, a), \\qquad a = (\\tau - \\tau_0) / (\\tau_1 - \\tau_0)

A lookup up to ``tolerance_s`` past the newest (or before the oldest) sample of an edge
takes that sample; further out it raises :class:`TransformError` (``kind`` says whether
the data may still come: ``"future"``, or never will: ``"past"``, ``"unknown_frame"``,
``"no_chain"``). Lookups compose the chain through the two frames' common ancestor:

.. math::

    T_{target,source} = (T_{root,target})^{-1}\\, T_{root,source}

=========== ======= ==================================================================
argument    default meaning
=========== ======= ==================================================================
history     200     samples kept per dynamic edge (at 50 Hz: 4 s)
tolerance_s 0.05    how far (s) past the newest / before the oldest sample a lookup
                    still takes that sample instead of failing
=========== ======= ==================================================================
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

import numpy as np


class TransformError(LookupError):
    """A lookup that cannot be answered; ``kind`` in future|past|unknown_frame|no_chain."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def quaternion_to_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    """3x3 rotation of a quaternion (x, y, z, w); ValueError for a non-finite or zero one."""
    q = np.asarray(q_xyzw, float).reshape(4)
    n = float(np.linalg.norm(q))
    if not np.isfinite(q).all() or n < 1e-9:
        raise ValueError(f"quaternion must be finite and non-zero, got {q.tolist()}")
    x, y, z, w = q / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def transform_matrix(translation: np.ndarray, q_xyzw: np.ndarray) -> np.ndarray:
    """4x4 homogeneous transform from a translation and a quaternion (x, y, z, w)."""
    t = np.asarray(translation, float).reshape(3)
    if not np.isfinite(t).all():
        raise ValueError(f"translation must be finite, got {t.tolist()}")
    T = np.eye(4)
    T[:3, :3] = quaternion_to_matrix(q_xyzw)
    T[:3, 3] = t
    return T


def invert(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform (R^T, -R^T t)."""
    out = np.eye(4)
    r = T[:3, :3]
    out[:3, :3] = r.T
    out[:3, 3] = -r.T @ T[:3, 3]
    return out


def _slerp(q0: np.ndarray, q1: np.ndarray, a: float) -> np.ndarray:
    if float(q0 @ q1) < 0.0:  # the shorter way round
        q1 = -q1
    d = float(np.clip(q0 @ q1, -1.0, 1.0))
    if d > 0.9995:  # nearly equal: linear is exact enough and avoids 0/0
        q = q0 + a * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(d)
    return (np.sin((1 - a) * theta) * q0 + np.sin(a * theta) * q1) / np.sin(theta)


@dataclass(frozen=True)
class _Sample:
    stamp_s: float
    translation: np.ndarray  # (3,)
    q_xyzw: np.ndarray  # (4,) unit


class _Edge:
    def __init__(self, parent: str, static: bool, history: int) -> None:
        self.parent, self.static = parent, static
        self.samples: deque[_Sample] = deque(maxlen=1 if static else history)

    def add(self, sample: _Sample) -> None:
        if self.static or not self.samples or sample.stamp_s > self.samples[-1].stamp_s:
            self.samples.append(sample)
            return
        stamps = [s.stamp_s for s in self.samples]  # out of order: insert (rare)
        i = bisect.bisect_left(stamps, sample.stamp_s)
        if i < len(stamps) and stamps[i] == sample.stamp_s:
            self.samples[i] = sample
        else:
            self.samples.insert(i, sample)
            while len(self.samples) > (self.samples.maxlen or 0):
                self.samples.popleft()

    def at(self, stamp_s: float | None, tolerance_s: float, child: str) -> np.ndarray:
        s = self.samples
        if self.static or stamp_s is None:
            return transform_matrix(s[-1].translation, s[-1].q_xyzw)
        if stamp_s >= s[-1].stamp_s:
            if stamp_s - s[-1].stamp_s > tolerance_s:
                raise TransformError("future", f"{self.parent} -> {child}: no transform at "
                                     f"{stamp_s:.3f} s yet (newest {s[-1].stamp_s:.3f} s)")
            return transform_matrix(s[-1].translation, s[-1].q_xyzw)
        if stamp_s <= s[0].stamp_s:
            if s[0].stamp_s - stamp_s > tolerance_s:
                raise TransformError("past", f"{self.parent} -> {child}: {stamp_s:.3f} s is "
                                     f"older than the oldest transform kept "
                                     f"({s[0].stamp_s:.3f} s)")
            return transform_matrix(s[0].translation, s[0].q_xyzw)
        stamps = [x.stamp_s for x in s]
        i = bisect.bisect_right(stamps, stamp_s)
        a0, a1 = s[i - 1], s[i]
        a = (stamp_s - a0.stamp_s) / (a1.stamp_s - a0.stamp_s)
        t = (1 - a) * a0.translation + a * a1.translation
        return transform_matrix(t, _slerp(a0.q_xyzw, a1.q_xyzw, a))


class TfTree:
    """Edges from ``/tf``/``/tf_static``; :meth:`lookup` composes any chain (table above)."""

    def __init__(self, history: int = 200, tolerance_s: float = 0.05) -> None:
        if history < 2 or tolerance_s < 0:
            raise ValueError(f"history must be >= 2 and tolerance_s >= 0, got {history}, "
                             f"{tolerance_s}")
        self.history, self.tolerance_s = history, tolerance_s
        self._edges: dict[str, _Edge] = {}  # child -> edge from its parent

    def clear(self) -> None:
        self._edges.clear()

    @property
    def frames(self) -> set[str]:
        return set(self._edges) | {e.parent for e in self._edges.values()}

    def set_transform(self, parent: str, child: str, translation: np.ndarray,
                      q_xyzw: np.ndarray, stamp_s: float, *, static: bool = False) -> None:
        """Add the pose of ``child`` in ``parent`` at ``stamp_s``; ValueError if it is bad.

        A frame that gets a new parent (a re-parented tree) forgets the old edge.
        """
        if not parent or not child or parent == child:
            raise ValueError(f"a transform needs two different frame names, got "
                             f"{parent!r} -> {child!r}")
        if not np.isfinite(stamp_s):
            raise ValueError(f"{parent} -> {child}: stamp must be finite")
        t = np.asarray(translation, float).reshape(3)
        q = np.asarray(q_xyzw, float).reshape(4)
        quaternion_to_matrix(q)  # validates: finite, non-zero
        if not np.isfinite(t).all():
            raise ValueError(f"{parent} -> {child}: translation must be finite, got "
                             f"{t.tolist()}")
        if self._ancestor_path(parent).count(child):
            raise ValueError(f"{parent} -> {child} would make a loop in the tree")
        edge = self._edges.get(child)
        if edge is None or edge.parent != parent or edge.static != static:
            edge = self._edges[child] = _Edge(parent, static, self.history)
        edge.add(_Sample(float(stamp_s), t, q / np.linalg.norm(q)))

    def _ancestor_path(self, frame: str) -> list[str]:
        path = [frame]
        while path[-1] in self._edges and len(path) <= len(self._edges):
            path.append(self._edges[path[-1]].parent)
        return path

    def _to_ancestor(self, frame: str, ancestor: str, stamp_s: float | None) -> np.ndarray:
        T = np.eye(4)
        while frame != ancestor:
            edge = self._edges[frame]
            T = edge.at(stamp_s, self.tolerance_s, frame) @ T
            frame = edge.parent
        return T

    def lookup(self, target: str, source: str, stamp_s: float | None = None) -> np.ndarray:
        """``T_target_source`` (4x4): maps ``source`` coordinates into ``target``.

        ``stamp_s`` None takes the newest sample of every edge. Raises TransformError.
        """
        if target == source:
            return np.eye(4)
        known = self.frames
        for f in (target, source):
            if f not in known:
                raise TransformError("unknown_frame", f"frame {f!r} is not in the TF tree "
                                     f"(known: {', '.join(sorted(known)) or 'none'})")
        up_t, up_s = self._ancestor_path(target), self._ancestor_path(source)
        common = next((f for f in up_s if f in up_t), None)
        if common is None:
            raise TransformError("no_chain", f"no TF chain between {target!r} and "
                                 f"{source!r} (roots {up_t[-1]!r} and {up_s[-1]!r})")
        T_common_target = self._to_ancestor(target, common, stamp_s)
        T_common_source = self._to_ancestor(source, common, stamp_s)
        return invert(T_common_target) @ T_common_source


__all__ = ["TfTree", "TransformError", "invert", "quaternion_to_matrix", "transform_matrix"]
