"""Analytic test scenes: a floor plane and yawed boxes ray-cast from a tilted pinhole camera.

Exact z-depth, instance masks and colours, with no renderer: each pixel's ray is intersected with the floor
(z = 0) and with every box (slab test in the box's yaw frame). Used by the lifting/reconstruct tests and, when
the MuJoCo sim is missing, by ``benchmarks/lifting.py``. The tests at the bottom check the ray-caster itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spatialvlm_core.types import CameraIntrinsics, CameraPose, Detection, Detections, Frame


@dataclass
class BoxSpec:
    center_xy: tuple[float, float]
    size: tuple[float, float, float]  # length along yaw, width, height
    yaw: float = 0.0
    z0: float = 0.0  # bottom height above the floor
    color: tuple[int, int, int] = (200, 30, 30)
    label: str = "box"


@dataclass
class AnalyticScene:
    rgb: np.ndarray
    depth: np.ndarray
    instances: np.ndarray  # 0 = floor/background, i + 1 = boxes[i]
    intrinsics: CameraIntrinsics
    pose: CameraPose  # world_from_camera
    boxes: list[BoxSpec] = field(default_factory=list)

    def frame(self, with_intrinsics: bool = True) -> Frame:
        return Frame(image_id="analytic", rgb=self.rgb, depth=self.depth,
                     intrinsics=self.intrinsics if with_intrinsics else None)

    def detections(self, min_pixels: int = 1) -> Detections:
        items = []
        for i, b in enumerate(self.boxes):
            m = self.instances == i + 1
            if m.sum() < min_pixels:
                continue
            vs, us = np.nonzero(m)
            items.append(Detection(label=b.label, score=0.9, mask=m, gt_id=f"{b.label}-{i}",
                                   box_xyxy=(float(us.min()), float(vs.min()), float(us.max() + 1),
                                             float(vs.max() + 1))))
        h, w = self.depth.shape
        return Detections(image_id="analytic", width=w, height=h, items=items, backend="analytic")

    def world_points(self, inst: int) -> np.ndarray:
        """Exact world points of instance ``inst`` (all its visible pixels)."""
        vs, us = np.nonzero(self.instances == inst)
        k = self.intrinsics
        z = self.depth[vs, us].astype(np.float64)
        cam = np.stack([(us - k.cx) / k.fx * z, (vs - k.cy) / k.fy * z, z], axis=1)
        m = self.pose.matrix()
        return cam @ m[:3, :3].T + m[:3, 3]


def camera_pose(height: float, pitch_deg: float, roll_deg: float = 0.0, yaw_deg: float = 0.0,
                xy: tuple[float, float] = (0.0, 0.0)) -> CameraPose:
    """world_from_camera for a camera at ``height`` looking along world +y rotated by yaw, pitched down."""
    r0 = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # level camera looking along +y
    p = math.radians(pitch_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(-p), -math.sin(-p)], [0, math.sin(-p), math.cos(-p)]])
    r = math.radians(roll_deg)
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    y = math.radians(yaw_deg)
    ry = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = ry @ r0 @ rx @ rz
    m[:3, 3] = [xy[0], xy[1], height]
    return CameraPose.from_matrix(m)


def render(boxes: list[BoxSpec], pose: CameraPose, width: int = 320, height: int = 240, hfov_deg: float = 70.0,
           floor: bool = True, walls: list[tuple[np.ndarray, float]] | None = None) -> AnalyticScene:
    """Ray-cast the scene; ``walls`` are extra planes (normal, offset) with n . p + d = 0."""
    k = CameraIntrinsics.from_fov(width, height, hfov_deg)
    us, vs = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays_c = np.stack([(us - k.cx) / k.fx, (vs - k.cy) / k.fy, np.ones_like(us)], -1)  # z_cam = 1 => t = depth
    m = pose.matrix()
    rays = rays_c @ m[:3, :3].T
    o = m[:3, 3]
    depth = np.full((height, width), np.inf)
    inst = np.zeros((height, width), dtype=np.int32)
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    if floor:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(rays[..., 2] < -1e-9, -o[2] / rays[..., 2], np.inf)
        hit = t < depth
        depth[hit] = t[hit]
        # Checkered floor so colour is not flat.
        pw = o + rays * np.where(np.isfinite(t), t, 0)[..., None]
        check = ((np.floor(pw[..., 0] * 2) + np.floor(pw[..., 1] * 2)) % 2).astype(np.uint8)
        rgb[hit] = (np.array([150, 150, 150]) + 30 * check[hit, None]).astype(np.uint8)
    for n, d in walls or []:
        n = np.asarray(n, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = rays @ n
            t = np.where(np.abs(denom) > 1e-9, -(n @ o + d) / denom, np.inf)
        t = np.where(t > 0, t, np.inf)
        hit = t < depth
        depth[hit] = t[hit]
        rgb[hit] = (220, 210, 190)
        inst[hit] = 0
    for i, b in enumerate(boxes):
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        centre = np.array([b.center_xy[0], b.center_xy[1], b.z0 + b.size[2] / 2])
        lo_ = (o - centre) @ rot  # ray origin in box frame
        dl = rays @ rot
        half = np.asarray(b.size) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (-half - lo_) / dl
            t2 = (half - lo_) / dl
        tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
        hit = (tmax >= tmin) & (tmin > 0) & (tmin < depth)
        depth[hit] = tmin[hit]
        inst[hit] = i + 1
        rgb[hit] = b.color
    depth = np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)
    return AnalyticScene(rgb=rgb, depth=depth, instances=inst, intrinsics=k, pose=pose, boxes=list(boxes))


def room_scene(pitch_deg: float = 25.0, roll_deg: float = 5.0, yaw_deg: float = 0.0, n_boxes: int = 3,
               width: int = 320, height: int = 240, cam_height: float = 1.5) -> AnalyticScene:
    """A camera above the floor looking at ``n_boxes`` boxes laid out in front of it (yaw in the world)."""
    specs = [
        BoxSpec((-0.8, 3.0), (0.8, 0.5, 0.9), yaw=0.5, color=(200, 30, 30), label="cabinet"),
        BoxSpec((0.7, 2.6), (0.5, 0.5, 0.45), yaw=0.0, color=(30, 70, 200), label="stool"),
        BoxSpec((0.1, 4.2), (1.2, 0.4, 1.6), yaw=-0.3, color=(40, 160, 50), label="shelf"),
        BoxSpec((-1.6, 4.8), (0.4, 0.4, 0.7), yaw=0.2, color=(235, 220, 40), label="bin"),
        BoxSpec((1.6, 4.0), (0.6, 0.6, 0.6), yaw=0.8, color=(120, 50, 160), label="crate"),
    ]
    while len(specs) < n_boxes:  # extra small boxes on a grid for benchmarks
        j = len(specs)
        specs.append(BoxSpec((-1.6 + 0.8 * (j - 5), 1.8 + 0.25 * (j % 2)), (0.25, 0.25, 0.3 + 0.03 * j),
                             yaw=0.1 * j, color=(240, 140, 20), label="box"))
    # Place boxes relative to the camera's yaw so they stay in view.
    y = math.radians(yaw_deg)
    rz = np.array([[math.cos(y), -math.sin(y)], [math.sin(y), math.cos(y)]])
    placed = [BoxSpec(tuple(rz @ np.asarray(b.center_xy)), b.size, b.yaw + y, b.z0, b.color, b.label)
              for b in specs[:n_boxes]]
    return render(placed, camera_pose(cam_height, pitch_deg, roll_deg, yaw_deg), width, height)


# --------------------------------------------------------------------------- tests of the ray-caster


def test_floor_depth_matches_analytic_formula() -> None:
    sc = render([], camera_pose(1.5, 30.0), width=64, height=48, hfov_deg=60)
    k = sc.intrinsics
    # The bottom-centre pixel's ray: z-depth to the floor is h / (sin(pitch) + cos(pitch) * ray_y).
    v = 47
    ry = (v - k.cy) / k.fy
    p = math.radians(30)
    expected = 1.5 / (math.sin(p) + math.cos(p) * ry)
    u = int(k.cx)
    assert abs(sc.depth[v, u] - expected) < 1e-4
    assert (sc.depth > 0).mean() > 0.5  # upper rows look above the horizon


def test_box_points_lie_on_box_surface() -> None:
    sc = room_scene(n_boxes=2)
    for i, b in enumerate(sc.boxes):
        pts = sc.world_points(i + 1)
        assert len(pts) > 50
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        local = (pts - [*b.center_xy, b.z0 + b.size[2] / 2]) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        assert np.all(np.abs(local) <= np.asarray(b.size) / 2 + 1e-4)
