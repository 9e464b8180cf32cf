"""Rooms with exact boxes and a camera for the planner corpus; object classes and colours split train / held-out.

A room has a floor pair at a controlled free gap (what "fit between" asks about), a surface (table / desk),
a door, a tall object, a few more pieces, sometimes a group of one countable class (chairs, stools), and a
camera looking across the room (+y) from y = -3 m, 1.4 m up, so "closer to the camera" is defined. Every object
has a phrase that names it alone (``Placed.phrase``): its class when that is unique in the room, else its colour
and class.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from spatial_agent.testing import box_object
from spatialvlm_core.types import CameraPose, Object3D, Scene3D


@dataclass(frozen=True)
class ObjType:
    noun: str  # the class as the scene names it (resolve knows it)
    size: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]  # length, width, height ranges (m)
    role: str  # "pair" (floor furniture), "surface", "tall", "count" (several of it), "other"
    mention: str | None = None  # what people call it when that differs ("lamp" for a floor lamp)


_TRAIN_TYPES = [
    ObjType("sofa", ((1.6, 2.4), (0.8, 1.0), (0.7, 0.95)), "pair"),
    ObjType("armchair", ((0.7, 0.95), (0.7, 0.95), (0.8, 1.1)), "pair"),
    ObjType("bookshelf", ((0.8, 1.2), (0.3, 0.4), (1.4, 2.2)), "pair"),
    ObjType("tv stand", ((1.0, 1.8), (0.35, 0.5), (0.45, 0.7)), "pair"),
    ObjType("coffee table", ((0.8, 1.6), (0.5, 0.9), (0.35, 0.5)), "surface"),
    ObjType("desk", ((1.0, 1.6), (0.6, 0.8), (0.72, 0.78)), "surface"),
    ObjType("floor lamp", ((0.25, 0.4), (0.25, 0.4), (1.2, 1.9)), "tall", "lamp"),
    ObjType("chair", ((0.42, 0.55), (0.42, 0.55), (0.8, 1.0)), "count"),
]
# Written before any planner is trained; never in the train split.
_HELDOUT_TYPES = [
    ObjType("bed", ((1.9, 2.1), (1.4, 1.8), (0.5, 0.7)), "pair"),
    ObjType("dresser", ((0.9, 1.5), (0.45, 0.55), (0.8, 1.1)), "pair"),
    ObjType("wardrobe", ((1.0, 2.0), (0.55, 0.65), (1.8, 2.2)), "pair"),
    ObjType("bench", ((1.0, 1.6), (0.35, 0.45), (0.42, 0.5)), "pair"),
    ObjType("dining table", ((1.4, 2.2), (0.8, 1.0), (0.72, 0.78)), "surface"),
    ObjType("refrigerator", ((0.6, 0.9), (0.6, 0.75), (1.6, 1.9)), "tall", "fridge"),
    ObjType("stool", ((0.3, 0.4), (0.3, 0.4), (0.45, 0.75)), "count"),
]
_DOOR = ObjType("door", ((0.7, 1.1), (0.05, 0.05), (1.9, 2.2)), "door")
TRAIN_COLOURS = ("red", "blue", "grey", "white", "beige")
HELDOUT_COLOURS = ("green", "black", "brown", "yellow", "orange")
TYPES = {"train": _TRAIN_TYPES, "heldout": _HELDOUT_TYPES}
COLOURS = {"train": TRAIN_COLOURS, "heldout": HELDOUT_COLOURS}
CAMERA_XYZ = (0.5, -3.0, 1.4)


@dataclass(frozen=True)
class Placed:
    obj: Object3D
    phrase: str  # "the sofa", "the red chair": names this object alone in its room
    role: str
    noun: str  # what a person calls its class ("lamp", "chair")


@dataclass
class Room:
    scene: Scene3D
    objects: list[Placed]
    pair: tuple[Placed, Placed]  # the floor pair at a controlled gap
    count_noun: str | None  # plural of the group's class ("chairs"), None when the room has no group
    count: int

    def by_role(self, role: str) -> list[Placed]:
        return [p for p in self.objects if p.role == role]


def _camera() -> CameraPose:
    # OpenCV camera (x right, y down, z forward) looking along world +y, level: columns are its axes in the world.
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2] = (1, 0, 0), (0, 0, -1), (0, 1, 0)
    m[:3, 3] = CAMERA_XYZ
    return CameraPose.from_matrix(m)


def _overlaps(box: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]],
              margin: float = 0.25) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] + margin and b[0] - margin < x1 and y0 < b[3] + margin and b[1] - margin < y1
               for b in boxes)


def make_room(seed: int, split: str) -> Room:
    """A room of the split's object classes and colours; deterministic in ``seed``."""
    if split not in TYPES:
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    r = random.Random(f"room:{split}:{seed}")
    types = TYPES[split]
    colours = list(COLOURS[split])
    r.shuffle(colours)

    def dims(t: ObjType) -> tuple[float, float, float]:
        return tuple(round(r.uniform(lo, hi), 3) for lo, hi in t.size)  # type: ignore[return-value]

    pairs = [t for t in types if t.role == "pair"]
    a_t, b_t = r.sample(pairs, 2)
    chosen = [r.choice([t for t in types if t.role == "surface"]), next(t for t in types if t.role == "tall")]
    count_t = next(t for t in types if t.role == "count")
    n_count = r.choice([0, 1, 2, 3, 4])
    if count_t.noun == "chair" and "armchair" in (a_t.noun, b_t.noun):
        n_count = 0  # "how many chairs" would count the armchair too: keep the count question unambiguous
    boxes: list[tuple[float, float, float, float]] = []
    objs: list[tuple[ObjType, Object3D]] = []
    # The pair: a at the origin, b `gap` to its right (axis-aligned, so the free gap is exact).
    gap = round(r.uniform(0.3, 1.8), 3)
    al, aw, ah = dims(a_t)
    bl, bw, bh = dims(b_t)
    y0 = r.uniform(0.5, 1.5)
    for t, (x0, x1), (w, h), oid in ((a_t, (-1.5, -1.5 + al), (aw, ah), "a"),
                                     (b_t, (-1.5 + al + gap, -1.5 + al + gap + bl), (bw, bh), "b")):
        objs.append((t, box_object(oid, t.noun, (x0, y0), (x1, y0 + w), (0.0, h))))
        boxes.append((x0, y0, x1, y0 + w))
    dw, dh = round(r.uniform(*_DOOR.size[0]), 3), round(r.uniform(*_DOOR.size[2]), 3)
    dx = r.uniform(-2.0, 2.5)
    objs.append((_DOOR, box_object("door", "door", (dx, 6.0), (dx + dw, 6.05), (0.0, dh))))
    placed_types = chosen + [count_t] * n_count
    for i, t in enumerate(placed_types):
        length, width, height = dims(t)
        for _ in range(200):
            x, y = r.uniform(-3.5, 4.5 - length), r.uniform(-0.8, 5.5 - width)
            box = (x, y, x + length, y + width)
            if not _overlaps(box, boxes):
                break
        else:
            continue  # no room left: the object is left out (the count follows what was placed)
        boxes.append(box)
        objs.append((t, box_object(f"o{i}", t.noun, (x, y), (x + length, y + width), (0.0, height))))
    # Phrases: a colour where the class repeats (the group), sometimes elsewhere too.
    nouns = [t.noun for t, _ in objs]
    placed: list[Placed] = []
    count = 0
    # The group takes its colours first (it needs them to be told apart); the rest get one sometimes.
    wants = [nouns.count(t.noun) > 1 or r.random() < 0.3 for t, _ in objs]
    order = sorted(range(len(objs)), key=lambda i: nouns.count(objs[i][0].noun) == 1)
    colour_of = {i: colours.pop() for i in order if wants[i] and colours}
    for i, (t, o) in enumerate(objs):
        colour = colour_of.get(i)
        caption = f"the {colour + ' ' if colour else ''}{t.noun}"
        o = o.model_copy(update={"caption": caption, "attributes": {"color": colour} if colour else {}})
        said = t.mention or t.noun
        phrase = f"the {colour + ' ' if colour else ''}{said}"
        if t.role != "count" and colour and r.random() < 0.5:
            phrase = f"the {said}"  # unique class: the colour may be left out
        placed.append(Placed(obj=o, phrase=phrase, role=t.role, noun=said))
        count += t.role == "count"
    scene = Scene3D(scene_id=f"corpus-{split}-{seed}", objects=[p.obj for p in placed], canonical=True,
                    camera=_camera(), provenance={"gap": {"a": "a", "b": "b", "gap_m": gap}, "seed": seed})
    plural = None
    if count_t.noun and not (count_t.noun == "chair" and "armchair" in (a_t.noun, b_t.noun)):
        plural = f"{count_t.noun}s"
    return Room(scene=scene, objects=placed, pair=(placed[0], placed[1]), count_noun=plural, count=count)
