"""A tiny analytic renderer of box-furnished rooms with exact depth and instance masks.

Used by perception tests and benchmarks (no MuJoCo, no GL): objects are unions of axis-aligned boxes,
the room is a floor (z = 0) and three walls; rays are cast per pixel in numpy.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.types import (
    Box3D,
    CameraIntrinsics,
    CameraPose,
    Frame,
    GroundTruth,
    Object3D,
    OrientedBox3D,
    Scene3D,
)


class SynthObject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    parts: list[tuple[tuple[float, float, float], tuple[float, float, float]]]  # (min xyz, max xyz) world
    color: tuple[int, int, int] = (180, 60, 60)


class SynthRoom(BaseModel):
    model_config = ConfigDict(extra="forbid")

    objects: list[SynthObject] = Field(default_factory=list)
    half_width: float = 3.0  # side walls at x = +-half_width
    back_wall: float = 6.0  # wall at y = back_wall
    camera_height: float = 1.4
    pitch_deg: float = 20.0  # camera looks down by this much
    width: int = 160
    height: int = 120
    hfov_deg: float = 70.0


def chair(obj_id: str, x: float, y: float, s: float = 0.45, seat: float = 0.45, back: float = 0.9) -> SynthObject:
    """Seat, backrest (behind, +y) and four thin legs: a sparse object with see-through gaps."""
    leg = 0.04
    parts = [((x - s / 2, y - s / 2, seat - 0.05), (x + s / 2, y + s / 2, seat)),
             ((x - s / 2, y + s / 2 - 0.05, seat), (x + s / 2, y + s / 2, back))]
    for dx in (-1, 1):
        for dy in (-1, 1):
            cx, cy = x + dx * (s / 2 - leg / 2), y + dy * (s / 2 - leg / 2)
            parts.append(((cx - leg / 2, cy - leg / 2, 0.0), (cx + leg / 2, cy + leg / 2, seat - 0.05)))
    return SynthObject(id=obj_id, name="chair", parts=parts, color=(160, 90, 40))


def block(obj_id: str, name: str, lo: tuple[float, float, float], hi: tuple[float, float, float],
          color: tuple[int, int, int] = (60, 60, 180)) -> SynthObject:
    return SynthObject(id=obj_id, name=name, parts=[(lo, hi)], color=color)


def table(obj_id: str, x: float, y: float, w: float = 1.2, d: float = 0.8, h: float = 0.75) -> SynthObject:
    leg = 0.06
    parts = [((x - w / 2, y - d / 2, h - 0.05), (x + w / 2, y + d / 2, h))]
    for dx in (-1, 1):
        for dy in (-1, 1):
            cx, cy = x + dx * (w / 2 - leg), y + dy * (d / 2 - leg)
            parts.append(((cx - leg / 2, cy - leg / 2, 0.0), (cx + leg / 2, cy + leg / 2, h - 0.05)))
    return SynthObject(id=obj_id, name="table", parts=parts, color=(120, 120, 60))


def _ray_box(origin: np.ndarray, dirs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Entry distance along each ray into the box (inf when missed)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dirs
        t0, t1 = (lo - origin) * inv, (hi - origin) * inv
    tmin = np.nanmax(np.minimum(t0, t1), axis=1)
    tmax = np.nanmin(np.maximum(t0, t1), axis=1)
    hit = (tmax >= tmin) & (tmax > 0)
    return np.where(hit, np.maximum(tmin, 0.0), np.inf)


def render(room: SynthRoom, image_id: str = "synth") -> Frame:
    """Frame with rgb, exact z-depth (metres), intrinsics and ground truth (instances + scene)."""
    k = CameraIntrinsics.from_fov(room.width, room.height, room.hfov_deg)
    p = math.radians(room.pitch_deg)
    x_c = np.array([1.0, 0.0, 0.0])
    z_c = np.array([0.0, math.cos(p), -math.sin(p)])
    y_c = np.cross(z_c, x_c)
    rot = np.stack([x_c, y_c, z_c], axis=1)  # world_from_camera rotation
    origin = np.array([0.0, 0.0, room.camera_height])
    v, u = np.mgrid[0 : room.height, 0 : room.width]
    cam = np.stack([(u + 0.5 - k.cx) / k.fx, (v + 0.5 - k.cy) / k.fy, np.ones(u.shape)], axis=-1).reshape(-1, 3)
    dirs = cam @ rot.T  # z_cam = 1, so the ray parameter t is the z-depth
    n = dirs.shape[0]
    best = np.full(n, np.inf)
    ids = np.zeros(n, dtype=np.int32)
    colors = np.zeros((n, 3), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        planes = [  # (axis, value, colour) for floor and walls
            (2, 0.0, (150, 140, 130)),
            (1, room.back_wall, (200, 200, 190)),
            (0, -room.half_width, (190, 200, 200)),
            (0, room.half_width, (190, 200, 200)),
        ]
        for axis, value, color in planes:
            t = (value - origin[axis]) / dirs[:, axis]
            t = np.where(np.isfinite(t) & (t > 0), t, np.inf)
            closer = t < best
            best[closer], ids[closer], colors[closer] = t[closer], 0, color
    for i, obj in enumerate(room.objects, start=1):
        for lo, hi in obj.parts:
            t = _ray_box(origin, dirs, np.asarray(lo, float), np.asarray(hi, float))
            closer = t < best
            best[closer], ids[closer], colors[closer] = t[closer], i, obj.color
    shade = 0.75 + 0.25 * np.clip(1.0 / np.maximum(best, 0.5), 0, 1)  # mild depth cue in the rgb
    rgb = (colors * shade[:, None]).clip(0, 255).astype(np.uint8).reshape(room.height, room.width, 3)
    depth = np.where(np.isfinite(best), best, 0.0).astype(np.float32).reshape(room.height, room.width)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rot, origin
    objects = []
    for i, obj in enumerate(room.objects, start=1):
        lo = np.min([p_[0] for p_ in obj.parts], axis=0)
        hi = np.max([p_[1] for p_ in obj.parts], axis=0)
        box = Box3D.from_min_max(lo, hi)
        objects.append(Object3D(
            id=obj.id, name=obj.name, caption=f"the {obj.name}", aabb=box,
            obb=OrientedBox3D(center=box.center, size=box.size), centroid=box.center, mask_id=i,
        ))
    scene = Scene3D(scene_id=image_id, objects=objects, canonical=True, camera=CameraPose.from_matrix(pose),
                    intrinsics=k)
    gt = GroundTruth(instances=ids.reshape(room.height, room.width), scene=scene)
    return Frame(image_id=image_id, rgb=rgb, depth=depth, intrinsics=k, ground_truth=gt, source="synthetic")


def demo_rooms() -> list[SynthRoom]:
    """A few furnished rooms used by tests and the perception benchmark."""
    return [
        SynthRoom(objects=[
            chair("chair_0", -0.8, 2.6), chair("chair_1", 0.6, 3.0),
            table("table_0", 0.0, 4.2),
            block("cab_0", "cabinet", (1.8, 4.8, 0.0), (2.6, 5.5, 1.2)),
        ]),
        SynthRoom(objects=[
            block("sofa_0", "sofa", (-1.5, 3.8, 0.0), (0.7, 4.7, 0.85), (80, 110, 160)),
            chair("chair_2", 1.2, 2.4),
            block("box_0", "box", (-0.4, 2.0, 0.0), (0.0, 2.4, 0.35), (200, 150, 40)),
        ], pitch_deg=15.0, camera_height=1.2),
        SynthRoom(objects=[
            table("table_1", -0.5, 3.2, w=1.0, d=1.0),
            chair("chair_3", -0.5, 2.3),  # in front of the table: partial occluder
            block("lamp_0", "lamp", (1.4, 3.5, 0.0), (1.6, 3.7, 1.6), (230, 230, 120)),
            block("bed_0", "bed", (0.8, 4.3, 0.0), (2.8, 5.9, 0.55), (150, 80, 150)),
        ], pitch_deg=25.0, camera_height=1.6, hfov_deg=80.0),
    ]
