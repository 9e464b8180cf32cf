"""A picture of a scene for people: instance masks tinted over the RGB, 3D boxes projected as wireframes."""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

from spatialvlm_core.types import CameraIntrinsics, CameraPose, OrientedBox3D, Scene3D

_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]


def _palette(n: int) -> np.ndarray:
    cols = [colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75, 1.0) for i in range(n)]
    return (np.array(cols) * 255).astype(np.uint8)


def obb_corners(box: OrientedBox3D) -> np.ndarray:
    """The 8 corners (bottom 4 then top 4), shape (8, 3)."""
    xy = box.corners_xy()
    z0, z1 = box.center[2] - box.size[2] / 2, box.center[2] + box.size[2] / 2
    return np.vstack([np.c_[xy, np.full(4, z0)], np.c_[xy, np.full(4, z1)]])


def project(points: np.ndarray, pose: CameraPose, k: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N, 2) of world points and their camera z (N,)."""
    cam_from_world = np.linalg.inv(pose.matrix())
    p = np.asarray(points, float) @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    z = p[:, 2]
    uv = np.c_[k.fx * p[:, 0] / np.where(z == 0, 1e-9, z) + k.cx, k.fy * p[:, 1] / np.where(z == 0, 1e-9, z) + k.cy]
    return uv, z


def draw_overview(rgb: np.ndarray, instances: np.ndarray, scene: Scene3D, alpha: float = 0.4) -> Image.Image:
    """RGB with masks tinted, each object's 3D box as a wireframe and its caption."""
    if scene.camera is None or scene.intrinsics is None:
        raise ValueError(f"scene {scene.scene_id} has no camera/intrinsics to project boxes with")
    pal = _palette(max(int(instances.max()), 1) + 1)
    out = rgb.astype(np.float32)
    fg = instances > 0
    out[fg] = (1 - alpha) * out[fg] + alpha * pal[instances[fg]]
    img = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for obj in scene.objects:
        col = tuple(int(c) for c in pal[obj.mask_id or 0])
        uv, z = project(obb_corners(obj.obb), scene.camera, scene.intrinsics)
        for a, b in _EDGES:
            if z[a] > 0.05 and z[b] > 0.05:  # skip edges behind the camera (no clipping needed for a preview)
                draw.line([tuple(uv[a]), tuple(uv[b])], fill=col, width=1)
        if obj.box_2d is not None:
            draw.text((obj.box_2d[0] + 2, obj.box_2d[1] + 1), f"{obj.id} {obj.caption[4:]}", fill=col)
    return img
