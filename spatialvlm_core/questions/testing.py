"""Hand-made scenes with exact ground truth, for tests here and in other packages."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

from spatialvlm_core.colors import CAPTION_WORDS
from spatialvlm_core.geometry import obb_aabb
from spatialvlm_core.types import CameraPose, Object3D, OrientedBox3D, PointsSummary, Scene3D, Vec3


def make_box_object(id: str, name: str, caption: str, center: Sequence[float], size: Sequence[float],
                    yaw: float = 0.0, canonical: bool = True, ambiguous: bool = False) -> Object3D:
    """A box-shaped object whose aabb, obb, centroid, footprint and height above floor agree exactly.

    ``center``/``size`` are the oriented box's centre and (length along yaw, width, height) in metres, in the
    canonical frame (+z up); with ``canonical=False`` the footprint and height above floor are left empty.
    """
    if len(center) != 3 or len(size) != 3:
        raise ValueError(f"make_box_object {id}: center and size need 3 values, got {center!r}, {size!r}")
    obb = OrientedBox3D(center=tuple(float(c) for c in center), size=tuple(float(s) for s in size), yaw=yaw)
    aabb = obb_aabb(obb) if canonical else obb_aabb(obb.model_copy(update={"yaw": 0.0}))
    c: Vec3 = obb.center
    return Object3D(
        id=id, name=name, caption=caption, aabb=aabb, obb=obb, centroid=c,
        footprint=[tuple(map(float, p)) for p in obb.corners_xy()] if canonical else [],
        height_above_floor=float(c[2] - size[2] / 2) if canonical else None,
        points=PointsSummary(num_points=1000, centroid=c),
        ambiguous=ambiguous,
    )


def level_camera(position: Sequence[float], heading: float = 0.0, pitch: float = 0.0) -> CameraPose:
    """A camera at ``position`` looking along +y rotated by ``heading`` (radians, counter-clockwise seen
    from above), tilted down by ``pitch`` radians; returns the OpenCV ``world_from_camera`` pose."""
    right = np.array([math.cos(heading), math.sin(heading), 0.0])
    fwd_h = np.array([-math.sin(heading), math.cos(heading), 0.0])
    forward = math.cos(pitch) * fwd_h - math.sin(pitch) * np.array([0.0, 0.0, 1.0])
    down = np.cross(forward, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, down, forward, np.asarray(position, dtype=float)
    return CameraPose.from_matrix(m)


def make_scene(objects: Sequence[Object3D], scene_id: str = "scene", canonical: bool = True,
               camera: CameraPose | None = None) -> Scene3D:
    """A scene around ``objects``; canonical scenes get a level camera at (0, -3, 1.5) looking along +y."""
    if canonical and camera is None:
        camera = level_camera((0.0, -3.0, 1.5))
    if not canonical:
        camera = CameraPose.from_matrix(np.eye(4))
    return Scene3D(scene_id=scene_id, objects=list(objects), canonical=canonical, camera=camera)


_NAMES = ("chair", "table", "lamp", "sofa", "mug", "shelf", "box", "plant", "bed", "desk")
# Every caption colour word (the one colour table), plus a material word: real captions carry attributes that
# are no colour ("the wooden chair"), and parsers must not take them for one.
_ATTRIBUTES = (*CAPTION_WORDS, "wooden")


def random_scene(rng: random.Random, n_objects: int = 6, scene_id: str = "rand", canonical: bool = True,
                 ambiguous_share: float = 0.0) -> Scene3D:
    """A random room: boxes of random size, position and yaw in front of a level camera."""
    objs = []
    kinds = rng.sample([(c, n) for c in _ATTRIBUTES for n in _NAMES], n_objects)  # unique captions
    for i in range(n_objects):
        size = (rng.uniform(0.1, 2.0), rng.uniform(0.1, 1.0), rng.uniform(0.1, 2.0))
        z = size[2] / 2 + (rng.uniform(0.2, 1.5) if rng.random() < 0.3 else 0.0)
        center = (rng.uniform(-3, 3), rng.uniform(0.5, 6), z)
        color, name = kinds[i]
        objs.append(make_box_object(f"o{i}", name, f"the {color} {name}", center, size,
                                    yaw=rng.uniform(-math.pi, math.pi) if canonical else 0.0,
                                    canonical=canonical, ambiguous=rng.random() < ambiguous_share))
    return make_scene(objs, scene_id=scene_id, canonical=canonical)
