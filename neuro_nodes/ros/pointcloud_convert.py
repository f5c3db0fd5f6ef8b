"""The point-cloud SNN's results as ROS messages: labelled cloud, detections, class
probabilities, RViz markers.  Inputs are read with :func:`neuro_nodes.ros.map_convert.
cloud_points` (xyz float32, ValueError saying what is wrong)."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from neuro_interfaces.msg import ClassProbabilities, Detection3D, Detection3DArray
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from neuro_nodes.perception.pointcloud_detect import Detection

#: ``label`` of a point the segmentation gave no class (outside the model's voxel box)
NO_LABEL = -1


def label_cloud(points: np.ndarray, labels: np.ndarray, header: Header) -> PointCloud2:
    """x, y, z float32 and ``label`` INT32 (segmentation class index, ``NO_LABEL`` = -1
    outside the voxel box), unorganised, in ``header``'s frame."""
    pts = np.asarray(points, np.float32).reshape(-1, 3)
    packed = np.empty(len(pts), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                       ("label", "<i4")])
    packed["x"], packed["y"], packed["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
    packed["label"] = np.asarray(labels).reshape(-1)
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, n in enumerate("xyz")]
    fields.append(PointField(name="label", offset=12, datatype=PointField.INT32, count=1))
    return PointCloud2(header=header, height=1, width=len(pts), fields=fields,
                       is_bigendian=False, point_step=16, row_step=16 * len(pts),
                       is_dense=True, data=packed.tobytes())


def _pose(d: Detection) -> Pose:
    x, y, z = (float(v) for v in d.center)
    qx, qy, qz, qw = d.quaternion
    return Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(x=qx, y=qy, z=qz, w=qw))


def _vector(v: np.ndarray) -> Vector3:
    return Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def detections_msg(detections: Sequence[Detection], header: Header) -> Detection3DArray:
    return Detection3DArray(header=header, detections=[
        Detection3D(class_name=d.class_name, class_id=d.class_id, score=d.score, instance_id=0,
                    center=_pose(d), size=_vector(d.size), num_points=d.num_points)
        for d in detections])


def class_probabilities(probs: np.ndarray, class_names: Sequence[str], header: Header,
                        source: str) -> ClassProbabilities:
    p = np.asarray(probs, np.float32).reshape(-1)
    return ClassProbabilities(header=header, class_names=list(class_names),
                              probabilities=p.tolist(),
                              predicted=int(np.argmax(p)) if len(p) else -1, source=source)


def class_color(class_id: int, alpha: float = 0.5) -> ColorRGBA:
    """A fixed colour per class (golden-ratio hues, so neighbouring ids differ)."""
    r, g, b = colorsys.hsv_to_rgb((class_id * 0.618034) % 1.0, 0.8, 0.95)
    return ColorRGBA(r=r, g=g, b=b, a=alpha)


def markers(detections: Sequence[Detection], header: Header) -> MarkerArray:
    """DELETEALL (so the boxes of the previous cloud vanish), then a CUBE and a TEXT label
    above it (optical y is down) per detection."""
    out = [Marker(header=header, action=Marker.DELETEALL)]
    for i, d in enumerate(detections):
        box = Marker(header=header, ns="boxes", id=i, type=Marker.CUBE, action=Marker.ADD,
                     pose=_pose(d), scale=_vector(np.maximum(d.size, 0.01)),
                     color=class_color(d.class_id))
        top = _pose(d)
        top.position.y -= float(d.size[1]) / 2 + 0.08
        top.orientation = Quaternion(w=1.0)
        text = Marker(header=header, ns="labels", id=i, type=Marker.TEXT_VIEW_FACING,
                      action=Marker.ADD, pose=top, scale=Vector3(z=0.08),
                      color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0),
                      text=f"{d.class_name} {d.score:.2f}")
        out += [box, text]
    return MarkerArray(markers=out)
