"""Metric scale from one photo: class size priors, the pinhole model and the floor (single-view metrology).

After Hoiem, Efros and Hebert, "Putting Objects in Perspective" (2006): an object of true height H standing on
the floor, whose 2D box spans rows v_top..v_bottom, constrains the camera height y_c and the horizon row v0:

    Z_near = f * y_c / (v_bottom - v0)              (its floor contact, nearest edge)
    H      = y_c - (v_top - v0) * Z_top / f         (its top edge, at the near or far side)

With class priors on H (log-normal), a prior on y_c and one on the camera pitch (v0 near the principal point),
a grid posterior over (y_c, v0) is the product of every standing object's height likelihood. Each object's
depth then follows from its floor contact, pooled with its size cue ``Z = f * H / h_px`` (the only cue for
objects not on the floor or cut by the image border). The focal length's own uncertainty (a field-of-view
prior when the photo has no EXIF focal length) widens every depth interval.

Conventions: OpenCV camera (x right, y down, z forward), no roll; depths are along the optical axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spatialvlm_core.size_priors import SizePrior, prior_for, z_for
from spatialvlm_core.types import INTERVAL_LEVEL, CameraIntrinsics, Detection


@dataclass
class MetrologyConfig:
    camera_height: float = 1.4  # prior median (m); indoor handheld ~1.2-1.6, cars ~1.5-1.7
    camera_height_sigma: float = 0.35  # log-spread
    pitch_sigma_deg: float = 12.0  # camera pitch prior (horizon row around the principal point)
    focal_sigma: float = 0.0  # log-spread of the focal length (set by the caller: EXIF 0.03, FoV prior 0.2)
    grid_heights: int = 61
    grid_horizons: int = 61
    level: float = INTERVAL_LEVEL
    min_box_px: float = 4.0
    bottom_px_sigma: float = 3.0  # 1-sigma of a box's bottom row (pixels)
    model_sigma: float = 0.10  # log-spread the pinhole/no-roll/flat-floor model itself adds (roads slope)
    border_px: float = 2.0


@dataclass
class ObjectDepth:
    """One detection's metric placement: depth of its box centre along the optical axis, with an interval."""

    index: int
    label: str
    depth: float  # metres, centre of the object along the optical axis
    log_sigma: float  # 1-sigma of ln(depth)
    near: float  # depth of its near face (what a depth map would show)
    cue: str  # "floor+size", "size", "none"
    prior: SizePrior | None = None

    def interval(self, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
        z = z_for(level)
        return self.depth * math.exp(-z * self.log_sigma), self.depth * math.exp(z * self.log_sigma)


@dataclass
class MetrologyResult:
    objects: list[ObjectDepth]
    camera_height: float
    camera_height_log_sd: float  # 1-sigma of ln(camera height)
    horizon_v: float
    horizon_sd: float  # 1-sigma of the horizon row (pixels)
    up: np.ndarray  # world up in camera coordinates (from the horizon, no roll)
    n_standing: int  # objects that informed the floor
    notes: list[str] = field(default_factory=list)
    level: float = INTERVAL_LEVEL

    @property
    def camera_height_interval(self) -> tuple[float, float]:
        z = z_for(self.level)
        return (self.camera_height * math.exp(-z * self.camera_height_log_sd),
                self.camera_height * math.exp(z * self.camera_height_log_sd))

    @property
    def horizon_interval(self) -> tuple[float, float]:
        z = z_for(self.level)
        return self.horizon_v - z * self.horizon_sd, self.horizon_v + z * self.horizon_sd

    def tilt_sd_deg(self, fy: float) -> float:
        """1-sigma of the camera pitch (degrees) the horizon's spread stands for."""
        return math.degrees(math.atan(self.horizon_sd / fy))

    def floor_depth(self, intr: CameraIntrinsics) -> np.ndarray:
        """z-depth of the floor plane per pixel (0 above the horizon)."""
        u = (np.arange(intr.width) - intr.cx) / intr.fx
        v = (np.arange(intr.height) - intr.cy) / intr.fy
        denom = self.up[0] * u[None, :] + self.up[1] * v[:, None] + self.up[2]  # up . ray (ray z = 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(denom < -1e-4, -self.camera_height / denom, 0.0)
        return np.clip(z, 0.0, 200.0).astype(np.float32)


def up_from_horizon(v0: float, intr: CameraIntrinsics) -> np.ndarray:
    """World up in camera coordinates for a camera with no roll whose horizon is row ``v0``."""
    theta = math.atan2(intr.cy - v0, intr.fy)  # positive: looking down
    return np.array([0.0, -math.cos(theta), -math.sin(theta)])


def _yaw_sigma(prior: SizePrior, depth: float) -> float:
    """Log-sigma of the centre depth from not knowing which side faces the camera (half-extent W/2..L/2)."""
    return (prior.length - prior.width) / 4 / max(depth, 0.1)


def _depth_extent(prior: SizePrior) -> float:
    # Unknown yaw: the mean extent of the footprint along the viewing ray.
    return 0.5 * (prior.length + prior.width) * 0.8


def estimate(detections: list[Detection], intr: CameraIntrinsics, cfg: MetrologyConfig | None = None,
             up: np.ndarray | None = None, camera_height: float | None = None) -> MetrologyResult:
    """Joint camera height / horizon and per-object depth from labelled 2D boxes (see the module docstring).

    ``up``: known world-up in camera coordinates (fixes the horizon); ``camera_height``: known height (m).
    """
    cfg = cfg or MetrologyConfig()
    f = 0.5 * (intr.fx + intr.fy)
    notes: list[str] = []
    items = []
    for i, d in enumerate(detections):
        p = prior_for(d.label)
        x0, y0, x1, y1 = d.box_xyxy
        if p is None or y1 - y0 < cfg.min_box_px:
            items.append((i, d, p, False, False))
            continue
        cut_top = y0 <= cfg.border_px
        cut_bottom = y1 >= intr.height - 1 - cfg.border_px
        items.append((i, d, p, cut_top, cut_bottom))
    standing = [(i, d, p) for i, d, p, ct, cb in items if p is not None and p.on_floor and not ct and not cb]

    # ---- grid posterior over (camera height, horizon row)
    if camera_height is not None:
        hs = np.array([camera_height])
    else:
        hs = cfg.camera_height * np.exp(np.linspace(-2.5, 2.5, cfg.grid_heights) * cfg.camera_height_sigma)
    if up is not None:
        u = np.asarray(up, float) / np.linalg.norm(up)
        theta = math.asin(float(np.clip(-u[2], -1, 1)))
        v0s = np.array([intr.cy - intr.fy * math.tan(theta)])
    else:
        span = intr.fy * math.tan(math.radians(2.5 * cfg.pitch_sigma_deg))
        v0s = intr.cy + np.linspace(-span, span, cfg.grid_horizons)
    H, V = np.meshgrid(hs, v0s, indexing="ij")
    logp = -0.5 * (np.log(H / cfg.camera_height) / cfg.camera_height_sigma) ** 2
    pitch = np.degrees(np.arctan2(intr.cy - V, intr.fy))
    logp = logp - 0.5 * (pitch / cfg.pitch_sigma_deg) ** 2
    zs_floor: dict[int, np.ndarray] = {}
    for i, d, p in standing:
        x0, y0, x1, y1 = d.box_xyxy
        dv = y1 - V
        ok = dv > 1.0
        z_near = np.where(ok, f * H / np.maximum(dv, 1e-6), np.inf)
        ext = _depth_extent(p)
        # Box top: the far top edge when the object is lower than the camera, else the near one.
        z_far = z_near + ext
        h_low = H - (y0 - V) * z_far / f
        h_high = H - (y0 - V) * z_near / f
        h_est = np.where(h_low < H, h_low, h_high)
        h_est = np.where(ok & (h_est > 0.01), h_est, 1e-3)
        ll = -0.5 * (np.log(h_est / p.height) / max(p.sigma[2], 0.05)) ** 2
        # Robust: an occluded or mislabelled object must not drag the whole floor (Cauchy-like cap).
        ll = np.maximum(ll, -4.0)
        ll = np.where(ok, ll, -4.0)
        logp = logp + ll
        zs_floor[i] = z_near + 0.5 * ext
    post = np.exp(logp - logp.max())
    post /= post.sum()
    h_mean = float(np.exp((post * np.log(H)).sum()))
    h_sd = float(math.sqrt(max((post * (np.log(H) - math.log(h_mean)) ** 2).sum(), 1e-12)))
    v_mean = float((post * V).sum())
    v_sd = float(math.sqrt(max((post * (V - v_mean) ** 2).sum(), 1e-12)))
    if not standing:
        notes.append("no object standing on the floor was fully in view: camera height and horizon are priors")

    # ---- per-object depth: floor contact pooled with the size cue
    out: list[ObjectDepth] = []
    for i, d, p, cut_top, cut_bottom in items:
        if p is None:
            out.append(ObjectDepth(i, d.label, float("nan"), float("inf"), float("nan"), "none", None))
            continue
        x0, y0, x1, y1 = d.box_xyxy
        h_px = max(y1 - y0, 1.0)
        ext = _depth_extent(p) if p.on_floor else 0.5 * p.width
        # Size cue: the near face spans the box height; widths help when the box is cut at top/bottom.
        w_px = max(x1 - x0, 1.0)
        if cut_top or cut_bottom:
            z_s = f * max(p.width, p.length) / w_px  # a cut height says nothing; the width is a weak cue
            s_s = max(p.sigma[0], p.sigma[1]) + 0.35
        else:
            z_s = f * p.height / h_px + 0.5 * ext
            s_s = p.sigma[2]
        if i in zs_floor:
            zf = zs_floor[i]
            finite = np.isfinite(zf)
            w = post * finite
            if w.sum() > 1e-9:
                lz = np.log(np.where(finite, zf, 1.0))
                m_f = float((w * lz).sum() / w.sum())
                s_f = float(math.sqrt(max((w * (lz - m_f) ** 2).sum() / w.sum(), 1e-6)))
                # Box-bottom localisation: a few pixels of the gap to the horizon (far objects: a large share).
                s_f = math.hypot(s_f, cfg.bottom_px_sigma / max(y1 - v_mean, 1.0))
                wf, ws = 1 / s_f**2, 1 / s_s**2
                # The two cues share the class height; pooling as independent would overstate certainty.
                m = (wf * m_f + ws * math.log(z_s)) / (wf + ws)
                s = max(1 / math.sqrt(wf + ws), 0.6 * min(s_f, s_s))
                depth = math.exp(m)
                s = math.sqrt(s**2 + _yaw_sigma(p, depth) ** 2 + cfg.model_sigma**2)
                out.append(ObjectDepth(i, d.label, depth, math.hypot(s, cfg.focal_sigma),
                                       max(depth - 0.5 * ext, 0.1), "floor+size", p))
                continue
        s_s = math.sqrt(s_s**2 + _yaw_sigma(p, z_s) ** 2 + cfg.model_sigma**2)
        out.append(ObjectDepth(i, d.label, z_s, math.hypot(s_s, cfg.focal_sigma), max(z_s - 0.5 * ext, 0.1),
                               "size", p))
    return MetrologyResult(
        objects=out,
        camera_height=h_mean,
        camera_height_log_sd=h_sd,
        horizon_v=v_mean,
        horizon_sd=v_sd,
        up=up_from_horizon(v_mean, intr) if up is None else np.asarray(up, float) / np.linalg.norm(up),
        n_standing=len(standing),
        notes=notes,
        level=cfg.level,
    )
