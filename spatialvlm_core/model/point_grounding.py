"""The point map's training targets (``VisionConfig.fine_grid``, composed/points.py): each pixel's surface
point in the camera's heading frame and, per fine cell, the object covering it and its median point. Plain
numpy, shared by the dataset (dense labels) and ``evals/point_ceiling.py``.
"""

from __future__ import annotations

import numpy as np

from spatialvlm_core.model.grid_cells import IGNORE, cells


def heading_frame_points(depth: np.ndarray, fx: float, fy: float, cx: float, cy: float,
                         world_from_camera: np.ndarray) -> np.ndarray:
    """(H, W, 3) each pixel's surface point in the heading frame: x right and y forward along the floor (from
    the camera's position, turned with its heading), z height above the floor (world z; floor z = 0)."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    d = depth.astype(np.float64)
    cam = np.stack([(u - cx) / fx * d, (v - cy) / fy * d, d], -1)
    r, t = world_from_camera[:3, :3], world_from_camera[:3, 3]
    world = cam @ r.T + t
    fwd = np.array([r[0, 2], r[1, 2], 0.0])  # the optical axis, flattened onto the floor
    n = float(np.linalg.norm(fwd))
    fwd = fwd / n if n > 1e-6 else np.array([0.0, 1.0, 0.0])  # looking straight down: any heading
    right = np.array([fwd[1], -fwd[0], 0.0])
    rel = world - np.array([t[0], t[1], 0.0])
    return np.stack([rel @ right, rel @ fwd, world[..., 2]], -1)


def cell_owners(instances: np.ndarray, points: np.ndarray, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of a ``grid`` x ``grid`` split (as adaptive pooling splits the image): the mask id of the object
    covering at least half of it (0: none) int64[grid*grid], and the median point of that object's pixels, or of
    the cell's background pixels, float32[grid*grid, 3] (NaN where the depth is unknown)."""
    if instances.shape != points.shape[:2]:
        raise ValueError(f"instances {instances.shape} and points {points.shape} differ")
    h, w = instances.shape
    owner = np.zeros(grid * grid, dtype=np.int64)
    xyz = np.full((grid * grid, 3), np.nan, dtype=np.float32)
    for r, rs in enumerate(cells(h, grid)):
        for c, cs in enumerate(cells(w, grid)):
            k = r * grid + c
            ids = instances[rs, cs].ravel()
            pts = points[rs, cs].reshape(-1, 3)
            vals, counts = np.unique(ids, return_counts=True)
            top = int(vals[np.argmax(counts)])
            if top > 0 and counts.max() >= 0.5 * ids.size:
                owner[k] = top
                sel = ids == top
            else:
                sel = ids == 0 if (ids == 0).any() else np.ones_like(ids, dtype=bool)
            p = pts[sel]
            p = p[np.isfinite(p).all(-1)]
            if len(p):
                xyz[k] = np.median(p, 0)
    return owner, xyz


def point_targets(instances: np.ndarray, points: np.ndarray, categories: dict[int, str], grid: int,
                  classes: list[str]) -> dict[str, np.ndarray]:
    """The point map's training targets (``cell_owners``): ``fine_cls`` int64 (the owning object's class,
    0 = background) and ``fine_xyz`` float32 per cell."""
    owner, xyz = cell_owners(instances, points, grid)
    index = {name: i for i, name in enumerate(classes)}
    cls = np.array([index.get(categories.get(int(o), ""), IGNORE) if o > 0 else 0 for o in owner], dtype=np.int64)
    return {"fine_cls": cls, "fine_xyz": xyz}
