"""Camera-relative measurements the question types need, cached once per scene.

Directions are relative to the camera view. In a canonical scene (+z up) "right" is the camera's right
vector projected on the floor plane and "forward" the horizontal viewing direction; in a non-canonical scene
(camera frame, OpenCV) right is +x, forward +z and up is -y. Object-to-object gaps come from
``spatialvlm_core.geometry`` (footprint prisms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spatialvlm_core.geometry import aabb_distance, box_distance, footprint_gap, z_range
from spatialvlm_core.types import Object3D, Scene3D

_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class ObjectMeasures:
    """Everything a question type reads about one object, in metres / radians."""

    lateral: float  # along the camera's right direction (positive: right of the optical axis)
    depth: float  # along the camera's (horizontal) forward direction
    cam_dist: float  # camera centre to centroid
    up: float  # centroid height along "up" (canonical: z)
    bottom: float  # lowest point along up (canonical only meaningful)
    top: float
    width: float  # larger horizontal extent (canonical) / camera-x extent (non-canonical)
    length: float  # smaller horizontal extent (canonical) / camera-z extent (non-canonical)
    height: float  # vertical extent
    volume: float

    @property
    def bearing_deg(self) -> float:
        """Angle from straight ahead, positive to the right, in (-180, 180]."""
        return math.degrees(math.atan2(self.lateral, self.depth))


@dataclass
class SceneContext:
    """A scene plus its camera basis and per-object measures (computed once, read by every type)."""

    scene: Scene3D
    origin: np.ndarray
    right: np.ndarray
    forward: np.ndarray
    has_camera: bool
    measures: dict[str, ObjectMeasures] = field(default_factory=dict)
    by_id: dict[str, Object3D] = field(default_factory=dict)

    @classmethod
    def build(cls, scene: Scene3D) -> SceneContext:
        origin, right, forward, has_camera = camera_basis(scene)
        ctx = cls(scene=scene, origin=origin, right=right, forward=forward, has_camera=has_camera)
        for o in scene.objects:
            ctx.by_id[o.id] = o
            ctx.measures[o.id] = measure(o, scene.canonical, origin, right, forward)
        return ctx

    def m(self, obj: Object3D) -> ObjectMeasures:
        return self.measures[obj.id]

    def plane_xy(self, obj: Object3D) -> np.ndarray:
        """(lateral, depth): the object's position in the camera-aligned ground plane."""
        m = self.measures[obj.id]
        return np.array([m.lateral, m.depth])

    def horizontal_distance(self, a: Object3D, b: Object3D) -> float:
        return float(np.linalg.norm(self.plane_xy(a) - self.plane_xy(b)))

    def min_distance(self, a: Object3D, b: Object3D) -> float:
        """Closest points of the two objects (prisms when canonical, axis-aligned boxes otherwise)."""
        return box_distance(a, b) if self.scene.canonical else aabb_distance(a.aabb, b.aabb)

    def footprint_gap(self, a: Object3D, b: Object3D) -> float:
        return footprint_gap(a, b)


def camera_basis(scene: Scene3D) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(origin, right, forward, has_camera) with right/forward unit vectors in the ground plane."""
    if not scene.canonical:
        # Scene is in the camera frame: the camera is the origin by definition.
        return np.zeros(3), np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]), True
    if scene.camera is None:
        return np.zeros(3), np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), False
    pose = scene.camera.matrix()
    right = pose[:3, 0] - np.dot(pose[:3, 0], _UP) * _UP
    if np.linalg.norm(right) < 1e-6:  # camera rolled 90 degrees: fall back to the optical axis
        fwd = pose[:3, 2] - np.dot(pose[:3, 2], _UP) * _UP
        right = np.cross(fwd, _UP)
    right = right / np.linalg.norm(right)
    forward = np.cross(_UP, right)
    return pose[:3, 3].copy(), right, forward, True


def measure(obj: Object3D, canonical: bool, origin: np.ndarray, right: np.ndarray,
            forward: np.ndarray) -> ObjectMeasures:
    c = np.asarray(obj.centroid, dtype=float)
    rel = c - origin
    if canonical:
        box_bottom, top = z_range(obj)
        bottom = float(obj.height_above_floor) if obj.height_above_floor is not None else box_bottom
        sx, sy, sz = obj.obb.size
        width, length = max(sx, sy), min(sx, sy)
        height = top - box_bottom
        up = float(c[2])
        volume = float(sx * sy * sz)
    else:
        lo, hi = obj.aabb.min, obj.aabb.max
        bottom, top = float(-hi[1]), float(-lo[1])  # camera y points down
        width, height, length = (float(s) for s in obj.aabb.size)
        up = float(-c[1])
        volume = width * height * length
    return ObjectMeasures(
        lateral=float(np.dot(rel, right)),
        depth=float(np.dot(rel, forward)),
        cam_dist=float(np.linalg.norm(rel)),
        up=up,
        bottom=float(bottom),
        top=float(top),
        width=float(width),
        length=float(length),
        height=float(height),
        volume=volume,
    )


def clock_hour(bearing_deg: float) -> float:
    """Exact clock position of a bearing (0 deg = 12 o'clock, +90 = 3 o'clock), in [0.5, 12.5).

    The range is centred on the hours so the exact value stays next to the hour it rounds to
    (a bearing of +5 deg is 12.17, stated "12 o'clock").
    """
    h = (bearing_deg / 30.0) % 12.0
    return h + 12.0 if h < 0.5 else h


def rounded_clock(bearing_deg: float) -> int:
    h = round(clock_hour(bearing_deg)) % 12
    return 12 if h == 0 else int(h)
