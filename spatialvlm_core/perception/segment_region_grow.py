"""``region-grow``: weight-free instance masks from a box and RGB-D by 3D region growing.

``box-depth`` keeps one depth mode per box, so an object spanning a depth range (a bed seen from its foot,
a sofa at an angle) loses its far part. Here the object is the surface connected to the box's centre:

1. back-project the valid depth of the box and a ring around it (intrinsics, else a field-of-view prior);
2. fit planes (RANSAC, 3D) to the ring only: the floor below, a wall behind, a neighbour's side face all
   continue outside the box, the object does not (boxes are tight). Their inliers inside the box are
   background, which is what lets the object keep its whole depth range;
3. link neighbouring points (a pixel grid for dense depth; a Delaunay graph of the valid pixels for sparse
   LiDAR-like depth) unless the depth step is an occlusion jump, or a smaller step that also changes colour or
   surface normal (two touching surfaces);
4. score each connected part by its centre-weighted mass inside the box minus how much of it lies in the ring;
   keep the best, plus parts at a similar depth that stay inside the box (an object split by an occluder);
5. pixels without depth (sparse sensors, dark furniture) join the object when the object's nearest point beats
   the nearest background point in a joint pixel-distance + colour cost.

No learned weights; numpy + scipy only.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.perception.base import intrinsics_for
from spatialvlm_core.perception.boxes import box_to_slices
from spatialvlm_core.perception.depth_segmenter import DepthSegmenter
from spatialvlm_core.perception.registry import SEGMENTERS
from spatialvlm_core.types import CameraIntrinsics, Detection, Detections, Frame


class RegionGrowParams(BaseModel):
    """Tuning of the region-growing segmenter (defaults set on sim rooms and the real RGB-D frames)."""

    model_config = ConfigDict(extra="forbid")

    ring_frac: float = Field(default=0.15, ge=0)  # ring outside the box, fraction of the box size
    ring_min_px: int = Field(default=4, ge=1)
    k_hard: float = Field(default=4.0, gt=0)  # occlusion: depth step > k_hard x metric pixel spacing (~76 deg)
    k_graze: float = Field(default=12.0, gt=0)  # steps up to this (~85 deg) on one smooth same-coloured surface
    graze_normal_deg: float = Field(default=10.0, gt=0, le=90)  # "the same normal" for that
    k_soft: float = Field(default=1.2, gt=0)  # a step above k_soft x spacing is cut if colour or normal change
    noise_rel: float = Field(default=0.006, ge=0)  # depth noise allowance, share of depth
    noise_abs: float = Field(default=0.006, ge=0)  # metres
    color_thr: float = Field(default=45.0, gt=0)  # RGB distance (0-255 units) that counts as a colour change
    normal_thr_deg: float = Field(default=40.0, gt=0, le=180)
    link_rel: float = Field(default=0.05, gt=0)  # sparse graph: longest 3D link, share of depth ...
    link_abs: float = Field(default=0.12, gt=0)  # ... or this many metres, whichever is larger
    plane_tol_rel: float = Field(default=0.006, ge=0)  # plane inlier band: tol_abs + tol_rel * depth
    plane_tol_abs: float = Field(default=0.015, ge=0)
    max_planes: int = Field(default=3, ge=0)
    min_plane_share: float = Field(default=0.12, gt=0, le=1)  # a plane must hold this share of the ring points
    min_plane_points: int = Field(default=12, ge=3)
    palette_size: int = Field(default=48, ge=0)  # ring colours kept per plane; 0 = planes remove any colour
    ransac_iters: int = Field(default=120, ge=1)
    center_sigma: float = Field(default=0.4, gt=0)  # centre weighting, in box half-sizes
    ring_weight: float = Field(default=3.0, ge=0)  # penalty per share of a part lying in the ring
    near_bias: float = Field(default=0.05, ge=0)  # score bonus for nearer parts (ties go to the front)
    touch_weight: float = Field(default=1.0, ge=0)  # score bonus for reaching all four sides of the box
    touch_margin: float = Field(default=0.04, ge=0)  # "reaches a side": within this share of the box size
    merge_frac: float = Field(default=0.1, ge=0, le=1)  # extra parts need this x the best part's mass ...
    merge_outer_max: float = Field(default=0.25, ge=0, le=1)  # ... at most this share in the ring ...
    merge_depth_rel: float = Field(default=0.12, ge=0)  # ... and a median depth within this of the best's range
    merge_gap_abs: float = Field(default=0.05, ge=0)  # ... or a 3D gap to the chosen parts below abs + rel x depth
    merge_gap_rel: float = Field(default=0.02, ge=0)
    min_part_nodes: int = Field(default=3, ge=1)
    sparse_below: float = Field(default=0.3, gt=0, le=1)  # valid share of the box below which depth is "sparse"
    max_nodes: int = Field(default=12000, ge=100)  # dense boxes are strided down to about this many nodes
    max_sparse_nodes: int = Field(default=4000, ge=100)  # sparse boxes: random subset of this many graph nodes
    color_px: float = Field(default=0.3, ge=0)  # fill: one RGB unit of colour difference costs this many pixels
    min_valid: int = Field(default=4, ge=1)  # fewer valid points: a colour-only mask
    hole_ring_valid: float = Field(default=0.6, ge=0, le=1)  # "dense sensor": this share of the ring has depth
    hole_centre_invalid: float = Field(default=0.5, ge=0, le=1)  # ... and this share of the box centre has none


def _edge_cut(za: np.ndarray, zb: np.ndarray, spacing: np.ndarray, dcol: np.ndarray, dnorm: np.ndarray | None,
              p: RegionGrowParams, colour_cuts: bool = False) -> np.ndarray:
    """True where the link between two neighbouring points is cut (see the module docstring, step 3).

    ``colour_cuts``: a colour change alone cuts (an object flat on a wall plane, e.g. a painting)."""
    zmin = np.minimum(za, zb)
    step = np.abs(za - zb)
    noise = p.noise_abs + p.noise_rel * zmin
    hard = step > p.k_hard * spacing + noise
    changed = dcol > p.color_thr
    if dnorm is not None:
        bent = dnorm < math.cos(math.radians(p.normal_thr_deg))
        # A surface seen at a grazing angle (a table top from the side) steps more per pixel than k_hard allows;
        # same colour and the same normal on both sides say it is still one surface.
        hard &= ~(~changed & (dnorm >= math.cos(math.radians(p.graze_normal_deg))) & (step <= p.k_graze * spacing + noise))
        changed |= bent
    soft = (step > p.k_soft * spacing + noise) & changed
    return hard | soft | (changed if colour_cuts else False)


def fit_ring_planes(pts: np.ndarray, p: RegionGrowParams, seed: int = 0) -> list[np.ndarray]:
    """Planes (n, d with n.x + d = 0, |n| = 1) that each hold >= min_plane_share of the ring points ``pts``."""
    rng = np.random.default_rng(seed)
    if len(pts) > 1500:
        pts = pts[rng.choice(len(pts), 1500, replace=False)]
    n0 = len(pts)
    need = max(p.min_plane_points, p.min_plane_share * n0)
    planes: list[np.ndarray] = []
    rest = pts
    for _ in range(p.max_planes):
        if len(rest) < need:
            break
        tol = p.plane_tol_abs + p.plane_tol_rel * rest[:, 2]
        s = rng.integers(0, len(rest), size=(p.ransac_iters, 3))
        a, b, c = rest[s[:, 0]], rest[s[:, 1]], rest[s[:, 2]]
        n = np.cross(b - a, c - a)
        norm = np.linalg.norm(n, axis=1)
        ok = norm > 1e-9
        if not ok.any():
            break
        n = n[ok] / norm[ok, None]
        d = -(n * a[ok]).sum(axis=1)
        res = np.abs(rest @ n.T + d)  # (points, hypotheses)
        counts = (res <= tol[:, None]).sum(axis=0)
        best = int(np.argmax(counts))
        if counts[best] < need:
            break
        inl = res[:, best] <= tol
        # Least-squares refit on the inliers (smallest singular vector of the centred points).
        q = rest[inl]
        cen = q.mean(axis=0)
        _, _, vt = np.linalg.svd(q - cen, full_matrices=False)
        nn = vt[-1]
        plane = np.append(nn, -float(nn @ cen))
        inl = np.abs(rest @ nn + plane[3]) <= tol
        if inl.sum() < need:
            break
        planes.append(plane)
        rest = rest[~inl]
    return planes


class _Planes:
    """Ring planes and, per plane, a palette of its ring inliers' colours: a point on a plane is background
    only when its colour also matches (a book lying on a table is on the table's plane, in another colour)."""

    def __init__(self, planes: list[np.ndarray], ring_pts: np.ndarray, ring_cols: np.ndarray, p: RegionGrowParams,
                 use_colour: bool = True) -> None:
        self.planes, self.p = planes, p
        self.palettes: list[np.ndarray | None] = []
        rng = np.random.default_rng(1)
        for pl in planes:
            if not use_colour:
                self.palettes.append(None)
                continue
            cols = ring_cols[np.abs(ring_pts @ pl[:3] + pl[3]) <= self._tol(ring_pts)]
            if len(cols) > p.palette_size:
                cols = cols[rng.choice(len(cols), p.palette_size, replace=False)]
            self.palettes.append(cols.astype(np.float32))

    def _tol(self, pts: np.ndarray) -> np.ndarray:
        return self.p.plane_tol_abs + self.p.plane_tol_rel * pts[:, 2]

    def __bool__(self) -> bool:
        return bool(self.planes)

    def on(self, pts: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """bool per point: on a plane (and, with palettes, in one of that plane's colours)."""
        out = np.zeros(len(pts), dtype=bool)
        if not self.planes or not len(pts):
            return out
        tol = self._tol(pts)
        for pl, pal in zip(self.planes, self.palettes, strict=True):
            hit = np.flatnonzero(~out & (np.abs(pts @ pl[:3] + pl[3]) <= tol))
            if pal is not None and len(pal) and len(hit):
                d2 = ((cols[hit, None, :] - pal[None]) ** 2).sum(axis=2).min(axis=1)
                hit = hit[d2 <= self.p.color_thr**2]
            out[hit] = True
        return out


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix  # scipy (~0.4 s): only when this segmenter runs
    from scipy.sparse.csgraph import connected_components  # scipy (~0.4 s): only when this segmenter runs

    g = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels


class _Window:
    """The box plus its ring, cut out of the frame, with pixel coordinates and camera rays."""

    def __init__(self, depth: np.ndarray, rgb: np.ndarray, box: tuple[float, float, float, float],
                 intr: CameraIntrinsics, p: RegionGrowParams) -> None:
        h, w = depth.shape
        rows, cols = box_to_slices(box, w, h)
        self.rows, self.cols = rows, cols
        bh, bw = rows.stop - rows.start, cols.stop - cols.start
        mh = max(p.ring_min_px, round(bh * p.ring_frac))
        mw = max(p.ring_min_px, round(bw * p.ring_frac))
        self.r0, self.r1 = max(0, rows.start - mh), min(h, rows.stop + mh)
        self.c0, self.c1 = max(0, cols.start - mw), min(w, cols.stop + mw)
        self.depth = np.asarray(depth[self.r0 : self.r1, self.c0 : self.c1], dtype=np.float64)
        self.rgb = rgb[self.r0 : self.r1, self.c0 : self.c1].astype(np.float32)
        self.valid = np.isfinite(self.depth) & (self.depth > 0)
        self.inbox = np.zeros(self.depth.shape, dtype=bool)
        self.box = (rows.start - self.r0, rows.stop - self.r0, cols.start - self.c0, cols.stop - self.c0)
        self.inbox[self.box[0] : self.box[1], self.box[2] : self.box[3]] = True
        self.intr = intr
        # Centre weight: Gaussian in box half-sizes (the object is most likely at the box centre).
        vv = (np.arange(self.r0, self.r1) + 0.5 - (rows.start + rows.stop) / 2) / max(bh / 2, 0.5)
        uu = (np.arange(self.c0, self.c1) + 0.5 - (cols.start + cols.stop) / 2) / max(bw / 2, 0.5)
        self.weight_v = np.exp(-(vv**2) / (2 * p.center_sigma**2))
        self.weight_u = np.exp(-(uu**2) / (2 * p.center_sigma**2))

    def points(self, v: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Camera-frame 3D points of window pixels (v, u)."""
        k = self.intr
        z = self.depth[v, u]
        return np.stack([((u + self.c0) - k.cx) / k.fx * z, ((v + self.r0) - k.cy) / k.fy * z, z], axis=1)


def _sides_touched(inv: np.ndarray, n: int, v: np.ndarray, u: np.ndarray, inbox: np.ndarray,
                   box: tuple[int, int, int, int], margin: tuple[float, float]) -> np.ndarray:
    """How many of the box's four sides each part reaches (within ``margin`` = (rows, cols) pixels)."""
    r0, r1, c0, c1 = box
    big = 1 << 30
    vin, uin = np.where(inbox, v, big), np.where(inbox, u, big)
    vmin, umin = np.full(n, big), np.full(n, big)
    np.minimum.at(vmin, inv, vin)
    np.minimum.at(umin, inv, uin)
    vin, uin = np.where(inbox, v, -big), np.where(inbox, u, -big)
    vmax, umax = np.full(n, -big), np.full(n, -big)
    np.maximum.at(vmax, inv, vin)
    np.maximum.at(umax, inv, uin)
    mv, mu = margin
    return ((vmin <= r0 + mv).astype(int) + (vmax >= r1 - 1 - mv) + (umin <= c0 + mu) + (umax >= c1 - 1 - mu))


def _select(labels: np.ndarray, pts: np.ndarray, inbox: np.ndarray, weight: np.ndarray, keep: np.ndarray,
            v: np.ndarray, u: np.ndarray, box: tuple[int, int, int, int], p: RegionGrowParams) -> np.ndarray:
    """bool per node: the chosen parts (module docstring, step 4). ``pts``: node 3D points; ``keep``: nodes that
    may be chosen; ``v, u``: node pixels in the window; ``box``: the box's (r0, r1, c0, c1) in the window."""
    from scipy.spatial import cKDTree  # scipy (~0.4 s): only when this segmenter runs

    z = pts[:, 2]
    lab = np.where(keep, labels, -1)
    ids, inv = np.unique(lab, return_inverse=True)
    n = len(ids)
    # A tight box touches its object on all four sides; a thing seen through or behind the object rarely does.
    margin = (p.touch_margin * (box[1] - box[0]) + 1, p.touch_margin * (box[3] - box[2]) + 1)
    sides = _sides_touched(inv, n, v, u, inbox, box, margin)
    size = np.bincount(inv, minlength=n).astype(np.float64)
    inside = np.bincount(inv, weights=inbox.astype(np.float64), minlength=n)
    mass = np.bincount(inv, weights=weight * inbox, minlength=n)
    outer = 1.0 - inside / np.maximum(size, 1)
    valid = (ids >= 0) & (size >= p.min_part_nodes) & (inside > 0)
    if not valid.any():
        valid = (ids >= 0) & (inside > 0)
        if not valid.any():
            return np.zeros(len(z), dtype=bool)
    total = mass[valid].sum()
    if total <= 0:
        return np.zeros(len(z), dtype=bool)
    zmean = np.bincount(inv, weights=np.where(np.isfinite(z), z, 0.0), minlength=n) / np.maximum(size, 1)
    rank = np.empty(n)
    rank[np.argsort(np.where(valid, zmean, np.inf))] = np.arange(n)
    share = mass / total
    # A part crossing into the ring continues past the tight box: background or an occluder, not the object.
    inner = np.clip(1.0 - p.ring_weight * outer, 0.0, 1.0)
    score = (share + p.touch_weight * sides / 4) * inner + p.near_bias * share / (1 + rank)
    score = np.where(valid, score, -np.inf)
    best = int(np.argmax(score))
    chosen = {best}
    # Extra parts: inside the box, with a real share of it, and either at the best part's depth (split by an
    # occluder) or close to the chosen parts in 3D (the far side of an occlusion edge: a mattress behind its
    # footboard); the second rule is applied until nothing more joins.
    cand = np.flatnonzero(valid & (inside >= p.merge_frac * inside[best]) & (outer <= p.merge_outer_max))
    cand = [int(i) for i in cand if i != best]
    if cand:
        zb = z[inv == best]
        lo, hi = np.percentile(zb, [5, 95])
        margin = p.merge_depth_rel * float(np.median(zb))
        for i in list(cand):
            if lo - margin <= float(np.median(z[inv == i])) <= hi + margin:
                chosen.add(i)
                cand.remove(i)
        rng = np.random.default_rng(0)

        def sample(i: int) -> np.ndarray:
            q = pts[inv == i]
            return q[rng.choice(len(q), 1500, replace=False)] if len(q) > 1500 else q

        grown = True
        while cand and grown and p.merge_gap_rel + p.merge_gap_abs > 0:
            grown = False
            tree = cKDTree(np.concatenate([sample(i) for i in sorted(chosen)]))
            for i in list(cand):
                q = sample(i)
                d, _ = tree.query(q, distance_upper_bound=p.merge_gap_abs + p.merge_gap_rel * float(q[:, 2].max()))
                if np.isfinite(d).any():
                    chosen.add(i)
                    cand.remove(i)
                    grown = True
    return np.isin(inv, sorted(chosen))


def _fill(win: _Window, obj: np.ndarray, bg: np.ndarray, todo: np.ndarray, p: RegionGrowParams) -> np.ndarray:
    """Which ``todo`` pixels join the object: nearest object point vs nearest background point, each cost
    = pixel distance + color_px x colour difference to that point."""
    from scipy.ndimage import distance_transform_edt  # scipy (~0.4 s): only when this segmenter runs

    if not todo.any() or not obj.any():
        return np.zeros_like(todo)
    if not bg.any():
        return todo.copy()
    d1, (i1, j1) = distance_transform_edt(~obj, return_indices=True)
    d2, (i2, j2) = distance_transform_edt(~bg, return_indices=True)
    tv, tu = np.nonzero(todo)
    col = win.rgb[tv, tu]
    c1 = np.linalg.norm(col - win.rgb[i1[tv, tu], j1[tv, tu]], axis=1)
    c2 = np.linalg.norm(col - win.rgb[i2[tv, tu], j2[tv, tu]], axis=1)
    out = np.zeros_like(todo)
    out[tv, tu] = d1[tv, tu] + p.color_px * c1 < d2[tv, tu] + p.color_px * c2
    return out


def _colour_only(win: _Window, p: RegionGrowParams) -> np.ndarray:
    """No usable depth: box pixels closer in colour to the box centre than to the ring, joined to the centre."""
    from scipy.ndimage import label  # scipy (~0.4 s): only when this segmenter runs

    box = win.inbox
    vs, us = np.nonzero(box)
    cv, cu = int(np.median(vs)), int(np.median(us))
    hv, hu = max(1, (vs.max() - vs.min()) // 6), max(1, (us.max() - us.min()) // 6)
    centre = win.rgb[cv - hv : cv + hv + 1, cu - hu : cu + hu + 1].reshape(-1, 3).mean(axis=0)
    ring = win.rgb[~box]
    if len(ring) == 0:
        return box.copy()
    dc = np.linalg.norm(win.rgb - centre, axis=2)
    # Distance of each pixel to the ring's colours, through a small palette (k-means-free: ring quantiles).
    pal = np.quantile(ring, [0.1, 0.3, 0.5, 0.7, 0.9], axis=0)
    dr = np.min(np.linalg.norm(win.rgb[:, :, None, :] - pal[None, None], axis=3), axis=2)
    cand = box & (dc < dr)
    lab, n = label(cand)
    if n == 0:
        return box.copy()
    if lab[cv, cu] > 0:
        return lab == lab[cv, cu]
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def _central_hole(win: _Window, p: RegionGrowParams) -> np.ndarray | None:
    """Dark or shiny furniture in an otherwise dense depth map: the box centre has no depth while the ring has.
    The object is then the hole: the invalid region through the box centre that stays inside the box."""
    from scipy.ndimage import label  # scipy (~0.4 s): only when this segmenter runs

    r0, r1, c0, c1 = win.box
    ring = ~win.inbox
    if not ring.any() or win.valid[ring].mean() < p.hole_ring_valid:
        return None  # a sparse sensor: holes are the norm, not an object
    hh, hw = (r1 - r0) // 4, (c1 - c0) // 4
    centre = (slice(r0 + hh, max(r1 - hh, r0 + hh + 1)), slice(c0 + hw, max(c1 - hw, c0 + hw + 1)))
    if win.valid[centre].mean() > 1.0 - p.hole_centre_invalid:
        return None
    lab, n = label(~win.valid)
    if n == 0:
        return None
    ids = np.unique(lab[centre])
    ids = ids[ids > 0]
    out = np.zeros(win.depth.shape, dtype=bool)
    for i in ids:
        comp = lab == i
        inside = (comp & win.inbox).sum()
        if inside >= 0.1 * comp[centre].size and (comp & ring).sum() <= p.merge_outer_max * comp.sum():
            out |= comp
    return out if out.any() else None


def region_grow_mask(depth: np.ndarray, rgb: np.ndarray, box: tuple[float, float, float, float],
                     intr: CameraIntrinsics, params: RegionGrowParams | None = None) -> np.ndarray:
    """Full-image bool mask of the object inside ``box`` (xyxy pixels), never outside the box."""
    p = params or RegionGrowParams()
    h, w = depth.shape
    win = _Window(depth, rgb, box, intr, p)
    mask = np.zeros((h, w), dtype=bool)
    n_box = int(win.inbox.sum())
    if n_box == 0:
        return mask
    n_valid_box = int((win.valid & win.inbox).sum())
    hole = _central_hole(win, p)
    if hole is not None:
        local = hole
    elif n_valid_box < p.min_valid:
        local = _colour_only(win, p)
    elif n_valid_box >= p.sparse_below * n_box:
        local = _dense(win, p)
    else:
        local = _sparse(win, p)
    local &= win.inbox
    mask[win.r0 : win.r1, win.c0 : win.c1] = local
    return mask


def _dense(win: _Window, p: RegionGrowParams) -> np.ndarray:
    hh, ww = win.depth.shape
    s = max(1, math.ceil(math.sqrt(hh * ww / p.max_nodes)))
    gv, gu = np.arange(0, hh, s), np.arange(0, ww, s)
    hs, ws = len(gv), len(gu)
    vv, uu = np.meshgrid(gv, gu, indexing="ij")
    valid = win.valid[vv, uu]
    pts = np.full((hs, ws, 3), np.nan)
    pv, pu = np.nonzero(valid)
    pts[pv, pu] = win.points(vv[pv, pu], uu[pv, pu])
    inbox = win.inbox[vv, uu]
    # Planes from the ring (valid, outside the box), their inliers anywhere in the window are background.
    ring = valid & ~inbox
    col = win.rgb[vv, uu]
    ring_pts = pts[ring]
    planes = _Planes(fit_ring_planes(ring_pts, p) if p.max_planes > 0 else [], ring_pts, col[ring], p)
    flat = pts.reshape(-1, 3)
    vflat = valid.ravel()
    on_plane = np.zeros(hs * ws, dtype=bool)
    on_plane[vflat] = planes.on(flat[vflat], col.reshape(-1, 3)[vflat])
    keep = vflat & ~on_plane
    flat_object = (keep & inbox.ravel()).sum() < max(p.min_valid, 0.03 * (vflat & inbox.ravel()).sum())
    if flat_object:  # the object is itself on a ring plane (a painting, a door): grow without planes
        keep, planes = vflat, _Planes([], ring_pts, col[ring], p)
    keep2 = keep.reshape(hs, ws)
    z = np.where(valid, pts[:, :, 2], np.inf)
    normals = _grid_normals(pts)
    spacing_unit = s / win.intr.fx
    idx = np.arange(hs * ws).reshape(hs, ws)
    src, dst = [], []
    for a, b in (((slice(None), slice(0, -1)), (slice(None), slice(1, None))),
                 ((slice(0, -1), slice(None)), (slice(1, None), slice(None)))):
        za, zb = z[a], z[b]
        ok = np.isfinite(za) & np.isfinite(zb)
        dcol = np.linalg.norm(col[a] - col[b], axis=2)
        dn = np.abs((normals[a] * normals[b]).sum(axis=2))
        dn = np.where(np.isfinite(dn), dn, 1.0)
        spacing = spacing_unit * np.minimum(za, zb)
        with np.errstate(invalid="ignore"):
            cut = _edge_cut(za, zb, spacing, dcol, dn, p, flat_object)
        link = ok & ~cut & keep2[a] & keep2[b]
        src.append(idx[a][link])
        dst.append(idx[b][link])
    labels = _components(hs * ws, np.concatenate(src), np.concatenate(dst))
    weight = (win.weight_v[gv][:, None] * win.weight_u[gu][None, :]).ravel()
    chosen = _select(labels, flat, inbox.ravel(), weight, keep, vv.ravel(), uu.ravel(), win.box, p)
    chosen = chosen.reshape(hs, ws)
    if s == 1:
        obj = chosen
        bg = valid & ~chosen
    else:
        obj, bg = _upsample(win, chosen, valid & ~chosen, planes, s, p)
    todo = win.inbox & ~obj & ~bg
    return obj | _fill(win, obj, bg, todo, p)


def _grid_normals(pts: np.ndarray) -> np.ndarray:
    """Unit normals from central differences of the point grid (NaN where a neighbour is missing)."""
    n = np.full(pts.shape, np.nan)
    if pts.shape[0] < 3 or pts.shape[1] < 3:
        return n
    dx = pts[1:-1, 2:] - pts[1:-1, :-2]
    dy = pts[2:, 1:-1] - pts[:-2, 1:-1]
    c = np.cross(dx, dy)
    norm = np.linalg.norm(c, axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        n[1:-1, 1:-1] = c / norm
    return n


def _upsample(win: _Window, chosen: np.ndarray, other: np.ndarray, planes: _Planes, s: int,
              p: RegionGrowParams) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution object / background pixels from the strided grid: each valid pixel takes the label of
    its grid cell's node when its depth is continuous with that node (else background)."""
    hh, ww = win.depth.shape
    vi = np.minimum((np.arange(hh) + s // 2) // s, chosen.shape[0] - 1)
    ui = np.minimum((np.arange(ww) + s // 2) // s, chosen.shape[1] - 1)
    near_obj = chosen[vi][:, ui]
    near_z = win.depth[::s, ::s][vi][:, ui]
    step = np.abs(win.depth - near_z)
    tol = p.k_hard * s / win.intr.fx * win.depth + p.noise_abs + p.noise_rel * win.depth
    with np.errstate(invalid="ignore"):
        cont = win.valid & np.isfinite(near_z) & (near_z > 0) & (step <= tol)
    obj = near_obj & cont
    if planes:
        v, u = np.nonzero(obj)
        on = planes.on(win.points(v, u), win.rgb[v, u])
        obj[v[on], u[on]] = False
    bg = win.valid & ~obj
    return obj, bg


def _sparse(win: _Window, p: RegionGrowParams) -> np.ndarray:
    from scipy.spatial import Delaunay, QhullError  # scipy (~0.4 s): only when this segmenter runs

    v_all, u_all = np.nonzero(win.valid)
    sub = np.arange(len(v_all))
    if len(sub) > p.max_sparse_nodes:  # the rest take their nearest node's label below
        sub = np.sort(np.random.default_rng(0).choice(len(sub), p.max_sparse_nodes, replace=False))
    v, u = v_all[sub], u_all[sub]
    pts = win.points(v, u)
    inbox = win.inbox[v, u]
    cols = win.rgb[v, u]
    planes = _Planes(fit_ring_planes(pts[~inbox], p) if p.max_planes > 0 else [], pts[~inbox], cols[~inbox], p)
    on_plane = planes.on(pts, cols)
    keep = ~on_plane
    flat_object = (keep & inbox).sum() < max(p.min_valid, 0.03 * inbox.sum())
    if flat_object:
        keep = np.ones(len(pts), dtype=bool)
    n = len(pts)
    uv = np.stack([u, v], axis=1).astype(np.float64)
    try:
        tri = Delaunay(uv + np.random.default_rng(0).uniform(-1e-3, 1e-3, uv.shape)).simplices
        e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
        e = np.unique(np.sort(e, axis=1), axis=0)
    except (QhullError, ValueError):  # too few or collinear points
        ii, jj = np.triu_indices(n, 1)
        e = np.stack([ii, jj], axis=1)
    a, b = e[:, 0], e[:, 1]
    za, zb = pts[a, 2], pts[b, 2]
    px = np.linalg.norm(uv[a] - uv[b], axis=1)
    spacing = px / win.intr.fx * np.minimum(za, zb)
    dcol = np.linalg.norm(cols[a] - cols[b], axis=1)
    cut = _edge_cut(za, zb, spacing, dcol, None, p, flat_object)
    cut |= np.linalg.norm(pts[a] - pts[b], axis=1) > np.maximum(p.link_abs, p.link_rel * np.minimum(za, zb))
    link = ~cut & keep[a] & keep[b]
    labels = _components(n, a[link], b[link])
    weight = win.weight_v[v] * win.weight_u[u]
    chosen = _select(labels, pts, inbox, weight, keep, v, u, win.box, p)
    obj = np.zeros(win.depth.shape, dtype=bool)
    obj[v[chosen], u[chosen]] = True
    if len(sub) < len(v_all):
        obj |= _nearest_node_labels(win, v, u, chosen, v_all, u_all, planes, p)
    bg = win.valid & ~obj
    return obj | _fill(win, obj, bg, win.inbox & ~win.valid, p)


def _nearest_node_labels(win: _Window, v: np.ndarray, u: np.ndarray, chosen: np.ndarray, v_all: np.ndarray,
                         u_all: np.ndarray, planes: _Planes, p: RegionGrowParams) -> np.ndarray:
    """Object pixels among the valid points left out of the graph: the nearest node is object, the depth is
    continuous with it and the point is not on a background plane."""
    from scipy.spatial import cKDTree  # scipy (~0.4 s): only when this segmenter runs

    dist, idx = cKDTree(np.stack([u, v], axis=1)).query(np.stack([u_all, v_all], axis=1))
    z = win.depth[v_all, u_all]
    zn = win.depth[v[idx], u[idx]]
    tol = p.k_hard * np.maximum(dist, 1.0) / win.intr.fx * np.minimum(z, zn) + p.noise_abs + p.noise_rel * z
    hit = chosen[idx] & (np.abs(z - zn) <= tol)
    sel = np.flatnonzero(hit)
    sel = sel[~planes.on(win.points(v_all[sel], u_all[sel]), win.rgb[v_all[sel], u_all[sel]])]
    out = np.zeros(win.depth.shape, dtype=bool)
    out[v_all[sel], u_all[sel]] = True
    return out


@SEGMENTERS.register("region-grow")
class RegionGrowSegmenter(DepthSegmenter):
    """Masks from boxes + RGB-D by region growing. Depth comes from ``segment(..., depth=)``, else the
    ``depth`` estimator given here (an object with ``predict(frame)``), else ``frame.depth``; intrinsics
    from the frame, else a 60 deg field-of-view prior."""

    name = "region-grow"

    params_class = RegionGrowParams

    def segment(self, frame: Frame, detections: Detections, depth: np.ndarray | None = None) -> Detections:
        if not self._needs_work(frame, detections):
            return detections
        dmap = self._depth(frame, depth)
        intr = intrinsics_for(frame)
        items: list[Detection] = []
        for det in detections.items:
            if self.keep_existing and det.mask is not None:
                items.append(det)
                continue
            mask = region_grow_mask(dmap, frame.rgb, det.box_xyxy, intr, self.params)
            items.append(det.model_copy(update={"mask": mask}))
        return detections.model_copy(update={"items": items})
