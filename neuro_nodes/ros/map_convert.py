"""ROS messages <-> the mapper's arrays: depth images, clouds, TF, mesh, slices, ESDF points.

Every reader raises ValueError saying what is wrong with a message (the mapper node counts
it and goes on); writers take numpy arrays in the map frame and a ``builtin_interfaces``
stamp.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Vector3
from nav_msgs.msg import OccupancyGrid
from sensor_msgs.msg import Image, PointCloud2, PointField
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker

from neuro_nodes.core.tf_tree import TfTree
from neuro_nodes.mapping.types import TriangleMesh

#: depth encodings read, with the factor to metres (16UC1 is millimetres, 0 = no return)
DEPTH_ENCODINGS = {"32FC1": ("<f4", 1.0), "16UC1": ("<u2", 1e-3)}


def stamp_s(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def depth_image(msg: Image) -> np.ndarray:
    """(H, W) float32 z-depth in metres (NaN/0 where there is no return)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"depth image encoding {msg.encoding!r}: expected one of "
                         f"{', '.join(DEPTH_ENCODINGS)}")
    dtype, scale = DEPTH_ENCODINGS[msg.encoding]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    h, w = int(msg.height), int(msg.width)
    row = w * dt.itemsize
    if h <= 0 or w <= 0 or msg.step < row or len(msg.data) < msg.step * h:
        raise ValueError(f"depth image {w}x{h} {msg.encoding}: step {msg.step} and "
                         f"{len(msg.data)} bytes do not hold it (need step >= {row} and "
                         f"{row * h} bytes)")
    buf = np.frombuffer(bytes(msg.data[:msg.step * h]), np.uint8).reshape(h, msg.step)
    depth = buf[:, :row].copy().view(dt).reshape(h, w).astype(np.float32)
    return depth * np.float32(scale) if scale != 1.0 else depth


def cloud_points(msg: PointCloud2) -> np.ndarray:
    """(N, 3) float32 x, y, z of a cloud's finite points."""
    fields = {f.name: f for f in msg.fields}
    missing = [n for n in "xyz" if n not in fields]
    if missing:
        raise ValueError(f"point cloud has no field {', '.join(missing)} (has "
                         f"{', '.join(fields) or 'none'})")
    if any(fields[n].datatype != PointField.FLOAT32 for n in "xyz"):
        raise ValueError("point cloud x, y, z must be FLOAT32")
    n = int(msg.width) * int(msg.height)
    step = int(msg.point_step)
    if n and (step < 12 or len(msg.data) < n * step
              or any(fields[c].offset + 4 > step for c in "xyz")):
        raise ValueError(f"point cloud of {n} points, point_step {step}: {len(msg.data)} "
                         f"bytes do not hold it")
    if n == 0:
        return np.zeros((0, 3), np.float32)
    dt = np.dtype({"names": list("xyz"), "formats": [">f4" if msg.is_bigendian else "<f4"] * 3,
                   "offsets": [fields[c].offset for c in "xyz"], "itemsize": step})
    rec = np.frombuffer(bytes(msg.data[:n * step]), dt)
    pts = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float32)
    return pts[np.isfinite(pts).all(axis=1)]


def add_tf(tree: TfTree, msg, *, static: bool) -> list[str]:  # noqa: ANN001 - TFMessage
    """Put a ``tf2_msgs/TFMessage`` into ``tree``; the reasons of the transforms refused."""
    refused = []
    for tf in msg.transforms:
        t, r = tf.transform.translation, tf.transform.rotation
        try:
            tree.set_transform(tf.header.frame_id, tf.child_frame_id, [t.x, t.y, t.z],
                               [r.x, r.y, r.z, r.w], stamp_s(tf.header.stamp), static=static)
        except ValueError as err:
            refused.append(str(err))
    return refused


def mesh_marker(mesh: TriangleMesh, frame_id: str, stamp: Time, *, max_triangles: int,
                color: tuple[float, float, float, float] = (0.7, 0.7, 0.75, 1.0)) -> Marker:
    """A TRIANGLE_LIST marker (3 points per triangle); at most ``max_triangles``, taken
    evenly, so a huge mesh does not stall the node."""
    tri = np.asarray(mesh.triangles)
    if len(tri) > max_triangles:
        tri = tri[np.linspace(0, len(tri) - 1, max_triangles).astype(np.int64)]
    corners = np.asarray(mesh.vertices, np.float64)[tri.reshape(-1)] if len(tri) else ()
    m = Marker(ns="mesh", id=0, type=Marker.TRIANGLE_LIST, action=Marker.ADD)
    m.header.frame_id, m.header.stamp = frame_id, stamp
    m.pose.orientation.w = 1.0
    m.scale.x = m.scale.y = m.scale.z = 1.0
    m.color = ColorRGBA(r=color[0], g=color[1], b=color[2], a=color[3])
    m.points = [Point(x=x, y=y, z=z) for x, y, z in np.asarray(corners).tolist()]
    return m


def occupancy_grid(values: np.ndarray, origin_xy: tuple[float, float], resolution_m: float,
                   height_m: float, frame_id: str, stamp: Time) -> OccupancyGrid:
    """``values`` (rows along y, columns along x; int8 in -1..100) as an OccupancyGrid."""
    v = np.asarray(values)
    g = OccupancyGrid()
    g.header.frame_id, g.header.stamp = frame_id, stamp
    g.info.map_load_time = stamp
    g.info.resolution = float(resolution_m)
    g.info.height, g.info.width = (int(s) for s in v.shape)
    g.info.origin.position.x, g.info.origin.position.y = (float(c) for c in origin_xy)
    g.info.origin.position.z = float(height_m)
    g.info.origin.orientation.w = 1.0
    g.data = np.ascontiguousarray(v, np.int8).ravel().tolist()
    return g


def float_image(values: np.ndarray, frame_id: str, stamp: Time) -> Image:
    """(H, W) float32 as a 32FC1 Image."""
    v = np.ascontiguousarray(values, np.float32)
    msg = Image(height=v.shape[0], width=v.shape[1], encoding="32FC1", is_bigendian=False,
                step=4 * v.shape[1], data=v.tobytes())
    msg.header.frame_id, msg.header.stamp = frame_id, stamp
    return msg


def distance_cloud(points: np.ndarray, distances: np.ndarray, frame_id: str,
                   stamp: Time) -> PointCloud2:
    """x, y, z and ``distance`` (m), all float32, unorganised."""
    pts = np.asarray(points, np.float32).reshape(-1, 3)
    packed = np.empty(len(pts), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                       ("distance", "<f4")])
    packed["x"], packed["y"], packed["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
    packed["distance"] = np.asarray(distances, np.float32).reshape(-1)
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, n in enumerate(("x", "y", "z", "distance"))]
    msg = PointCloud2(height=1, width=len(pts), fields=fields, is_bigendian=False,
                      point_step=16, row_step=16 * len(pts), is_dense=True,
                      data=packed.tobytes())
    msg.header.frame_id, msg.header.stamp = frame_id, stamp
    return msg


def query_points(points) -> np.ndarray:  # noqa: ANN001 - sequence of geometry_msgs/Point
    return np.array([(p.x, p.y, p.z) for p in points], np.float64).reshape(-1, 3)


def vectors(values: np.ndarray) -> list[Vector3]:
    return [Vector3(x=x, y=y, z=z) for x, y, z in np.asarray(values, np.float64).tolist()]


__all__ = ["DEPTH_ENCODINGS", "add_tf", "cloud_points", "depth_image", "distance_cloud",
           "float_image", "mesh_marker", "occupancy_grid", "query_points", "stamp_s",
           "vectors"]
