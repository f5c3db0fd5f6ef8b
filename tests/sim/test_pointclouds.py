"""Point-cloud datasets: seeded views, disjoint splits, points on the object / labelled floor
on the floor plane, the class tables, the npz cache (small images throughout)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from sim.datasets import pointclouds as pc

#: small, noise-free views: the points lie on the rendered surfaces
OBJ = pc.ObjectViewParams(width=96, height=72, min_points=24, max_points=400, noise_a=0.0,
                          noise_quant_m=0.0)
ROOM = pc.RoomViewParams(width=96, height=72, views_per_room=2, noise_a=0.0, noise_quant_m=0.0)


def to_world(points: np.ndarray, T: np.ndarray) -> np.ndarray:
    return points.astype(np.float64) @ T[:3, :3].T + T[:3, 3]


@pytest.fixture(scope="module")
def renderer():  # noqa: ANN201
    with pc.ObjectViewRenderer(OBJ) as r:
        yield r


def same_view(a: pc.ObjectView, b: pc.ObjectView) -> bool:
    return (np.array_equal(a.points, b.points) and np.array_equal(a.on_object, b.on_object)
            and np.array_equal(a.T_world_camera, b.T_world_camera) and a.label == b.label)


def test_a_seed_gives_the_same_view(renderer: pc.ObjectViewRenderer) -> None:
    a = renderer.view(3, 17)
    renderer.view(8, 4)  # another pose in between must not leak into the next view
    assert same_view(renderer.view(3, 17), a)
    with pc.ObjectViewRenderer(OBJ) as fresh:
        assert same_view(fresh.view(3, 17), a)
    other = renderer.view(3, 18)
    assert not np.array_equal(other.T_world_camera, a.T_world_camera)


def test_a_room_view_is_seeded() -> None:
    with pc.RoomViewRenderer(201, ROOM) as r:
        a, b = r.view(0), r.view(1)
        a2 = r.view(0)
    assert np.array_equal(a.points, a2.points) and np.array_equal(a.point_labels, a2.point_labels)
    assert not np.array_equal(a.T_world_camera, b.T_world_camera)


def test_splits_are_disjoint() -> None:
    seeds = {s: set(pc.split_seeds(s).tolist()) for s in pc.SPLITS}
    for i, s in enumerate(pc.SPLITS):
        assert len(seeds[s]) == pc.CLASSIFICATION_SIZES[s]
        for t in pc.SPLITS[i + 1:]:
            assert not seeds[s] & seeds[t], (s, t)
    # a split's largest size still stays below the next split's seeds
    assert pc.split_seeds("train", pc.SEED_STRIDE - 1)[-1] < pc.split_seeds("val")[0]
    with pytest.raises(ValueError):
        pc.split_seeds("train", pc.SEED_STRIDE)
    rooms = {s: set(pc.SEGMENTATION_ROOMS[s]) for s in pc.SPLITS}
    assert not rooms["train"] & rooms["val"] and not rooms["train"] & rooms["test"]
    assert not rooms["val"] & rooms["test"]
    assert not set().union(*rooms.values()) & pc.mapping_rooms()
    for split, room in (("train", 300), ("val", 0), ("test", 101)):  # another split's, mapping's
        with pytest.raises(ValueError, match="overlap"):
            pc.cache_path(split, kind="segmentation", size=(room,))
    with pytest.raises(ValueError):
        pc.cache_path("holdout")


def test_class_tables() -> None:
    cls = pc.CLASSIFICATION_CLASSES
    assert len(cls) >= 10 and len(set(cls)) == len(cls) and "unknown" not in cls
    seg = pc.SEGMENTATION_CLASSES
    assert len(set(seg)) == len(seg) and seg[:4] == ("unknown", "floor", "wall", "ceiling")
    assert set(seg) - {"unknown", "floor", "wall", "ceiling"} <= set(cls)


def test_every_class_renders_on_its_object(renderer: pc.ObjectViewRenderer) -> None:
    from sim.ground_truth.sdf import SceneSDF

    for label in range(len(pc.CLASSIFICATION_CLASSES)):
        v = renderer.view(label, 7)
        assert v.label == label and v.points.dtype == np.float32
        assert OBJ.min_points <= len(v.points) <= OBJ.max_points
        assert v.on_object.all()  # context_m = 0: object points only
        assert (v.points[:, 2] > 0).all()  # in front of the camera (optical z forward)
        # the renderer stays posed as seen: every point lies on the object's surface
        sdf = SceneSDF(renderer.model, renderer.data, renderer.object_geoms(label))
        d = sdf.distance(to_world(v.points, v.T_world_camera))
        assert np.abs(d).max() < 0.005, pc.CLASSIFICATION_CLASSES[label]


def test_context_points_are_near_the_object() -> None:
    p = dataclasses.replace(OBJ, context_m=0.1, max_points=2000)
    with pc.ObjectViewRenderer(p) as r:
        v = r.view(4, 3)  # a table: floor around its legs
    obj, ctx = v.points[v.on_object], v.points[~v.on_object]
    assert len(obj) >= p.min_points and len(ctx) > 0
    d = np.linalg.norm(ctx[:, None] - obj[None], axis=2).min(1)
    assert d.max() < p.context_m


def test_room_labels_index_the_segmentation_classes() -> None:
    with pc.RoomViewRenderer(202, ROOM) as r:
        views = [r.view(k) for k in range(2)]
    floor = pc.SEGMENTATION_CLASSES.index("floor")
    for v in views:
        assert v.point_labels.dtype == np.int16 and len(v.points) > 1000
        assert v.point_labels.min() >= 0 and v.point_labels.max() < len(pc.SEGMENTATION_CLASSES)
        assert (v.point_labels == floor).sum() > 100
        # floor-labelled points lie on the floor plane (z = 0), the camera 0.22 m above it
        w = to_world(v.points, v.T_world_camera)
        assert np.abs(w[v.point_labels == floor, 2]).max() < 0.005
        assert v.T_world_camera[2, 3] == pytest.approx(0.22, abs=0.01)
        assert (w[v.point_labels != floor, 2] > 0.005).mean() > 0.95


def test_build_caches_and_reads_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = pc.build("val", params=OBJ, size=1, cache_dir=tmp_path, progress=False)
    assert len(a) == len(pc.CLASSIFICATION_CLASSES)  # one sample of each class
    assert sorted(a.labels.tolist()) == list(range(len(pc.CLASSIFICATION_CLASSES)))
    assert (a.sizes >= OBJ.min_points).all() and a.on_object.all()
    assert set(a.seeds.tolist()) == {int(pc.split_seeds("val", 1)[0])}
    path = pc.cache_path("val", params=OBJ, size=1, cache_dir=tmp_path)
    assert path.is_file() and list(tmp_path.iterdir()) == [path]

    def no_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered although cached")

    monkeypatch.setattr(pc, "generate", no_render)
    for b in (pc.build("val", params=OBJ, size=1, cache_dir=tmp_path, progress=False),
              pc.load("val", params=OBJ, size=1, cache_dir=tmp_path)):
        for f in dataclasses.fields(pc.CloudSet):
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, f.name
    monkeypatch.undo()
    # another size, split or parameter is another file; a damaged file is rendered again
    other = {pc.cache_path("val", params=OBJ, size=2, cache_dir=tmp_path),
             pc.cache_path("test", params=OBJ, size=1, cache_dir=tmp_path),
             pc.cache_path("val", params=dataclasses.replace(OBJ, fovy=50.0), size=1,
                           cache_dir=tmp_path)}
    assert len(other) == 3 and path not in other
    with pytest.raises(FileNotFoundError, match="build"):
        pc.load("test", params=OBJ, size=1, cache_dir=tmp_path)
    path.write_bytes(b"not a zip")
    again = pc.build("val", params=OBJ, size=1, cache_dir=tmp_path, progress=False)
    assert np.array_equal(again.points, a.points)


def test_segmentation_set_and_its_cache(tmp_path: Path) -> None:
    a = pc.build("val", kind="segmentation", params=ROOM, size=(250,), cache_dir=tmp_path,
                 progress=False)
    assert len(a) == ROOM.views_per_room and a.class_names == pc.SEGMENTATION_CLASSES
    assert a.seeds.tolist() == [250] * ROOM.views_per_room and a.labels is None
    assert len(a.point_labels) == len(a.points) == a.offsets[-1]
    assert pc.SEGMENTATION_CLASSES.index("floor") in a.cloud_point_labels(0)
    b = pc.build("val", kind="segmentation", params=ROOM, size=(250,), cache_dir=tmp_path,
                 progress=False)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.point_labels, b.point_labels)
    pts, lab = a.fixed_size(1000, seed=1)
    assert pts.shape == (len(a), 1000, 3) and lab.shape == (len(a), 1000)
    # resampling keeps each point with its own label
    i = 0
    pos = {tuple(p): int(c) for p, c in zip(a.cloud(i), a.cloud_point_labels(i), strict=True)}
    assert all(pos[tuple(p)] == int(c) for p, c in zip(pts[i], lab[i], strict=True))
    with pytest.raises(ValueError, match="takes RoomViewParams"):
        pc.build("val", kind="segmentation", params=OBJ, size=(250,), cache_dir=tmp_path)


def test_resample() -> None:
    rng = np.random.default_rng(0)
    pts = np.zeros((50, 3))
    few = pc.resample(pts, 80, rng)
    assert few.shape == (80,) and set(few.tolist()) == set(range(50))  # every point, then repeats
    many = pc.resample(pts, 20, rng)
    assert len(set(many.tolist())) == 20 and many.max() < 50  # a subset, no repeats
    for bad in ((pts, 0), (np.zeros((0, 3)), 5)):
        with pytest.raises(ValueError):
            pc.resample(*bad, rng)


def test_bad_view_params() -> None:
    for bad in (dict(distance_min_m=3.0, distance_max_m=1.0),
                dict(height_min_m=2.0, height_max_m=1.0),
                dict(min_points=500, max_points=100), dict(width=8)):
        with pytest.raises(ValueError):
            pc.ObjectViewRenderer(pc.ObjectViewParams(**bad))
    with pc.ObjectViewRenderer(OBJ) as r, pytest.raises(ValueError, match="label"):
        r.view(len(pc.CLASSIFICATION_CLASSES), 0)
