"""Weight-free metric depth from one photo (``size-prior``), and metric scale for relative depth models.

``size-prior`` needs the detections: :mod:`spatialvlm_core.metrology` estimates the camera height, the horizon
and each labelled object's depth from class size priors; this backend turns that into a depth map the rest of
the pipeline reads like a sensor's (the floor plane below the horizon, each object's near face over its box,
nearer objects in front) plus a per-pixel 1-sigma map. Objects of classes without a size prior get no depth
(they are dropped by lifting, with the reason).

``PriorScaledDepth`` wraps any relative depth backend (DPT, MiDaS, Depth Anything relative; disparity or
depth up to scale) and puts it in metres with the same per-object depths (``scale="size-prior"``); wrapped
around a metric model it checks the model's scale against the priors and flags a disagreement above 1.5x.

Intrinsics: the frame's own, else the 35 mm-equivalent focal length from the photo's EXIF, else a
field-of-view prior (60 deg) whose uncertainty widens every depth interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from spatialvlm_core.metrology import MetrologyConfig, MetrologyResult, estimate
from spatialvlm_core.perception.boxes import box_mask, box_to_slices
from spatialvlm_core.perception.registry import DEPTH
from spatialvlm_core.types import CameraIntrinsics, Detections, Frame

FOV_PRIOR_DEG = 60.0
FOV_PRIOR_LOG_SIGMA = 0.2  # a 60 deg prior covers ~45-75 deg at 80 %
EXIF_LOG_SIGMA = 0.03
_EXIF_FOCAL_35MM = 41989


def intrinsics_from_exif(path: str | Path, width: int, height: int) -> CameraIntrinsics | None:
    """Pinhole intrinsics from the 35 mm-equivalent focal length in a photo's EXIF (None when absent)."""
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            f35 = exif.get(_EXIF_FOCAL_35MM) or exif.get_ifd(0x8769).get(_EXIF_FOCAL_35MM)
    except (OSError, ValueError):
        return None
    if not f35:
        return None
    # 35 mm equivalence is defined on the diagonal (43.27 mm).
    f = float(f35) * math.hypot(width, height) / 43.27
    return CameraIntrinsics(fx=f, fy=f, cx=(width - 1) / 2, cy=(height - 1) / 2, width=width, height=height)


def frame_intrinsics(frame: Frame) -> tuple[CameraIntrinsics, float, str]:
    """(intrinsics, log-sigma of the focal length, where they came from)."""
    w, h = frame.size
    if frame.intrinsics is not None:
        return frame.intrinsics, 0.0, "frame"
    if frame.source:
        intr = intrinsics_from_exif(frame.source, w, h)
        if intr is not None:
            return intr, EXIF_LOG_SIGMA, "exif"
    return CameraIntrinsics.from_fov(w, h, FOV_PRIOR_DEG), FOV_PRIOR_LOG_SIGMA, f"{FOV_PRIOR_DEG:.0f} deg fov prior"


@dataclass
class PriorDepth:
    """A size-prior depth estimate: ``depth`` (metres, 0 = none) and ``sigma`` (1-sigma metres) per pixel."""

    depth: np.ndarray
    sigma: np.ndarray
    intrinsics: CameraIntrinsics
    metrology: MetrologyResult
    notes: list[str] = field(default_factory=list)
    scale: float | None = None  # applied to a wrapped model's output (PriorScaledDepth)


def render_depth(met: MetrologyResult, dets: Detections, intr: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Depth and 1-sigma maps: the floor below the horizon, each placed object's near face over its box."""
    floor = met.floor_depth(intr)
    depth = floor.copy()
    rel_floor = math.hypot(met.camera_height_log_sd, 0.05)
    sigma = floor * rel_floor
    placed = [o for o in met.objects if math.isfinite(o.depth)]
    # Far to near so nearer objects cover farther ones.
    covered = np.zeros(depth.shape, dtype=bool)
    for o in sorted(placed, key=lambda o: -o.near):
        sl = box_to_slices(dets.items[o.index].box_xyxy, intr.width, intr.height)
        depth[sl] = o.near
        sigma[sl] = o.near * o.log_sigma
        covered[sl] = True
    for o in met.objects:
        if not math.isfinite(o.depth):  # no prior: no metric depth for it (where no placed object covers it)
            depth[box_mask(dets.items[o.index].box_xyxy, intr.width, intr.height) & ~covered] = 0.0
    return depth.astype(np.float32), sigma.astype(np.float32)


@DEPTH.register("size-prior", "metrology")
class SizePriorDepth:
    """Metric depth without learned weights from class size priors and the floor (needs detections)."""

    name = "size-prior"
    needs_detections = True

    def __init__(self, config: MetrologyConfig | None = None) -> None:
        self.config = config or MetrologyConfig()

    def predict_with_detections(self, frame: Frame, dets: Detections) -> PriorDepth:
        intr, f_sigma, source = frame_intrinsics(frame)
        cfg = MetrologyConfig(**{**self.config.__dict__, "focal_sigma": f_sigma})
        met = estimate(dets.items, intr, cfg, up=frame.gravity_up)
        depth, sigma = render_depth(met, dets, intr)
        h_lo, h_hi = met.camera_height_interval
        notes = [f"depth from class size priors and the floor (single-view metrology; intrinsics: {source}); "
                 f"camera height {met.camera_height:.2f} m ({h_lo:.2f}-{h_hi:.2f}), horizon at row "
                 f"{met.horizon_v:.0f}, {met.n_standing} standing objects", *met.notes]
        no_prior = sorted({o.label for o in met.objects if o.prior is None})
        if no_prior:
            notes.append(f"no size prior for {', '.join(no_prior)}: no metric depth for them from one photo")
        return PriorDepth(depth=depth, sigma=sigma, intrinsics=intr, metrology=met, notes=notes)

    def predict(self, frame: Frame) -> np.ndarray:
        raise ValueError("the 'size-prior' depth backend needs detections: call it through reconstruct() "
                         "or predict_with_detections(frame, detections)")


def fit_scale(rel: np.ndarray, met: MetrologyResult, dets: Detections, inverse: bool) -> tuple[float, float, float]:
    """Metric scale for a relative map from the placed objects: returns (a, b, log-sigma of the fit).

    Depth: metres = a * rel. Disparity (``inverse``): 1 / metres = a * rel + b (least squares over objects;
    b = 0 with one object)."""
    zs, vals, ws = [], [], []
    for o in met.objects:
        if not math.isfinite(o.depth):
            continue
        patch = rel[box_to_slices(dets.items[o.index].box_xyxy, rel.shape[1], rel.shape[0])]
        patch = patch[np.isfinite(patch) & (patch > 0)]
        if patch.size < 4:
            continue
        # Near face of the object: the nearer part of its box (larger disparity / smaller depth).
        val = float(np.percentile(patch, 75 if inverse else 25))
        zs.append(o.near)
        vals.append(val)
        ws.append(1.0 / max(o.log_sigma, 0.05) ** 2)
    if not zs:
        raise ValueError("no object with a size prior to scale the relative depth by")
    z, r, w = np.array(zs), np.array(vals), np.array(ws)
    if inverse:
        if len(z) >= 3:
            a_mat = np.column_stack([r, np.ones_like(r)]) * np.sqrt(w)[:, None]
            sol, *_ = np.linalg.lstsq(a_mat, (1 / z) * np.sqrt(w), rcond=None)
            a, b = float(sol[0]), float(sol[1])
            if a <= 0:
                a, b = float(np.exp(np.average(np.log(1 / (z * r)), weights=w))), 0.0
        else:
            a, b = float(np.exp(np.average(np.log(1 / (z * r)), weights=w))), 0.0
        pred = 1 / np.maximum(a * r + b, 1e-9)
    else:
        a, b = float(np.exp(np.average(np.log(z / r), weights=w))), 0.0
        pred = a * r
    resid = np.log(pred / z)
    spread = float(np.sqrt(np.average(resid**2, weights=w))) if len(z) > 1 else 0.0
    prior_sigma = 1 / math.sqrt(w.sum())
    return a, b, math.hypot(spread, prior_sigma)


class PriorScaledDepth:
    """Any depth backend put in metres (or checked) by the size priors: ``scale="size-prior"``.

    ``mode``: "relative" (depth up to scale), "inverse" (relative disparity, e.g. DPT/MiDaS) or "check" (a
    metric model: keep its metres, report its scale against the priors, flag a ratio above ``max_ratio``).
    """

    needs_detections = True

    def __init__(self, inner: Any, mode: str = "inverse", max_ratio: float = 1.5,
                 config: MetrologyConfig | None = None) -> None:
        if mode not in ("relative", "inverse", "check"):
            raise ValueError(f"mode must be 'relative', 'inverse' or 'check', got {mode!r}")
        self.inner = inner
        self.mode = mode
        self.max_ratio = max_ratio
        self.prior = SizePriorDepth(config)
        self.name = f"{getattr(inner, 'name', type(inner).__name__)}+size-prior-scale"

    def _inner(self, frame: Frame) -> np.ndarray:
        for m in ("predict", "estimate"):
            fn = getattr(self.inner, m, None)
            if callable(fn):
                out = fn(frame)
                break
        else:
            out = self.inner(frame)
        return np.asarray(getattr(out, "depth", out), dtype=np.float32)

    def predict_with_detections(self, frame: Frame, dets: Detections) -> PriorDepth:
        base = self.prior.predict_with_detections(frame, dets)
        rel = self._inner(frame)
        if rel.shape != base.depth.shape:
            raise ValueError(f"depth backend {self.name} returned shape {rel.shape}, image is {base.depth.shape}")
        notes = list(base.notes[:1])
        if self.mode == "check":
            a, _, s = fit_scale(rel, base.metrology, dets, inverse=False)
            ok = 1 / self.max_ratio <= a <= self.max_ratio
            notes.append(f"depth model scale vs size priors: x{a:.2f} (+-{s:.2f} log)"
                         + ("" if ok else f": disagreement above {self.max_ratio}x, its metres are suspect"))
            depth, sigma_rel = rel, max(s, 0.1)
        else:
            a, b, s = fit_scale(rel, base.metrology, dets, inverse=self.mode == "inverse")
            with np.errstate(divide="ignore", invalid="ignore"):
                depth = (1 / (a * rel + b)) if self.mode == "inverse" else a * rel
            depth = np.where(np.isfinite(depth) & (depth > 0) & (rel > 0), depth, 0.0).astype(np.float32)
            sigma_rel = max(s, 0.05)
            notes.append(f"relative depth put in metres by the size priors (scale {a:.4g}, +-{s:.2f} log)")
        return PriorDepth(depth=depth, sigma=(depth * sigma_rel).astype(np.float32), intrinsics=base.intrinsics,
                          metrology=base.metrology, notes=notes, scale=a)

    def predict(self, frame: Frame) -> np.ndarray:
        raise ValueError(f"{self.name} needs detections: call it through reconstruct()")
