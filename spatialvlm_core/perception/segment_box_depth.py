"""``box-depth``: weight-free instance masks from a box and a depth map.

Inside each box the object is one depth mode: pixels of the object cluster in depth, and (since the box
is tight) that cluster rarely continues outside the box, while the wall or floor behind it does. So:

1. histogram log-depth inside the box (centre-weighted, smoothed) and split it into modes at its valleys;
2. score each mode by its share of the box minus its share of a ring just outside the box
   (background modes extend past the box, the object does not); near modes win ties;
3. keep the box pixels in the winning mode's depth band, then the connected components that carry most
   of its mass (several may survive when an occluder splits the object, e.g. chair legs).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.perception.boxes import box_to_slices
from spatialvlm_core.perception.depth_segmenter import DepthSegmenter
from spatialvlm_core.perception.registry import SEGMENTERS
from spatialvlm_core.types import Detection, Detections, Frame


class BoxDepthParams(BaseModel):
    """Tuning of the depth-mode segmenter (defaults tuned on synthetic rooms with exact masks)."""

    model_config = ConfigDict(extra="forbid")

    bin_rel: float = Field(default=0.02, gt=0, le=0.5)  # histogram bin width as relative depth (2 %)
    smooth_bins: float = Field(default=1.5, ge=0)  # Gaussian smoothing of the histogram, in bins
    tail_frac: float = Field(default=0.04, ge=0, lt=1)  # band stops where the mode falls below this x peak
    center_sigma: float = Field(default=0.4, gt=0)  # centre weighting, in box half-sizes
    ring_frac: float = Field(default=0.15, ge=0)  # ring width outside the box, fraction of box size
    ring_weight: float = Field(default=1.0, ge=0)  # how strongly "also outside the box" penalises a mode
    near_bias: float = Field(default=0.05, ge=0)  # score bonus per rank of nearness (ties go to the front)
    min_component_frac: float = Field(default=0.15, ge=0, le=1)  # keep components >= this x the best one
    min_valid: int = Field(default=4, ge=1)  # fewer valid depth pixels than this: the whole box is the mask
    plane_tol: float = Field(default=0.02, ge=0)  # relative depth residual for "on a background plane"; 0 = off
    max_planes: int = Field(default=3, ge=0)  # background planes (floor, walls) fitted around the box
    min_plane_share: float = Field(default=0.15, gt=0, le=1)  # a plane must explain this share of the ring


def background_planes(u: np.ndarray, v: np.ndarray, d: np.ndarray, p: BoxDepthParams,
                      seed: int = 0) -> list[np.ndarray]:
    """Planes (floor, walls) seen in the ring around a box, as coefficients of 1/d = a*u + b*v + c.

    Inverse depth of a plane is affine in pixel coordinates, so no intrinsics are needed. RANSAC, one plane
    at a time, on at most 2000 ring pixels.
    """
    rng = np.random.default_rng(seed)
    inv = 1.0 / d
    pts = np.stack([u, v, np.ones_like(u)], axis=1).astype(np.float64)
    if len(inv) > 2000:
        idx = rng.choice(len(inv), 2000, replace=False)
        pts, inv = pts[idx], inv[idx]
    n0 = len(inv)
    planes: list[np.ndarray] = []
    for _ in range(p.max_planes):
        if len(inv) < max(10, p.min_plane_share * n0):
            break
        samples = rng.integers(0, len(inv), size=(200, 3))
        best, best_in = None, None
        for s in samples:
            a = pts[s]
            if abs(np.linalg.det(a)) < 1e-9:
                continue
            coef = np.linalg.solve(a, inv[s])
            inl = np.abs(pts @ coef - inv) <= p.plane_tol * inv
            if best_in is None or inl.sum() > best_in.sum():
                best, best_in = coef, inl
        if best is None or best_in is None or best_in.sum() < p.min_plane_share * n0:
            break
        coef, *_ = np.linalg.lstsq(pts[best_in], inv[best_in], rcond=None)
        planes.append(coef)
        pts, inv = pts[~best_in], inv[~best_in]
    return planes


def _histogram_modes(z: np.ndarray, w: np.ndarray, p: BoxDepthParams) -> list[tuple[float, float, float]]:
    """Modes of the weighted log-depth histogram as (lo, hi, peak) in log-depth."""
    from scipy.ndimage import gaussian_filter1d  # scipy (~0.4 s): only when this segmenter runs

    width = np.log1p(p.bin_rel)
    lo, hi = float(z.min()), float(z.max())
    nbins = max(1, int(np.ceil((hi - lo) / width)) + 1)
    edges = lo + width * (np.arange(nbins + 1) - 0.5)
    hist, _ = np.histogram(z, bins=edges, weights=w)
    if p.smooth_bins > 0 and nbins > 2:
        hist = gaussian_filter1d(hist.astype(np.float64), p.smooth_bins, mode="constant")
    centers = (edges[:-1] + edges[1:]) / 2
    top = hist.max()
    # Valleys split the histogram into basins, one mode per basin.
    padded = np.concatenate([[-1.0], hist, [-1.0]])
    is_peak = (padded[1:-1] >= padded[:-2]) & (padded[1:-1] > padded[2:]) & (hist > 0.01 * top)
    peaks = np.flatnonzero(is_peak)
    modes = []
    for k, pk in enumerate(peaks):
        left = peaks[k - 1] if k > 0 else 0
        right = peaks[k + 1] if k + 1 < len(peaks) else nbins - 1
        a = left + int(np.argmin(hist[left : pk + 1])) if k > 0 else 0
        b = pk + int(np.argmin(hist[pk : right + 1])) if k + 1 < len(peaks) else nbins - 1
        # Trim thin tails so a mode does not swallow a sparse ramp (floor, wall at grazing angle).
        floor = p.tail_frac * hist[pk]
        while a < pk and hist[a] < floor:
            a += 1
        while b > pk and hist[b] < floor:
            b -= 1
        modes.append((float(edges[a]), float(edges[b + 1]), float(centers[pk])))
    return modes


def dominant_depth_mask(
    depth_box: np.ndarray, ring_depths: np.ndarray | None = None, params: BoxDepthParams | None = None
) -> np.ndarray:
    """bool mask (shape of ``depth_box``) of the object's depth mode; ``ring_depths``: depths just outside."""
    from scipy.ndimage import label  # scipy (~0.4 s): only when this segmenter runs

    p = params or BoxDepthParams()
    d = np.asarray(depth_box, dtype=np.float64)
    valid = np.isfinite(d) & (d > 0)
    if int(valid.sum()) < p.min_valid:
        return np.ones(d.shape, dtype=bool) if not valid.any() else valid
    h, w = d.shape
    v, u = np.mgrid[0:h, 0:w]
    cu, cv = (u + 0.5) / w - 0.5, (v + 0.5) / h - 0.5  # in [-0.5, 0.5]
    weight = np.exp(-(cu**2 + cv**2) / (2 * (p.center_sigma / 2) ** 2))
    z = np.log(np.where(valid, d, 1.0))
    zv, wv = z[valid], weight[valid]
    modes = _histogram_modes(zv, wv, p)
    ring = np.asarray(ring_depths, dtype=np.float64).ravel() if ring_depths is not None else np.zeros(0)
    ring = np.log(ring[np.isfinite(ring) & (ring > 0)])
    total = wv.sum()
    scores = []
    for rank, (lo, hi, _) in enumerate(sorted(modes, key=lambda m: m[2])):
        inner = wv[(zv >= lo) & (zv < hi)].sum() / total
        outer = float(((ring >= lo) & (ring < hi)).mean()) if ring.size else 0.0
        scores.append((inner * (1.0 - p.ring_weight * outer) + p.near_bias * inner / (1 + rank), lo, hi))
    _, lo, hi = max(scores, key=lambda s: s[0])
    band = valid & (z >= lo) & (z < hi)
    if not band.any():
        return valid
    labels, n = label(band, structure=np.ones((3, 3), dtype=bool))
    if n <= 1:
        return band
    mass = np.bincount(labels.ravel(), weights=weight.ravel(), minlength=n + 1)[1:]
    keep = np.flatnonzero(mass >= p.min_component_frac * mass.max()) + 1
    return np.isin(labels, keep)


@SEGMENTERS.register("box-depth")
class BoxDepthSegmenter(DepthSegmenter):
    """Masks from boxes + depth. Depth comes from ``segment(..., depth=)``, else the ``depth`` estimator
    given here (an object with ``predict(frame)``), else ``frame.depth``."""

    name = "box-depth"

    params_class = BoxDepthParams

    def segment(self, frame: Frame, detections: Detections, depth: np.ndarray | None = None) -> Detections:
        if not self._needs_work(frame, detections):
            return detections
        dmap = self._depth(frame, depth)
        items: list[Detection] = []
        for det in detections.items:
            if self.keep_existing and det.mask is not None:
                items.append(det)
                continue
            items.append(det.model_copy(update={"mask": self.mask_for_box(dmap, det.box_xyxy)}))
        return detections.model_copy(update={"items": items})

    def mask_for_box(self, depth: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """Full-image bool mask of the object inside ``box`` (xyxy pixels)."""
        h, w = depth.shape
        rows, cols = box_to_slices(box, w, h)
        bh, bw = rows.stop - rows.start, cols.stop - cols.start
        mh, mw = max(1, round(bh * self.params.ring_frac)), max(1, round(bw * self.params.ring_frac))
        r0, r1 = max(0, rows.start - mh), min(h, rows.stop + mh)
        c0, c1 = max(0, cols.start - mw), min(w, cols.stop + mw)
        outer = np.zeros((r1 - r0, c1 - c0), dtype=bool)
        outer[:, :] = True
        outer[rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0] = False
        win = depth[r0:r1, c0:c1].astype(np.float64)
        inside = depth[rows, cols].astype(np.float64)
        ok = np.isfinite(win) & (win > 0)
        ring_ok = outer & ok
        if self.params.plane_tol > 0 and self.params.max_planes > 0 and ring_ok.sum() >= 10:
            # Pixels on the floor/wall planes that continue around the box are background.
            vv, uu = np.nonzero(ring_ok)
            planes = background_planes(uu.astype(float), vv.astype(float), win[ring_ok], self.params)
            if planes:
                vb, ub = np.mgrid[rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0]
                vr, ur = np.mgrid[0 : r1 - r0, 0 : c1 - c0]
                bg_in = self._on_planes(planes, ub, vb, inside)
                bg_ring = self._on_planes(planes, ur, vr, win)[outer]
                valid_in = np.isfinite(inside) & (inside > 0)
                if (valid_in & ~bg_in).sum() >= max(self.params.min_valid, 0.03 * valid_in.sum()):
                    inside = np.where(bg_in, np.nan, inside)
                    ring = win[outer][~bg_ring]
                    mask = np.zeros((h, w), dtype=bool)
                    mask[rows, cols] = dominant_depth_mask(inside, ring, self.params) & ~bg_in
                    return mask
        mask = np.zeros((h, w), dtype=bool)
        mask[rows, cols] = dominant_depth_mask(inside, win[outer], self.params)
        return mask

    def _on_planes(self, planes: list[np.ndarray], u: np.ndarray, v: np.ndarray, d: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d
            on = np.zeros(d.shape, dtype=bool)
            for a, b, c in planes:
                on |= np.abs(a * u + b * v + c - inv) <= self.params.plane_tol * inv
        return on & np.isfinite(d) & (d > 0)
