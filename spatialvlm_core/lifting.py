"""From one image to a metric 3D scene: back-projection, outlier removal, floor, 3D boxes.

Pure numpy + scipy (importable without torch).

Steps of :func:`lift`:

1. Back-project every valid depth pixel with the pinhole intrinsics (OpenCV camera frame).
2. Find the floor: RANSAC planes on a subsample of the whole image, kept only if the plane normal is within
   ``max_tilt_deg`` of the camera's prior "up" (-y in OpenCV) and the camera is above it. Several planes are
   extracted in turn; the *lowest* one with enough support wins (a floor beats table tops), and it must have
   most points above it. A least-squares refit on its inliers gives the final normal. The candidate is then
   checked against independent cues (camera height, walls, the RGB's vertical vanishing direction, object
   bottoms; ``spatialvlm_core.floor``): below ``min_floor_confidence`` the scene stays in the camera frame and
   the notes say which cues failed. ``Frame.gravity_up``, when set, replaces the search (offset only).
3. Canonical frame: +z = floor normal (up), z = 0 on the floor, camera at x = y = 0, and the yaw chosen so
   that the camera's optical axis projected on the floor is +y. So +x is "right" and +y is "in front" as
   seen from the camera. With no credible floor the scene stays in the camera frame (``canonical=False``,
   camera = identity, a note says why).
4. Per object: masked pixels (grid-subsampled to ``max_points``; optional erosion by ``erode_px``) -> points
   -> floor-bleed removal (points in the floor band outside the footprint of the object's upper part) ->
   voxel grid -> statistical outlier removal -> connected components (k-NN radius graph) keeping the main
   cluster (and clusters of comparable size, e.g. an object split by an occluder) -> summary, boxes, colour.

Boxes are points-only: a camera sees only the front of an object, so the axis-aligned box spans the
robust extent (``extent_percentiles``) of the visible points; the oriented box is the minimum-area rectangle
of the footprint (convex hull of the points projected on the floor) times the same z range. Neither is
extended behind the visible surface; ``snap_to_floor_m`` optionally drops the box bottom to z = 0 when it
is that close to the floor (furniture legs hidden by clutter).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from spatialvlm_core.amodal import CompletionContext, complete_object, place_unseen
from spatialvlm_core.floor import (
    CAMERA_UP,
    FloorFit,
    find_floor,
    floor_from_gravity,
    gather_evidence,
)
from spatialvlm_core.geometry import angle_between_deg, extreme_points_2d, hull_of, min_area_rect
from spatialvlm_core.lift_config import LiftConfig
from spatialvlm_core.metrology import ObjectDepth
from spatialvlm_core.naming import color_of_mask
from spatialvlm_core.types import (
    Box3D,
    CameraIntrinsics,
    CameraPose,
    Detection,
    Detections,
    DroppedObject,
    Frame,
    Object3D,
    OrientedBox3D,
    PointsSummary,
    Scene3D,
)

# --------------------------------------------------------------------------- back-projection


def pixel_rays(intr: CameraIntrinsics, pixel_center: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ray factors ((u + pixel_center - cx) / fx, (v + pixel_center - cy) / fy).

    ``pixel_center`` 0 is the OpenCV convention (pixel centres at integer coordinates); 0.5 suits
    intrinsics whose coordinates start at the image corner (OpenGL-style renderers with cx = W / 2).
    """
    u = (np.arange(intr.width, dtype=np.float64) + pixel_center - intr.cx) / intr.fx
    v = (np.arange(intr.height, dtype=np.float64) + pixel_center - intr.cy) / intr.fy
    return u, v


def backproject(depth: np.ndarray, intr: CameraIntrinsics, mask: np.ndarray | None = None,
                pixel_center: float = 0.0) -> np.ndarray:
    """Points (N, 3) in the OpenCV camera frame from z-depth (metres), optionally only where ``mask``.

    Invalid depths (0, NaN, inf) are skipped. See :func:`pixel_rays` for ``pixel_center``.
    """
    if depth.shape != (intr.height, intr.width):
        raise ValueError(f"depth shape {depth.shape} does not match intrinsics {intr.height}x{intr.width}")
    valid = np.isfinite(depth) & (depth > 0)
    if mask is not None:
        valid &= mask
    vs, us = np.nonzero(valid)
    z = depth[vs, us].astype(np.float64)
    ru, rv = pixel_rays(intr, pixel_center)
    return np.stack([ru[us] * z, rv[vs] * z, z], axis=1)


# --------------------------------------------------------------------------- point-cloud cleaning


def voxel_downsample(points: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """Voxel-grid means. Returns (centres (M, 3), inverse (N,) voxel index of each input point)."""
    keys = np.floor(points / voxel).astype(np.int64)
    keys -= keys.min(axis=0)
    dims = keys.max(axis=0) + 1
    flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
    cells = int(dims[0] * dims[1] * dims[2])
    if cells <= 4 * len(points) + 100_000:
        # Dense counting is O(N) where sorting (np.unique) is O(N log N): the common case for objects.
        counts = np.bincount(flat, minlength=cells)
        occupied = np.flatnonzero(counts)
        remap = np.zeros(cells, dtype=np.int64)
        remap[occupied] = np.arange(len(occupied))
        inv = remap[flat]
        counts = counts[occupied]
    else:
        _, inv, counts = np.unique(flat, return_inverse=True, return_counts=True)
        inv = inv.reshape(-1)
    m = len(counts)
    centres = np.stack([np.bincount(inv, weights=points[:, j], minlength=m) for j in range(3)], axis=1)
    return centres / counts[:, None], inv


def _sor_threshold(md: np.ndarray, std_ratio: float, floor_factor: float) -> float:
    # The median floor keeps the rim of a clean surface (whose neighbours all lie on one side) from being
    # trimmed when the spread is tiny, which would bias centroids inwards.
    return max(float(md.mean() + std_ratio * md.std()), floor_factor * float(np.median(md)))


def statistical_inliers(points: np.ndarray, k: int, std_ratio: float, floor_factor: float = 3.0) -> np.ndarray:
    """Boolean inliers: mean distance to the k nearest neighbours <= max(mean + std_ratio * std,
    floor_factor * median)."""
    n = len(points)
    if n <= k + 1:
        return np.ones(n, dtype=bool)
    d, _ = cKDTree(points).query(points, k=k + 1)
    md = d[:, 1:].mean(axis=1)
    return md <= _sor_threshold(md, std_ratio, floor_factor)


def _largest(labels: np.ndarray, secondary_frac: float) -> np.ndarray:
    """Boolean mask of the largest label (plus labels >= secondary_frac of its size)."""
    sizes = np.bincount(labels)
    if secondary_frac > 0:
        big = sizes >= secondary_frac * sizes.max()
    else:
        big = np.zeros(len(sizes), dtype=bool)
        big[sizes.argmax()] = True
    return big[labels]


def _components(n: int, src: np.ndarray, dst: np.ndarray, secondary_frac: float) -> np.ndarray:
    """Boolean mask of the largest connected component (plus those >= secondary_frac of its size)."""
    if len(src) == 0:
        keep = np.zeros(n, dtype=bool)
        keep[0] = True
        return keep
    graph = csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return _largest(labels, secondary_frac)


def _knn_components(idx: np.ndarray, edge: np.ndarray, secondary_frac: float) -> np.ndarray:
    """Components of a k-NN graph given as neighbour indices (n, k) and an edge mask (n, k).

    Built straight as CSR (fixed k per row; masked edges become harmless self-loops), which skips the
    COO -> CSR conversion that dominates for small objects.
    """
    n, k = idx.shape
    rows = np.arange(n)[:, None]
    indices = np.where(edge, idx, rows).astype(np.int32).ravel()
    graph = csr_matrix((np.ones(n * k), indices, np.arange(0, n * k + 1, k, dtype=np.int32)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return _largest(labels, secondary_frac)


def main_clusters(points: np.ndarray, radius: float, secondary_frac: float) -> np.ndarray:
    """Euclidean clustering (DBSCAN-like, min_samples 1): the largest radius-connected cluster, plus
    clusters of at least ``secondary_frac`` of its size."""
    n = len(points)
    if n <= 2:
        return np.ones(n, dtype=bool)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    return _components(n, pairs[:, 0], pairs[:, 1], secondary_frac)


def drop_floor_bleed(pts: np.ndarray, band: np.ndarray | float, tol: float) -> np.ndarray:
    """Boolean keep-mask: drop points within ``band`` of the floor (z = 0) that lie outside the footprint of
    the object's points above the band (by more than ``tol``).

    A mask that bleeds onto the floor around an object's base adds floor points that touch the object, so
    clustering cannot cut them; the floor plane can. Points of the object's own base (under its upper body)
    stay, and so does a flat object lying on the floor (nothing above the band).
    """
    low = pts[:, 2] < band
    n_high = int((~low).sum())
    if not low.any() or n_high < 10:
        return np.ones(len(pts), dtype=bool)
    hull = hull_of(extreme_points_2d(pts[~low, :2]))
    keep = ~low
    if len(hull) < 3:
        return keep | ~low
    # Inside a counter-clockwise convex polygon (grown by tol): every edge's signed distance >= -tol.
    q = pts[low, :2]
    e = np.roll(hull, -1, axis=0) - hull
    en = np.linalg.norm(e, axis=1)
    ok = en > 1e-12
    e, h0, en = e[ok], hull[ok], en[ok]
    cross = (e[None, :, 0] * (q[:, None, 1] - h0[None, :, 1]) - e[None, :, 1] * (q[:, None, 0] - h0[None, :, 0]))
    keep[low] = np.all(cross / en[None, :] >= -tol, axis=1)
    return keep


def clean_object_points(
    points: np.ndarray, cfg: LiftConfig, pixel_footprint: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Points kept after voxel SOR + clustering (decided per voxel, applied to all points).

    Returns (boolean mask over ``points``, the kept voxel centres).

    One k-NN query on the voxel centres serves both steps: statistical outlier removal on the mean k-NN
    distance, then clustering on the graph of k-NN edges shorter than a radius that scales with the point
    spacing (far objects are sparser). ``pixel_footprint`` (metres one pixel spans at the object's depth)
    widens the radius so surfaces seen at grazing angles up to ~84 deg (point spacing up to 10 pixel
    footprints) stay connected. The main cluster is kept (plus comparable ones, e.g. an object split by an
    occluder), so flying pixels and mask bleed onto the background go.
    """
    if len(points) < 4:
        return np.ones(len(points), dtype=bool), points
    # Large objects get coarser voxels so the neighbour searches stay cheap: a visible surface of N samples
    # spaced ``pixel_footprint`` apart fills about N * footprint^2 / voxel^2 voxels.
    voxel = max(cfg.voxel_size, pixel_footprint * math.sqrt(len(points) / cfg.max_voxels))
    centres, inv = voxel_downsample(points, voxel)
    if len(centres) > 2 * cfg.max_voxels:  # oblique surfaces: spacing larger than the footprint
        voxel *= math.sqrt(len(centres) / cfg.max_voxels)
        centres, inv = voxel_downsample(points, voxel)
    n = len(centres)
    k = cfg.sor_neighbors
    if n <= k + 1:
        return np.ones(len(points), dtype=bool), centres
    d, idx = cKDTree(centres).query(centres, k=k + 1)
    md = d[:, 1:].mean(axis=1)
    inl = md <= _sor_threshold(md, cfg.sor_std_ratio, cfg.sor_median_floor)
    spacing = float(np.median(d[inl, 1])) if inl.any() else voxel
    radius = max(cfg.cluster_radius, 4.0 * spacing, 2.0 * voxel, cfg.grazing_factor * pixel_footprint)
    edge = (d[:, 1:] <= radius) & inl[:, None] & inl[idx[:, 1:]]
    keep_vox = _knn_components(idx[:, 1:], edge, cfg.secondary_cluster_frac) & inl
    return keep_vox[inv], centres[keep_vox]


# --------------------------------------------------------------------------- floor


def canonical_from_camera(floor: FloorFit) -> np.ndarray:
    """4x4 world_from_camera: +z = floor normal, floor z = 0, camera at x = y = 0, forward projected = +y."""
    z = floor.normal / np.linalg.norm(floor.normal)
    fwd = np.array([0.0, 0.0, 1.0])
    y = fwd - (fwd @ z) * z
    if np.linalg.norm(y) < 1e-6:  # looking straight down: image "up" becomes forward
        y = CAMERA_UP - (CAMERA_UP @ z) * z
        y = -y if np.linalg.norm(y) < 1e-9 else y
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    m = np.eye(4)
    m[:3, :3] = np.stack([x, y, z])  # rows: world axes expressed in camera coordinates
    m[2, 3] = floor.offset  # camera height; p_world.z = n . p_cam + offset
    return m


def canonical_from_world(world_from_camera: np.ndarray) -> np.ndarray:
    """4x4 map from a gravity-aligned world frame (+z up, floor z = 0) to this module's canonical frame.

    Given the true camera pose, this is the transform ``lift`` should recover: shift the camera to x = y = 0
    and turn about +z so the camera's forward direction projected on the floor is +y. Evals use it to bring
    ground truth into the lifted frame.
    """
    m = np.asarray(world_from_camera, dtype=float)
    fwd = m[:3, 2].copy()
    fwd[2] = 0.0
    if np.linalg.norm(fwd) < 1e-6:
        fwd = -m[:3, 1].copy()
        fwd[2] = 0.0
    ang = math.atan2(fwd[1], fwd[0])
    turn = math.pi / 2 - ang  # rotate forward onto +y
    c, s = math.cos(turn), math.sin(turn)
    out = np.eye(4)
    out[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    out[:3, 3] = out[:3, :3] @ np.array([-m[0, 3], -m[1, 3], 0.0])
    return out


def gravity_error_deg(scene_camera: np.ndarray, true_world_from_camera: np.ndarray) -> float:
    """Angle between the estimated and true up directions, both expressed in the camera frame."""
    est_up = np.asarray(scene_camera, dtype=float)[2, :3]  # world +z in camera coordinates
    true_up = np.asarray(true_world_from_camera, dtype=float)[2, :3]
    return angle_between_deg(est_up, true_up)


# --------------------------------------------------------------------------- objects


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask
    from scipy.ndimage import binary_erosion

    return binary_erosion(mask, iterations=px)


def _summary(pts: np.ndarray, q: np.ndarray) -> PointsSummary:
    """Points summary; ``q`` holds the 2nd and 98th percentiles per axis (rows)."""
    return PointsSummary(
        num_points=len(pts),
        centroid=tuple(float(v) for v in pts.mean(axis=0)),
        std=tuple(float(v) for v in pts.std(axis=0)),
        percentile_lo=tuple(float(v) for v in q[0]),
        percentile_hi=tuple(float(v) for v in q[1]),
    )


def _object_id(det: Detection, i: int, used: set[str]) -> str:
    base = det.gt_id or f"{det.label.strip().replace(' ', '_') or 'object'}-{i}"
    oid, k = base, 1
    while oid in used:
        k += 1
        oid = f"{base}-{k}"
    used.add(oid)
    return oid


def _mask_window(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Row/column bounds (v0, v1, u0, u1) of a mask, None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _lift_object(
    det: Detection,
    oid: str,
    depth: np.ndarray,
    rgb: np.ndarray,
    rays: tuple[np.ndarray, np.ndarray],
    world_from_cam: np.ndarray,
    canonical: bool,
    cfg: LiftConfig,
    valid: np.ndarray,
    floor_band: float | None = None,
) -> Object3D | str:
    """One object, or the reason it is dropped. ``floor_band``: floor inlier band (m) at <= 3 m, canonical only."""
    mask = det.mask
    assert mask is not None
    win = _mask_window(mask)
    if win is None:
        return "empty mask"
    v0, v1, u0, u1 = win
    sub_mask = mask[v0:v1, u0:u1]
    n_mask = int(sub_mask.sum())
    sub = sub_mask & valid[v0:v1, u0:u1]
    n_valid = int(sub.sum())
    if n_valid < cfg.min_mask_pixels:
        return f"only {n_valid} valid depth pixels in the mask (< {cfg.min_mask_pixels}) of {n_mask} mask pixels"
    if cfg.erode_px > 0:
        er = _erode(sub, cfg.erode_px)
        if int(er.sum()) >= max(cfg.min_mask_pixels, n_valid // 4):
            sub = er
    step = 1
    if n_valid > cfg.max_points:
        # Uniform pixel grid subsample: the pixel-weighted centroid and extents stay unbiased, cost drops.
        step = math.ceil(math.sqrt(n_valid / cfg.max_points))
        grid = np.zeros_like(sub)
        grid[::step, ::step] = sub[::step, ::step]
        sub = grid
    vv, uu = np.nonzero(sub)
    z = depth[v0:v1, u0:u1][vv, uu].astype(np.float64)
    ru, rv = rays
    intr_fx_fy = 1.0 / abs(float(ru[1] - ru[0]) * float(rv[1] - rv[0]))  # fx * fy from the ray steps
    cam = np.stack([ru[uu + u0] * z, rv[vv + v0] * z, z], axis=1)
    pts = cam @ world_from_cam[:3, :3].T + world_from_cam[:3, 3]
    footprint_px = step * float(np.median(z)) / math.sqrt(intr_fx_fy)  # spacing of the sampled pixels
    if floor_band is not None:
        # The floor inlier band at these depths: mask bleed onto the floor lies inside it.
        band = floor_band * np.maximum(1.0, (z / 3.0) ** 2)
        pts = pts[drop_floor_bleed(pts, band, max(0.005, footprint_px, 0.5 * float(np.median(band))))]
    keep, _ = clean_object_points(pts, cfg, footprint_px)
    pts = pts[keep]
    if len(pts) < min(cfg.min_mask_pixels, 4):
        return f"only {len(pts)} points left after outlier removal"
    q = np.percentile(pts, [cfg.extent_percentiles[0], cfg.extent_percentiles[1], 2.0, 98.0], axis=0)
    lo, hi = q[0].copy(), q[1].copy()
    color, _ = color_of_mask(rgb[v0:v1, u0:u1], sub_mask, name=det.label)
    attrs = {"color": color} if color else {}
    footprint: list[tuple[float, float]] = []
    height = None
    if canonical:
        if cfg.snap_to_floor_m > 0 and 0 < lo[2] <= cfg.snap_to_floor_m:
            lo[2] = 0.0
        # Footprint: hull of the points inside the robust extent, pre-filtered to extreme points.
        inside = np.all((pts[:, :2] >= lo[:2]) & (pts[:, :2] <= hi[:2]), axis=1)
        xy = pts[inside, :2] if inside.sum() >= 3 else pts[:, :2]
        hull = hull_of(extreme_points_2d(xy))
        # Samples stop up to one sample spacing short of a surface's edge: grow by half of it (unbiased extents;
        # without it every gap between two objects comes out about one spacing too wide).
        pad = 0.5 * footprint_px
        if len(hull) >= 3 and pad > 0:
            ctr = hull.mean(axis=0)
            d = hull - ctr
            hull = hull + pad * d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
            lo[:2] -= pad
            hi[:2] += pad
            hi[2] += pad
        footprint = [(float(a), float(b)) for a, b in hull]
        (cx, cy), (length, width), yaw = min_area_rect(hull, is_hull=True)
        obb = OrientedBox3D(center=(cx, cy, float((lo[2] + hi[2]) / 2)),
                            size=(length, width, float(hi[2] - lo[2])), yaw=yaw)
        height = float(lo[2])
    else:
        c = (lo + hi) / 2
        obb = OrientedBox3D(center=tuple(float(v) for v in c), size=tuple(float(v) for v in hi - lo), yaw=0.0)
    return Object3D(
        id=oid,
        name=det.label,
        caption=f"the {color} {det.label}" if color else f"the {det.label}",
        aabb=Box3D.from_min_max(lo, hi),
        obb=obb,
        centroid=tuple(float(v) for v in pts.mean(axis=0)),
        footprint=footprint,
        height_above_floor=height,
        points=_summary(pts, q[2:]),
        attributes=attrs,
        score=float(det.score),
        box_2d=det.box_xyxy,
    )


def _resolve_intrinsics(frame: Frame, intrinsics: CameraIntrinsics | None, depth: np.ndarray,
                        cfg: LiftConfig, notes: list[str]) -> CameraIntrinsics:
    h, w = depth.shape
    intr = intrinsics or frame.intrinsics
    if intr is None:
        intr = CameraIntrinsics.from_fov(w, h, cfg.fallback_hfov_deg)
        notes.append(f"no intrinsics: assumed {cfg.fallback_hfov_deg:.0f} deg horizontal field of view")
    if (intr.width, intr.height) != (w, h):
        raise ValueError(f"intrinsics are for {intr.width}x{intr.height} but depth is {w}x{h}")
    return intr


def _floor_sample(valid: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A random subsample of ``n`` valid pixels (a pixel stride would keep ~nothing of sparse LiDAR depth)."""
    flat = np.flatnonzero(valid)
    if len(flat) > n:
        flat = np.sort(np.random.default_rng(seed).choice(flat, n, replace=False))
    out = np.zeros(valid.shape, dtype=bool)
    out.flat[flat] = True
    return out


def _floor_of(frame: Frame, detections: Detections, depth: np.ndarray, valid: np.ndarray,
              intr: CameraIntrinsics, cfg: LiftConfig, notes: list[str]) -> tuple[FloorFit | None, bool, float]:
    """The floor, whether the scene is canonical, and its gravity confidence; explains itself in ``notes``.

    ``frame.gravity_up`` fixes the orientation (confidence 1); otherwise the RANSAC floor must pass the
    multi-cue check of :mod:`spatialvlm_core.floor` (``min_floor_confidence``), else the scene stays in the
    camera frame and the notes say which cues failed.
    """
    points = backproject(depth, intr, _floor_sample(valid, 4 * cfg.plane_sample, cfg.seed), cfg.pixel_center)
    if frame.gravity_up is not None:
        floor, note = floor_from_gravity(points, np.asarray(frame.gravity_up), cfg)
        notes.append(note)
        return floor, True, 1.0
    mask_points = []
    rng = np.random.default_rng(cfg.seed + 2)
    for d in detections.items:
        m = d.mask & valid if d.mask is not None else None
        if m is None or m.sum() < cfg.min_mask_pixels:
            continue
        pick = np.flatnonzero(m)
        pick = rng.choice(pick, min(len(pick), 400), replace=False)
        sub = np.zeros(m.shape, dtype=bool)
        sub.flat[pick] = True
        mask_points.append(backproject(depth, intr, sub, cfg.pixel_center))
    evidence = gather_evidence(points, cfg, frame.rgb, intr, mask_points)
    floor, reason = find_floor(points, cfg, evidence)
    if floor is None:
        notes.append(f"no credible floor plane ({reason}): scene is in the camera frame")
        return None, False, 0.0
    if floor.confidence < cfg.min_floor_confidence:
        why = "; ".join(floor.failed) or "; ".join(floor.checks)
        others = f"; other candidates: {' | '.join(floor.others)}" if floor.others else ""
        notes.append(f"floor rejected: confidence {floor.confidence:.2f} < {cfg.min_floor_confidence:g} "
                     f"(support {floor.support_confidence:.2f}; {why}){others}: scene is in the camera frame")
        return floor, False, 0.0
    if floor.failed:  # accepted, but a cue disagreed: say so rather than stay silent
        notes.append(f"floor accepted with confidence {floor.confidence:.2f} although: {'; '.join(floor.failed)}")
    if cfg.floor_checks and not {"walls", "vertical_vp"} & set(floor.cues):
        # Open roads, bare rooms: nothing independent of the depth confirmed the tilt; say so.
        notes.append(f"floor orientation unconfirmed (confidence {floor.confidence:.2f}): no wall planes or "
                     "vertical edges to check it against, only the depth plane itself")
    return floor, True, floor.confidence


def lift(
    frame: Frame,
    detections: Detections,
    depth: np.ndarray | None = None,
    intrinsics: CameraIntrinsics | None = None,
    config: LiftConfig | None = None,
    depth_sigma: np.ndarray | None = None,
    object_depths: dict[int, ObjectDepth] | None = None,
) -> Scene3D:
    """Lift masked detections to a metric, gravity-aligned ``Scene3D`` (see the module docstring).

    ``depth`` (z-depth in metres, HxW) defaults to ``frame.depth``; ``intrinsics`` to ``frame.intrinsics``,
    else a field-of-view prior (noted in ``Scene3D.notes``). Every detection must carry a mask. Objects with
    too few valid points are listed in ``Scene3D.dropped`` with the reason. ``depth_sigma`` (HxW metres): the
    depth source's own 1-sigma (monocular or size-prior depth), used for the objects' intervals.
    ``object_depths``: per detection index, a depth estimated from one photo (``metrology``); those objects are
    placed whole from it (the depth map then only gives the floor).
    """
    cfg = config or LiftConfig()
    notes: list[str] = []
    if depth is None:
        depth = frame.depth
    if depth is None:
        raise ValueError(f"frame {frame.image_id!r} has no depth: pass depth= or run a depth backend first")
    depth = np.asarray(depth)
    h, w = frame.rgb.shape[:2]
    if depth.ndim != 2 or depth.shape != (h, w):
        raise ValueError(f"depth shape {depth.shape} does not match frame {frame.image_id!r} rgb {(h, w)}")
    if (detections.height, detections.width) != (h, w):
        raise ValueError(f"detections are for {detections.width}x{detections.height}, frame is {w}x{h}")
    for i, d in enumerate(detections.items):
        if d.mask is None:
            raise ValueError(f"detections.items[{i}] ({d.label!r}) has no mask: run a segmenter before lift")
    intr = _resolve_intrinsics(frame, intrinsics, depth, cfg, notes)

    depth = depth.astype(np.float32, copy=False)
    valid = np.isfinite(depth) & (depth >= cfg.min_depth) & (depth <= cfg.max_depth)
    n_valid = int(valid.sum())
    if n_valid == 0 and object_depths is None:  # objects placed from one photo's estimates need no depth map
        finite = depth[np.isfinite(depth) & (depth > 0)]
        hint = ""
        if finite.size and float(np.median(finite)) > cfg.max_depth:
            # Millimetres (a 16-bit PNG read as metres) sit far above any indoor or street range.
            hint = (f"; its values (median {float(np.median(finite)):.0f}) look like millimetres: scale them to "
                    "metres (x 0.001, e.g. --depth-scale 0.001)")
        raise ValueError(f"depth of frame {frame.image_id!r} has no valid pixels (all 0/NaN/out of range "
                         f"{cfg.min_depth:g}-{cfg.max_depth:g} m){hint}")
    if n_valid < 0.5 * depth.size:
        notes.append(f"only {n_valid / depth.size:.0%} of depth pixels are valid")

    floor, canonical, confidence = _floor_of(frame, detections, depth, valid, intr, cfg, notes)
    world_from_cam = canonical_from_camera(floor) if canonical and floor is not None else np.eye(4)

    objects: list[Object3D] = []
    dropped: list[DroppedObject] = []
    used: set[str] = set()
    if len(detections) == 0:
        notes.append("no detections")
    gt_mask_ids = {}
    if frame.ground_truth is not None:
        gt_mask_ids = {o.id: o.mask_id for o in frame.ground_truth.scene.objects}
    rays = pixel_rays(intr, cfg.pixel_center)
    # Whole objects: free space is read from the same depth (exact sim ground truth has no need: it is whole).
    completion = CompletionContext(depth=np.where(valid, depth, 0.0), intrinsics=intr, world_from_cam=world_from_cam,
                                   canonical=canonical, depth_sigma=depth_sigma,
                                   sparse=n_valid < cfg.amodal.sparse_below * depth.size)
    floor_band = None
    if floor is not None and cfg.drop_floor_bleed:
        floor_band = cfg.ransac_threshold * floor.band_scale
    for i, det in enumerate(detections.items):
        oid = _object_id(det, i, used)
        if object_depths is not None and i in object_depths:
            # Depth from one photo (size priors): the object is placed whole from its own estimate, not from
            # a synthetic depth sheet that nearer objects may cover.
            placed = place_unseen(det, oid, completion, cfg.amodal, known=object_depths[i])
            if placed is None:
                dropped.append(DroppedObject(id=oid, reason=f"no size prior for {det.label!r}: no metric depth"))
            else:
                objects.append(placed)
            continue
        res = _lift_object(det, oid, depth, frame.rgb, rays, world_from_cam, canonical, cfg, valid, floor_band)
        if isinstance(res, str):
            # No depth on it (sparse LiDAR, dark surface): its class's size, placed on the measured floor.
            bx0, by0, bx1, by1 = det.box_xyxy
            box_px = (bx1 - bx0) * (by1 - by0)
            depth_px = int((det.mask & valid).sum()) if det.mask is not None else 0
            no_depth = box_px >= 4 * cfg.min_mask_pixels and depth_px < cfg.min_mask_pixels
            placed = place_unseen(det, oid, completion, cfg.amodal) if no_depth else None
            if placed is None:
                dropped.append(DroppedObject(id=oid, reason=res))
                continue
            res = placed
        if det.gt_id is not None and det.gt_id in gt_mask_ids:
            res.mask_id = gt_mask_ids[det.gt_id]
        objects.append(complete_object(res, completion, cfg.amodal, mask=det.mask))

    provenance = {
        "stage": "lift",
        "config": cfg.model_dump(),
        "detections_backend": detections.backend,
    }
    if floor is not None:
        provenance["floor"] = {"tilt_deg": floor.tilt_deg, "inlier_frac": floor.inlier_frac,
                               "below_frac": floor.below_frac, "camera_height": floor.offset,
                               "source": floor.source, "confidence": floor.confidence,
                               "normal": [float(v) for v in floor.normal], "cues": floor.cues,
                               "checks": floor.checks, "accepted": canonical}
    return Scene3D(
        scene_id=frame.image_id,
        objects=objects,
        canonical=canonical,
        gravity_confidence=confidence,
        camera=CameraPose.from_matrix(world_from_cam),
        intrinsics=intr,
        image_source=frame.source,
        dropped=dropped,
        notes=notes,
        provenance=provenance,
    )
