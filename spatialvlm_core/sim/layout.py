"""Placed objects, rooms and cameras: the ``Layout`` a scene is built from, and its exact boxes.

A ``Layout`` is plain data (pydantic), so another module can append objects (or extra MJCF bodies) and
rebuild the MuJoCo model from it. Poses are world-frame: +z up, floor z = 0, yaw about +z.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.sim.catalog import COLORS, Part, get_category, tight_bounds
from spatialvlm_core.types import Box3D, CameraIntrinsics, CameraPose, OrientedBox3D

Vec3 = tuple[float, float, float]


class PlacedObject(BaseModel):
    """One object instance: category, size variant, colour name, sampled dims and world pose."""

    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    size: str
    color: str
    dims: Vec3  # sampled (length, depth, height) fed to the category builder
    pos: Vec3  # world position of the object's local origin (footprint centre on its resting surface)
    yaw: float = 0.0
    support_id: str | None = None  # id of the object it stands on (small objects)

    def parts(self) -> list[Part]:
        spec = get_category(self.category)
        if self.color not in COLORS:
            raise ValueError(f"object {self.id}: unknown colour {self.color!r}; known: {sorted(COLORS)}")
        return spec.build(*self.dims, COLORS[self.color])

    def local_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = _local_bounds(self.category, self.dims)
        return np.array(lo), np.array(hi)

    def world_from_local(self) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        m = np.eye(4)
        m[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
        m[:3, 3] = self.pos
        return m

    def obb(self) -> OrientedBox3D:
        """Exact oriented box: the tight box of the parts, turned by yaw (size = length, depth, height)."""
        lo, hi = self.local_bounds()
        centre = self.world_from_local() @ np.append((lo + hi) / 2, 1.0)
        size = hi - lo
        return OrientedBox3D(center=tuple(float(v) for v in centre[:3]), size=tuple(float(v) for v in size), yaw=float(self.yaw))

    def aabb(self) -> Box3D:
        ob = self.obb()
        xy = ob.corners_xy()
        z0, z1 = ob.center[2] - ob.size[2] / 2, ob.center[2] + ob.size[2] / 2
        return Box3D.from_min_max([*xy.min(axis=0), z0], [*xy.max(axis=0), z1])

    def footprint(self) -> np.ndarray:
        return self.obb().corners_xy()

    def z_range(self) -> tuple[float, float]:
        ob = self.obb()
        return ob.center[2] - ob.size[2] / 2, ob.center[2] + ob.size[2] / 2


@lru_cache(maxsize=4096)
def _local_bounds(category: str, dims: Vec3) -> tuple[Vec3, Vec3]:
    """Tight local bounds depend on category and dims only (not colour); cached because layout sampling
    asks for them thousands of times."""
    lo, hi = tight_bounds(get_category(category).build(*dims, (0.5, 0.5, 0.5)))
    return (float(lo[0]), float(lo[1]), float(lo[2])), (float(hi[0]), float(hi[1]), float(hi[2]))


class Room(BaseModel):
    """Floor ``x in [-width/2, width/2]``, ``y in [0, depth]``; walls on all four sides."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    width: float = Field(gt=0)
    depth: float = Field(gt=0)
    height: float = Field(default=2.7, gt=0)
    floor_rgb: tuple[float, float, float] = (0.62, 0.5, 0.38)
    floor_rgb2: tuple[float, float, float] = (0.55, 0.43, 0.32)
    wall_rgb: tuple[float, float, float] = (0.85, 0.84, 0.8)


class CameraSpec(BaseModel):
    """A camera by heading (angle of the horizontal view direction from +x), pitch down, roll and fov."""

    model_config = ConfigDict(extra="forbid")

    position: Vec3
    heading: float
    pitch_deg: float  # positive looks down
    roll_deg: float = 0.0
    hfov_deg: float = 60.0

    def pose(self) -> CameraPose:
        """world_from_camera with an OpenCV camera (x right, y down, z forward)."""
        return CameraPose.from_matrix(self.matrix())

    def matrix(self) -> np.ndarray:
        """world_from_camera as a 4x4 array (no validation: the layout sampler calls this in loops)."""
        h, p, r = self.heading, math.radians(self.pitch_deg), math.radians(self.roll_deg)
        fh = np.array([math.cos(h), math.sin(h), 0.0])
        z = math.cos(p) * fh + np.array([0.0, 0.0, -math.sin(p)])
        x = np.array([math.sin(h), -math.cos(h), 0.0])
        y = np.cross(z, x)
        # Roll turns the image plane about the optical axis (positive: image rotates clockwise).
        xr = math.cos(r) * x + math.sin(r) * y
        yr = -math.sin(r) * x + math.cos(r) * y
        m = np.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = xr, yr, z, self.position
        return m

    def intrinsics(self, width: int, height: int) -> CameraIntrinsics:
        k = CameraIntrinsics.from_fov(width, height, self.hfov_deg)
        # Symmetric frustum: the optical axis passes the image centre, (W-1)/2 with OpenCV pixel centres.
        return k.model_copy(update={"cx": (width - 1) / 2, "cy": (height - 1) / 2})


class Layout(BaseModel):
    """Everything needed to build and render a scene (besides image size)."""

    model_config = ConfigDict(extra="forbid")

    room: Room
    objects: list[PlacedObject] = Field(default_factory=list)
    camera: CameraSpec
    gap: dict[str, Any] | None = None  # {"a": id, "b": id, "gap_m": float} for affordance layouts
    seed: int | None = None

    def get(self, obj_id: str) -> PlacedObject:
        for o in self.objects:
            if o.id == obj_id:
                return o
        raise KeyError(f"no object {obj_id!r} in layout")


# --------------------------------------------------------------------------- 2D footprint geometry
def _axes(poly: np.ndarray) -> np.ndarray:
    edges = np.roll(poly, -1, axis=0) - poly
    normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def convex_overlap(a: np.ndarray, b: np.ndarray, clearance: float = 0.0) -> bool:
    """True when convex polygons ``a`` and ``b`` come closer than ``clearance`` (separating-axis test)."""
    if clearance <= 0:
        for axis in np.concatenate([_axes(a), _axes(b)]):
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
        return True
    return convex_distance(a, b) < clearance


def _points_to_edges(pts: np.ndarray, poly: np.ndarray) -> float:
    """Smallest distance from any of ``pts`` to any edge of ``poly`` (vectorised point-segment distance)."""
    s0, d = poly, np.roll(poly, -1, axis=0) - poly
    diff = pts[:, None, :] - s0[None]
    t = np.clip((diff * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-18), 0.0, 1.0)
    gap = diff - t[..., None] * d
    return float(np.sqrt((gap * gap).sum(-1)).min())


def convex_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Exact minimal distance between two convex polygons (0 when they touch or overlap)."""
    if convex_overlap(a, b):
        return 0.0
    return min(_points_to_edges(a, b), _points_to_edges(b, a))


WallSide = Literal["back", "left", "right"]
