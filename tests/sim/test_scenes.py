"""Every scene compiles, steps and carries the names the rest of the stack relies on."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim.ground_truth.labels import GeomLabels
from sim.scenes import SCENES, make_scene
from sim.scenes.classes import CLASS_NAMES, OBJECT_CLASSES, parse_object_body
from sim.world import SimWorld


@pytest.mark.parametrize("name", sorted(SCENES))
def test_scene_compiles_and_steps(name: str) -> None:
    world = SimWorld(make_scene(name))
    world.step(50)
    assert world.time == pytest.approx(50 * world.timestep)
    assert np.all(np.isfinite(world.data.qpos))
    world.reset()
    assert world.time == 0.0


def test_room_has_distinct_object_classes() -> None:
    world = SimWorld(make_scene("room"))
    labels = GeomLabels.from_model(world.model)
    object_classes = {CLASS_NAMES[c] for c in labels.class_id} & set(OBJECT_CLASSES)
    assert len(object_classes) >= 8
    bodies = [n for n in world.body_names if n.startswith("obj_")]
    assert len(bodies) == len(OBJECT_CLASSES)
    assert all(parse_object_body(n) for n in bodies)
    assert {CLASS_NAMES[c] for c in labels.class_id} >= {"floor", "wall", "ceiling"}


def test_room_layout_is_seeded() -> None:
    a, b, c = (make_scene("room", seed=s).xml for s in (3, 3, 4))
    assert a == b and a != c


def test_room_objects_keep_clear_of_the_origin() -> None:
    world = SimWorld(make_scene("room", instances_per_class=2, clear_radius=1.5))
    for name in world.body_names:
        if name.startswith("obj_"):
            assert np.hypot(*world.body_pose(name).position[:2]) > 1.5


def test_free_objects_settle_without_exploding() -> None:
    world = SimWorld(make_scene("room", free_objects=True))
    world.step(250)
    for name in world.body_names:
        if name.startswith("obj_"):
            assert abs(world.body_twist(name).linear).max() < 0.5


@pytest.mark.parametrize("n_links", [3, 7, 12])
def test_swimmer_link_counts(n_links: int) -> None:
    world = SimWorld(make_scene("swimmer", n_links=n_links))
    assert world.model.nu == n_links - 1
    assert "head" in world.body_names


def test_make_scene_validates_overrides() -> None:
    with pytest.raises(ValueError):
        make_scene("swimmer", n_links=2)
    with pytest.raises(ValueError):
        make_scene("camera_rig", motion="teleport")
    with pytest.raises(ValueError):
        make_scene("nowhere")


def test_scene_xml_loads_standalone() -> None:
    for name in SCENES:
        model = mujoco.MjModel.from_xml_string(make_scene(name).xml)
        assert model.vis.global_.offwidth >= 640
