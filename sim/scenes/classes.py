"""The semantic class table shared by all scenes, and the naming rules that carry it in MJCF.

A geom's class comes from names, so labels survive any MJCF round trip:

1. a geom whose body (or an ancestor body) is named ``obj_<class>_<i>`` is an *object* of
   that class, instance ``i``-th object body of the model (instance ids start at 1);
2. otherwise a geom named ``<class>`` or ``<class>_<anything>`` for a *stuff* class
   (floor, wall, ceiling, robot, swimmer) has that class and instance 0;
3. anything else is ``unknown`` (0). Background pixels (no geom) are ``unknown`` too.
"""

from __future__ import annotations

#: Class id -> name. Ids are stable: new classes are appended.
CLASS_NAMES: dict[int, str] = {
    0: "unknown",
    1: "floor",
    2: "wall",
    3: "ceiling",
    4: "crate",
    5: "ball",
    6: "can",
    7: "capsule",
    8: "table",
    9: "chair",
    10: "shelf",
    11: "lamp",
    12: "cone",
    13: "robot",
    14: "swimmer",
    15: "bottle",
    16: "bench",
}

CLASS_IDS: dict[str, int] = {name: i for i, name in CLASS_NAMES.items()}

#: Classes of individual objects (bodies ``obj_<class>_<i>``), in room placement order.
OBJECT_CLASSES: tuple[str, ...] = (
    "crate", "ball", "can", "capsule", "table", "chair", "shelf", "lamp", "cone",
)

#: Object classes that only the point-cloud dataset builds (never placed in the room, so the
#: room's seeded layout is unchanged); with :data:`OBJECT_CLASSES` they make its 11 classes.
EXTRA_OBJECT_CLASSES: tuple[str, ...] = ("bottle", "bench")

#: Classes of unbounded or structural things, given by geom name prefix.
STUFF_CLASSES: tuple[str, ...] = ("floor", "wall", "ceiling", "robot", "swimmer")


def object_body_name(cls: str, index: int) -> str:
    if cls not in OBJECT_CLASSES + EXTRA_OBJECT_CLASSES:
        raise ValueError(f"{cls!r} is not an object class")
    return f"obj_{cls}_{index}"


def parse_object_body(name: str) -> str | None:
    """The class of an object body name ``obj_<class>_<i>``, or None."""
    if not name.startswith("obj_"):
        return None
    cls, _, idx = name[4:].rpartition("_")
    known = OBJECT_CLASSES + EXTRA_OBJECT_CLASSES
    return cls if cls in known and idx.isdigit() else None


def stuff_class(geom_name: str) -> str | None:
    """The stuff class of a geom name (``floor``, ``wall_3``, ...), or None."""
    head = geom_name.split("_", 1)[0]
    return head if head in STUFF_CLASSES else None


__all__ = [
    "CLASS_IDS",
    "CLASS_NAMES",
    "EXTRA_OBJECT_CLASSES",
    "OBJECT_CLASSES",
    "STUFF_CLASSES",
    "object_body_name",
    "parse_object_body",
    "stuff_class",
]
