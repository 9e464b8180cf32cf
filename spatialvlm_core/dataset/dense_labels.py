"""Dense per-token labels for the vision tower, computed from a synthetic render's exact labels.

The paper's VLM starts from a vision encoder pretrained on web-scale data; our towers start from random
weights on a CPU. Supervising every grid token with *what* is there (object category, or background) and
*where* it is in 3D (log depth, height above the floor) gives the tower those features in minutes, so the
language model only has to learn to read them. The labels are used in training only: at inference the model
sees the image and the question, nothing else. The class vocabulary is the model's (``model.dense_classes``).

Labels are stored beside each rendered image as ``<stem>.dense.npz`` (see ``dense_path``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spatialvlm_core.model.dense_classes import DENSE_CLASSES
from spatialvlm_core.model.grid_cells import IGNORE, cells
from spatialvlm_core.model.point_grounding import heading_frame_points, point_targets

DENSE_VERSION = 2  # bumped when the labelling rule changes (2: objects smaller than a token get one)
MIN_OBJECT_SHARE = 0.15  # a token is labelled with an object when at least this share of its pixels show it
# An object that wins no token that way (a mug, a book: smaller than a token) still gets the one token where it
# covers the largest share, when that share is at least this: without it 15% of the training questions name an
# object class no token carries, and the question's word has nothing to point at.
MIN_SMALL_SHARE = 0.03


def dense_path(image: str | Path) -> Path:
    p = Path(image)
    return p.with_name(p.stem + ".dense.npz")


def dense_targets(
    instances: np.ndarray,
    depth: np.ndarray,
    world_z: np.ndarray,
    categories: dict[int, str],
    grid: int,
) -> dict[str, np.ndarray]:
    """Per-cell targets on a ``grid`` x ``grid`` split of the image (row-major, like the tower's tokens).

    ``instances``: int[H, W] mask ids (0 = background); ``depth``: metres along the optical axis;
    ``world_z``: height of each pixel's surface above the floor; ``categories``: mask id -> category name.
    Returns ``cls`` int64[grid*grid], ``log_depth`` and ``height`` float32[grid*grid] (NaN where unknown).
    """
    if instances.shape != depth.shape or depth.shape != world_z.shape:
        raise ValueError(f"instances {instances.shape}, depth {depth.shape} and world_z {world_z.shape} differ")
    index = {name: i for i, name in enumerate(DENSE_CLASSES)}
    h, w = instances.shape
    cls = np.full(grid * grid, IGNORE, dtype=np.int64)
    log_depth = np.full(grid * grid, np.nan, dtype=np.float32)
    height = np.full(grid * grid, np.nan, dtype=np.float32)
    for r, rs in enumerate(cells(h, grid)):
        for c, cs in enumerate(cells(w, grid)):
            k = r * grid + c
            ids = instances[rs, cs].ravel()
            d = depth[rs, cs].ravel()
            ok = np.isfinite(d) & (d > 0)
            if ok.any():
                log_depth[k] = float(np.log(np.median(d[ok])))
                height[k] = float(np.median(world_z[rs, cs].ravel()[ok]))
            obj = ids[ids > 0]
            if obj.size >= MIN_OBJECT_SHARE * ids.size:
                vals, counts = np.unique(obj, return_counts=True)
                name = categories.get(int(vals[np.argmax(counts)]))
                cls[k] = index.get(name, IGNORE) if name is not None else IGNORE
            else:
                cls[k] = 0
    _label_small_objects(instances, categories, grid, cls, index)
    return {"cls": cls, "log_depth": log_depth, "height": height}


def _label_small_objects(instances: np.ndarray, categories: dict[int, str], grid: int, cls: np.ndarray,
                         index: dict[str, int]) -> None:
    """Give each visible object category that no cell carries the cell where it covers the largest share
    (in place). Only a background cell or one whose class other cells also carry is taken over."""
    h, w = instances.shape
    rows, cols = cells(h, grid), cells(w, grid)
    share: dict[int, np.ndarray] = {}
    for r, rs in enumerate(rows):
        for c, cs in enumerate(cols):
            ids, counts = np.unique(instances[rs, cs], return_counts=True)
            for i, n in zip(ids, counts, strict=True):
                if i > 0:
                    share.setdefault(int(i), np.zeros(grid * grid))[r * grid + c] = n / counts.sum()
    for mask_id, s in sorted(share.items(), key=lambda kv: kv[1].max()):
        k = index.get(categories.get(mask_id, ""), IGNORE)
        if k == IGNORE or (cls == k).any():
            continue
        for cell in np.argsort(-s):
            if s[cell] < MIN_SMALL_SHARE:
                break
            cur = int(cls[cell])
            if cur == 0 or (cur > 0 and (cls == cur).sum() > 1):
                cls[cell] = k
                break


def sim_dense_targets(sim: object, grid: int, fine_grid: int = 0) -> dict[str, np.ndarray]:
    """``dense_targets`` of a ``sim.SimScene`` (exact depth, instance mask and camera pose), plus with
    ``fine_grid`` the point map's ``point_grounding.point_targets`` (``fine_cls``, ``fine_xyz``)."""
    depth = np.asarray(sim.depth, dtype=np.float64)  # type: ignore[attr-defined]
    k = sim.intrinsics  # type: ignore[attr-defined]
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    cam = np.stack([(u - k.cx) / k.fx * depth, (v - k.cy) / k.fy * depth, depth], -1)
    m = sim.pose.matrix()  # type: ignore[attr-defined]
    world_z = cam @ m[2, :3] + m[2, 3]
    cats = {o.mask_id: o.name for o in sim.scene.objects if o.mask_id is not None}  # type: ignore[attr-defined]
    out = dense_targets(np.asarray(sim.instances), depth, world_z, cats, grid)  # type: ignore[attr-defined]
    if fine_grid:
        pts = heading_frame_points(depth, k.fx, k.fy, k.cx, k.cy, m)
        out |= point_targets(np.asarray(sim.instances), pts, cats, fine_grid, DENSE_CLASSES)  # type: ignore[attr-defined]
    return out


def save_dense(path: str | Path, targets: dict[str, np.ndarray]) -> None:
    # Through a file object: given a name, numpy appends ".npz" to one without it (an atomic write's temporary).
    with open(path, "wb") as f:
        np.savez_compressed(f, **targets)


class DenseCache:
    """Dense targets of dataset images, loaded once; ``None`` for images that have none."""

    def __init__(self) -> None:
        self._cache: dict[Path, dict[str, np.ndarray] | None] = {}

    def __call__(self, image: str | Path) -> dict[str, np.ndarray] | None:
        p = Path(image)
        if p not in self._cache:
            f = dense_path(p)
            if f.is_file():
                try:
                    with np.load(f) as z:
                        # The point map's targets are there when the dataset was written with a fine grid.
                        keys = ("cls", "log_depth", "height", *(k for k in ("fine_cls", "fine_xyz") if k in z))
                        self._cache[p] = {k: z[k] for k in keys}
                except (OSError, KeyError, ValueError) as e:
                    raise ValueError(f"cannot read dense targets {f}: {e}") from e
            else:
                self._cache[p] = None
        return self._cache[p]
