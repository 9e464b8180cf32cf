"""The floor of one RGB-D frame: RANSAC candidates checked against independent cues, or a known up vector.

Pure numpy + scipy. Used by :func:`spatialvlm_core.lifting.lift` (parameters live in ``LiftConfig``).

A floor is only worth a canonical scene when it is *right*: a plane 20 deg off turns every height and every
"above"/"below" into nonsense. So a RANSAC candidate (the lowest credible near-horizontal plane, as before) is
scored against cues that do not come from the same points:

- ``height``: the camera height it implies is plausible (``floor_camera_height`` range; drones and
  street-level gantries beyond it are rare, a table top 20 cm under the lens is not a floor);
- ``below``: few points lie under it (a table top has the floor under it);
- ``walls``: other large planes that are nearly vertical are perpendicular to its normal (rooms and streets
  are built plumb);
- ``vertical_vp``: the vertical vanishing direction of the RGB's near-vertical edges (door frames, cupboards,
  poles, building edges) agrees with its normal;
- ``objects``: detected objects' mask bottoms are not under it.

Each cue gives a score in [0, 1] (or is unavailable: no walls, no vertical edges, no masks); the floor's
``confidence`` is the RANSAC support confidence times the available scores. ``lift`` keeps the scene in the
camera frame when the confidence is below ``LiftConfig.min_floor_confidence`` and its notes name the failed
cues with their numbers. A known up vector (``Frame.gravity_up``) skips the orientation search entirely:
see :func:`floor_from_gravity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from spatialvlm_core.geometry import angle_between_deg
from spatialvlm_core.types import CameraIntrinsics

if TYPE_CHECKING:  # only its floor fields are read here
    from spatialvlm_core.lift_config import LiftConfig

CAMERA_UP = np.array([0.0, -1.0, 0.0])  # prior "up" in the OpenCV camera frame


@dataclass
class FloorFit:
    """Result of the floor search (camera frame): plane ``normal . p + offset = 0``, normal pointing up."""

    normal: np.ndarray
    offset: float  # = camera height above the floor
    inlier_frac: float
    below_frac: float
    tilt_deg: float
    confidence: float
    band_scale: float = 1.0  # which of ``ransac_scales`` found it (floor noise level)
    source: str = "ransac"  # "ransac" or "gravity_up"
    support_confidence: float = 1.0  # the RANSAC part of ``confidence`` (support, points below, tilt margin)
    cues: dict[str, float] = field(default_factory=dict)  # cue -> score in [0, 1] (available cues only)
    checks: list[str] = field(default_factory=list)  # one readable line per cue, with its numbers
    failed: list[str] = field(default_factory=list)  # the lines of cues scoring below 0.5
    others: list[str] = field(default_factory=list)  # other candidates refused by find_floor, one line each


@dataclass
class FloorEvidence:
    """Cue inputs that do not depend on the candidate floor (computed once per frame)."""

    walls: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (unit normal, support share)
    vp_up: np.ndarray | None = None  # vertical vanishing direction from the RGB (camera frame, up-ish)
    vp_segments: int = 0  # line segments supporting it
    mask_points: list[np.ndarray] = field(default_factory=list)  # per detection, camera-frame points


# --------------------------------------------------------------------------- plane fitting


def plane_from_3(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched planes through point triples p (B, 3, 3): unit normals (B, 3) and offsets (B,)."""
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    norm = np.linalg.norm(n, axis=1)
    norm[norm == 0] = np.inf
    n = n / norm[:, None]
    return n, -np.einsum("ij,ij->i", n, p[:, 0])


def refit_plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane (normal, offset) through points (SVD of the centred cloud)."""
    c = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - c, full_matrices=False)
    n = vt[2]
    return n, float(-n @ c)


def inlier_band(points: np.ndarray, cfg: LiftConfig, scale: float = 1.0) -> np.ndarray:
    """Per-point plane inlier band: ``ransac_threshold`` up to 3 m, growing like depth^2 (sensor noise)
    beyond, times ``scale``, capped at ``floor_max_band`` (far LiDAR returns are not that noisy, and an
    uncapped band lets a wrong plane collect every point 30 m away)."""
    band = cfg.ransac_threshold * np.maximum(1.0, (points[:, 2] / 3.0) ** 2) * scale
    return np.minimum(band, cfg.floor_max_band * scale)


def _support_confidence(frac: float, tilt: float, cfg: LiftConfig) -> float:
    # Support (saturating at 20 % of the sample) and the tilt margin; points below are the "below" cue.
    conf = min(1.0, frac / 0.2) * min(1.0, (cfg.max_tilt_deg - tilt) / 5.0 + 0.5)
    return float(np.clip(conf, 0.0, 1.0))


def _floor_at(sample: np.ndarray, thr: np.ndarray, cfg: LiftConfig,
              rng: np.random.Generator) -> tuple[list[FloorFit], list[str]]:
    """Sequential RANSAC with per-point inlier band ``thr``: the credible floor candidates, lowest first,
    and the reasons others were refused."""
    n_all = len(sample)
    cos_tilt = math.cos(math.radians(cfg.max_tilt_deg))
    remaining = np.ones(n_all, dtype=bool)
    candidates: list[tuple[np.ndarray, float, np.ndarray]] = []
    for _ in range(cfg.max_planes):
        idx = np.nonzero(remaining)[0]
        if len(idx) < max(50, cfg.min_plane_frac * n_all):
            break
        tri = sample[idx[rng.integers(0, len(idx), size=(cfg.ransac_iters, 3))]]
        normals, offsets = plane_from_3(tri)
        # Orient normals up (towards the camera's prior up); reject steep planes before scoring.
        sign = np.where(normals @ CAMERA_UP < 0, -1.0, 1.0)
        normals, offsets = normals * sign[:, None], offsets * sign
        ok = (normals @ CAMERA_UP >= cos_tilt) & (offsets > 0)  # camera above the plane
        if not ok.any():
            break
        normals, offsets = normals[ok], offsets[ok]
        # Score hypotheses on a subset (the sample is already random), then refit on all remaining points.
        sc = idx[:600]
        dist = np.abs(sample[sc] @ normals.T + offsets[None, :])  # (n, B)
        support = (dist <= thr[sc, None]).sum(axis=0) * (len(idx) / len(sc))
        b = int(support.argmax())
        if support[b] < cfg.min_plane_frac * n_all:
            break
        n, d = normals[b], offsets[b]
        for band in (thr, thr, thr):  # least-squares refits on the inliers
            inl = (np.abs(sample @ n + d) <= band) & remaining
            if inl.sum() < 3:
                break
            n2, d2 = refit_plane(sample[inl])
            if n2 @ CAMERA_UP < 0:
                n2, d2 = -n2, -d2
            n, d = n2, d2
        inl = (np.abs(sample @ n + d) <= thr) & remaining
        if n @ CAMERA_UP >= cos_tilt and d > 0:
            candidates.append((n, float(d), inl))
        remaining &= ~inl
    if not candidates:
        return [], [f"no plane within {cfg.max_tilt_deg:.0f} deg of the camera's up with enough support"]
    # A plane nearly parallel to a better-supported one and within a few decimetres of it is the residue of the
    # same uneven surface (road camber, a sagging sensor), not a lower floor: keep the better-supported one.
    keep = []
    for i, (n, d, inl) in enumerate(candidates):
        dup = any(j != i and candidates[j][2].sum() > inl.sum() and abs(candidates[j][1] - d) < cfg.floor_merge_m
                  and angle_between_deg(candidates[j][0], n) < cfg.floor_merge_deg for j in range(len(candidates)))
        if not dup:
            keep.append((n, d, inl))
    candidates = keep
    candidates.sort(key=lambda c: -c[1])  # lowest plane (largest camera height) first
    fits, reasons = [], []
    for n, d, inl in candidates:
        signed = sample @ n + d
        below = float(np.mean(signed < -np.maximum(cfg.below_margin, 2 * thr)))
        if below > cfg.max_below_frac:
            reasons.append(f"plane at {d:.2f} m below camera has {below:.0%} of points under it")
            continue
        tilt = angle_between_deg(n, CAMERA_UP)
        frac = float(inl.mean())
        conf = _support_confidence(frac, tilt, cfg)
        fits.append(FloorFit(n, d, frac, below, tilt, conf, support_confidence=conf))
    return fits, reasons


def near_points(points: np.ndarray, cfg: LiftConfig) -> np.ndarray:
    """Points within ``floor_max_range`` of the camera (all of them when fewer than 50 are): the floor under
    and near the camera is the one that matters; a road rising or falling 30 m away is not it."""
    near = points[points[:, 2] <= cfg.floor_max_range]
    return near if len(near) >= 50 else points


def _sample(points: np.ndarray, cfg: LiftConfig, rng: np.random.Generator) -> np.ndarray:
    if len(points) <= cfg.plane_sample:
        return points
    return points[rng.choice(len(points), cfg.plane_sample, replace=False)]


def find_floor(points: np.ndarray, cfg: LiftConfig, evidence: FloorEvidence | None = None
               ) -> tuple[FloorFit | None, str]:
    """The floor of camera-frame points; returns (fit or None, reason).

    Tries the inlier band at ``ransac_scales`` multiples in turn (noisy depth still finds its floor; a
    coarser band lowers the confidence). Each credible candidate (lowest first) is checked against the cues
    in ``evidence`` (see the module docstring); the first whose confidence reaches
    ``min_floor_confidence`` wins, else the best one found is returned with its failed checks (``lift``
    then stays in the camera frame). Without ``evidence`` only the camera-height cue is checked.
    """
    rng = np.random.default_rng(cfg.seed)
    if len(points) < 50:
        return None, f"too few valid depth points ({len(points)}) for a floor"
    sample = _sample(near_points(points, cfg), cfg, rng)
    evidence = evidence or FloorEvidence()
    reasons: list[str] = []
    tried: list[FloorFit] = []
    for scale in cfg.ransac_scales:
        fits, why = _floor_at(sample, inlier_band(sample, cfg, scale), cfg, rng)
        for fit in fits:
            fit.band_scale = scale
            fit.support_confidence = float(np.clip(fit.support_confidence / math.sqrt(scale), 0.0, 1.0))
            check_floor(fit, evidence, cfg)
            if fit.confidence >= cfg.min_floor_confidence:
                return fit, ""
            tried.append(fit)
        reasons += [r for r in why if r not in reasons]
    if tried:
        best = max(tried, key=lambda f: f.confidence)
        best.others = [f"plane {f.offset:.2f} m below, tilt {f.tilt_deg:.0f} deg: confidence {f.confidence:.2f} "
                       f"({'; '.join(f.failed) or f'support {f.support_confidence:.2f}'})"
                       for f in tried if f is not best][:3]
        return best, ""
    return None, "; ".join(reasons)


# --------------------------------------------------------------------------- cues


def _ramp(x: float, x0: float, x1: float) -> float:
    """0 at x0, 1 at x1 (either order), linear between."""
    if x1 == x0:
        return float(x >= x1)
    return float(np.clip((x - x0) / (x1 - x0), 0.0, 1.0))


def height_score(h: float, cfg: LiftConfig) -> float:
    """1 inside ``floor_camera_height``; falls to 0 at 0.6x the minimum and at 1.5x the maximum."""
    lo, hi = cfg.floor_camera_height
    if h < lo:
        return _ramp(h, 0.6 * lo, lo)
    return _ramp(h, 1.5 * hi, hi)


def _agreement(angle_deg: float, scale_deg: float) -> float:
    """1 for perfect agreement, 0.5 at ``scale_deg``, falling like a Cauchy kernel beyond."""
    return 1.0 / (1.0 + (angle_deg / scale_deg) ** 2)


def check_floor(fit: FloorFit, ev: FloorEvidence, cfg: LiftConfig) -> FloorFit:
    """Score ``fit`` against every available cue; sets ``cues``, ``checks``, ``failed`` and ``confidence``."""
    up = fit.normal / np.linalg.norm(fit.normal)
    cues: dict[str, float] = {}
    checks: list[str] = []
    h = fit.offset
    cues["height"] = height_score(h, cfg)
    lo, hi = cfg.floor_camera_height
    checks.append(f"camera height {h:.2f} m (plausible {lo:g}-{hi:g} m)")
    cues["below"] = float(np.clip(1.0 - fit.below_frac / max(cfg.max_below_frac, 1e-9) * 0.5, 0.0, 1.0))
    checks.append(f"{fit.below_frac:.1%} of points below it (max {cfg.max_below_frac:.0%})")
    sin_wall = math.sin(math.radians(cfg.wall_max_tilt_deg))
    walls = [(n, w) for n, w in ev.walls if abs(float(n @ up)) < sin_wall]
    if walls:
        off = np.array([math.degrees(math.asin(min(1.0, abs(float(n @ up))))) for n, _ in walls])
        wts = np.array([w for _, w in walls])
        dev = float(np.sum(off * wts) / np.sum(wts))
        cues["walls"] = _agreement(dev, cfg.floor_cue_scale_deg)
        checks.append(f"{len(walls)} wall plane(s) {dev:.1f} deg from perpendicular to it")
    if ev.vp_up is not None:
        ang = angle_between_deg(ev.vp_up, up)
        cues["vertical_vp"] = _agreement(ang, cfg.floor_cue_scale_deg)
        checks.append(f"RGB vertical vanishing direction {ang:.1f} deg from its normal ({ev.vp_segments} segments)")
    if ev.mask_points:
        bottoms = np.array([float(np.percentile(p @ up + h, 2)) for p in ev.mask_points if len(p) >= 10])
        if len(bottoms):
            tol = cfg.floor_object_tol
            under = float(np.mean(bottoms < -tol))
            on = float(np.mean(np.abs(bottoms) <= tol))
            cues["objects"] = (1.0 - under) * (0.8 + 0.2 * on)
            checks.append(f"{under:.0%} of {len(bottoms)} objects' bottoms under it, {on:.0%} standing on it")
    fit.cues = cues
    fit.checks = checks
    fit.failed = [c for name, c in zip(list(cues), checks, strict=True) if cues[name] < 0.5]
    conf = fit.support_confidence * float(np.prod(list(cues.values())))
    fit.confidence = float(np.clip(conf, 0.0, 1.0))
    return fit


def find_walls(points: np.ndarray, cfg: LiftConfig, rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """Large near-vertical planes (w.r.t. the camera's prior up, within 90 - 2 x ``wall_max_tilt_deg``...90
    deg): sequential RANSAC over all orientations; returns (unit normal, support share) per plane."""
    sample = _sample(points, cfg, rng)
    n_all = len(sample)
    # Twice the floor's band cap: a building front 30 m away in sparse LiDAR is still worth checking against.
    thr = np.minimum(cfg.ransac_threshold * np.maximum(1.0, (sample[:, 2] / 3.0) ** 2), 2 * cfg.floor_max_band)
    remaining = np.ones(n_all, dtype=bool)
    walls: list[tuple[np.ndarray, float]] = []
    # Walls are vertical in truth; the camera may be tilted by up to max_tilt_deg, so accept planes whose
    # normal is within max_tilt_deg + wall_max_tilt_deg of horizontal in the camera frame.
    max_up = math.sin(math.radians(min(89.0, cfg.max_tilt_deg + cfg.wall_max_tilt_deg)))
    for _ in range(cfg.max_planes + 2):
        idx = np.nonzero(remaining)[0]
        if len(idx) < max(50, cfg.wall_min_frac * n_all):
            break
        normals, offsets = plane_from_3(sample[idx[rng.integers(0, len(idx), size=(cfg.ransac_iters, 3))]])
        sc = idx[:600]
        support = (np.abs(sample[sc] @ normals.T + offsets[None, :]) <= thr[sc, None]).sum(axis=0)
        support = support * (len(idx) / len(sc))
        b = int(support.argmax())
        if support[b] < cfg.wall_min_frac * n_all:
            break
        n, d = normals[b], float(offsets[b])
        for _ in range(2):
            inl = (np.abs(sample @ n + d) <= thr) & remaining
            if inl.sum() < 3:
                break
            n, d = refit_plane(sample[inl])
        inl = (np.abs(sample @ n + d) <= thr) & remaining
        # A plane must be spread out, not a thin strip of points (two LiDAR rings are "coplanar" too).
        pts = sample[inl]
        if len(pts) >= 10:
            sv = np.linalg.svd(pts - pts.mean(axis=0), compute_uv=False)
            spread_ok = sv[1] > 0.15 * sv[0]
        else:
            spread_ok = False
        # The support estimate came from a subset: the refit plane must really hold its share.
        if abs(float(n @ CAMERA_UP)) < max_up and spread_ok and inl.mean() >= cfg.wall_min_frac:
            walls.append((n / np.linalg.norm(n), float(inl.mean())))
        remaining &= ~inl
    return walls


def line_segments(gray: np.ndarray, min_len: float = 20.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight line segments of a grey image: (centres (N, 2) in (u, v), unit directions (N, 2), lengths).

    Line-support regions: strong, coherent gradient pixels (structure tensor) grouped by connected
    components within 15-deg orientation bins (two staggered binnings, so a line near a bin edge is not cut);
    a region counts when it is long (``min_len`` px) and thin; its principal axis is the segment.
    """
    g = ndimage.gaussian_filter(gray, 1.0)
    gx = ndimage.sobel(g, axis=1)
    gy = ndimage.sobel(g, axis=0)
    jxx = ndimage.gaussian_filter(gx * gx, 1.5)
    jyy = ndimage.gaussian_filter(gy * gy, 1.5)
    jxy = ndimage.gaussian_filter(gx * gy, 1.5)
    tr = jxx + jyy
    coh = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / np.maximum(tr, 1e-9)  # (l1 - l2) / (l1 + l2)
    mag = np.hypot(gx, gy)
    keep = (mag > max(float(np.percentile(mag, 85)), 1e-6)) & (coh > 0.8)
    # Image borders (padding frames, e.g. NYU's) are perfectly vertical lines that are not in the scene.
    mh, mw = max(8, gray.shape[0] // 30), max(8, gray.shape[1] // 30)
    keep[:mh] = keep[-mh:] = False
    keep[:, :mw] = keep[:, -mw:] = False
    theta = 0.5 * np.arctan2(2 * jxy, jxx - jyy) + np.pi / 2  # line direction angle in [0, pi) (mod pi)
    vk, uk = np.nonzero(keep)
    th = theta[vk, uk]
    uu, vv = uk.astype(np.float64), vk.astype(np.float64)
    cen, dirs, lens = [], [], []
    for shift in (0.0, np.pi / 24):
        bins = (((th + shift) % np.pi) // (np.pi / 12)).astype(np.int32)
        lab_img = np.zeros(gray.shape, dtype=np.int64)
        n_total = 0
        for k in range(12):  # components within one orientation bin, numbered after the previous bins'
            sel = np.zeros(gray.shape, dtype=bool)
            sel[vk[bins == k], uk[bins == k]] = True
            lab, n = ndimage.label(sel, structure=np.ones((3, 3)))
            lab_img[sel] = lab[sel] + n_total
            n_total += n
        if n_total == 0:
            continue
        lab = lab_img[vk, uk]
        cnt = np.bincount(lab, minlength=n_total + 1)[1:].astype(np.float64)
        cnt_safe = np.maximum(cnt, 1.0)

        def mean_of(x: np.ndarray, lab: np.ndarray = lab, n_total: int = n_total,
                    cnt_safe: np.ndarray = cnt_safe) -> np.ndarray:
            return np.bincount(lab, weights=x, minlength=n_total + 1)[1:] / cnt_safe

        mu, mv = mean_of(uu), mean_of(vv)
        cuu = mean_of(uu * uu) - mu**2
        cvv = mean_of(vv * vv) - mv**2
        cuv = mean_of(uu * vv) - mu * mv
        half = 0.5 * (cuu + cvv)
        rt = np.sqrt(np.maximum(0.25 * (cuu - cvv) ** 2 + cuv**2, 0.0))
        l1, l2 = half + rt, np.maximum(half - rt, 0.0)
        length = np.sqrt(12 * np.maximum(l1, 0.0))
        ok = (cnt >= min_len) & (length >= min_len) & (l1 > 25 * np.maximum(l2, 0.05))  # long and thin
        ang = 0.5 * np.arctan2(2 * cuv, cuu - cvv)
        cen.append(np.stack([mu, mv], axis=1)[ok])
        dirs.append(np.stack([np.cos(ang), np.sin(ang)], axis=1)[ok])
        lens.append(length[ok])
    if not cen:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0)
    c, d, ln = np.concatenate(cen), np.concatenate(dirs), np.concatenate(lens)
    # The staggered binnings find most segments twice: keep one per (centre, direction).
    key = np.round(np.concatenate([c / 3.0, d * 20], axis=1)).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    return c[first], d[first], ln[first]


def vertical_vanishing_up(rgb: np.ndarray, intr: CameraIntrinsics, cfg: LiftConfig,
                          rng: np.random.Generator | None = None) -> tuple[np.ndarray | None, int]:
    """World up from the RGB alone: the vanishing direction shared by most near-vertical line segments.

    Each segment defines the plane through the camera centre that contains its 3D line (normal ``m``); a
    vertical line satisfies ``m . up = 0``. Up is voted for on a grid of directions within
    ``max_tilt_deg`` of the camera's prior up (2-deg grid, length-weighted), then refined by reweighted
    least squares. Returns (up, supporting segments), or (None, n) when fewer than ``vp_min_segments``
    segments support it (few vertical structures, e.g. open roads: then there is no cue).
    """
    gray = rgb.astype(np.float32).mean(axis=2)
    step = max(1, math.ceil(max(gray.shape) / 800))  # work at <= 800 px (speed; long lines survive)
    gray = gray[::step, ::step]
    c, d, ln = line_segments(gray)
    if len(c) < cfg.vp_min_segments:
        return None, len(c)
    uf, vf = c[:, 0] * step + (step - 1) / 2.0, c[:, 1] * step + (step - 1) / 2.0
    ray = np.stack([(uf - intr.cx) / intr.fx, (vf - intr.cy) / intr.fy, np.ones_like(uf)], axis=1)
    dray = np.stack([d[:, 0] / intr.fx, d[:, 1] / intr.fy, np.zeros(len(uf))], axis=1)
    m = np.cross(ray, dray)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    w = ln / ln.max()
    lim = math.radians(cfg.max_tilt_deg)
    a = np.arange(-lim, lim + 1e-9, math.radians(2.0))  # coarse grid; the refinement below sharpens it
    ax, az = np.meshgrid(a, a)
    cand = np.stack([np.tan(ax.ravel()), -np.ones(ax.size), np.tan(az.ravel())], axis=1)
    cand /= np.linalg.norm(cand, axis=1, keepdims=True)
    cand = cand[cand @ CAMERA_UP >= math.cos(lim)]
    s1 = math.sin(math.radians(1.5))
    score = (w[:, None] * np.exp(-((m @ cand.T) / s1) ** 2)).sum(axis=0)
    b = int(score.argmax())
    best = cand[b]
    for sd in (1.5, 1.0, 0.7):  # IRLS refinement with a shrinking kernel
        ww = w * np.exp(-((m @ best) / math.sin(math.radians(sd))) ** 2)
        _, vecs = np.linalg.eigh((m * ww[:, None]).T @ m)
        new = vecs[:, 0]
        new = new if new @ best >= 0 else -new
        if angle_between_deg(new, best) > 3.0:  # refinement ran off (too few segments): keep the vote
            break
        best = new
    support = int(np.sum(np.abs(m @ best) < math.sin(math.radians(1.0))))
    if support < cfg.vp_min_segments:
        return None, support
    return best, support


def gather_evidence(points: np.ndarray, cfg: LiftConfig, rgb: np.ndarray | None = None,
                    intr: CameraIntrinsics | None = None,
                    mask_points: list[np.ndarray] | None = None) -> FloorEvidence:
    """The candidate-independent cue inputs: wall planes, the RGB's vertical vanishing direction, objects."""
    rng = np.random.default_rng(cfg.seed + 1)
    ev = FloorEvidence(mask_points=list(mask_points or []))
    if not cfg.floor_checks:
        return ev
    if len(points) >= 50:
        ev.walls = find_walls(points, cfg, rng)
    if rgb is not None and intr is not None:
        ev.vp_up, ev.vp_segments = vertical_vanishing_up(rgb, intr, cfg)
    return ev


# --------------------------------------------------------------------------- known up vector


def floor_from_gravity(points: np.ndarray, up: np.ndarray, cfg: LiftConfig) -> tuple[FloorFit, str]:
    """The floor when world-up is known: normal = ``up``; only the offset (camera height) is searched.

    The offset is the lowest height along ``up`` with well-supported points on it (a plane band holding at
    least ``min_plane_frac`` of the sample, and at most ``max_below_frac`` of the points under it), refined
    as the median height of its band: robust to stray returns below the floor and to sparse LiDAR depth.
    When no such height exists (no floor in view) the orientation still holds, so the scene stays canonical
    and z = 0 is put ``max(floor_prior_height, depth of the lowest points)`` below the camera: the floor
    is at least as low as everything seen; the note says the floor height is a guess.
    """
    up = np.asarray(up, dtype=float)
    up = up / np.linalg.norm(up)
    rng = np.random.default_rng(cfg.seed)
    sample = _sample(near_points(points, cfg), cfg, rng) if len(points) else points.reshape(0, 3)
    tilt = angle_between_deg(up, CAMERA_UP)
    if len(sample) >= 20:
        s = sample @ up  # height relative to the camera (floor points are negative)
        thr = inlier_band(sample, cfg)
        grid = np.arange(float(np.percentile(s, 0.5)), -cfg.floor_camera_height[0] * 0.5, 0.01)
        if len(grid):
            d = s[:, None] - grid[None, :]
            support = (np.abs(d) <= thr[:, None]).mean(axis=0)
            below = (d < -np.maximum(cfg.below_margin, 2 * thr)[:, None]).mean(axis=0)
            ok = np.nonzero((support >= cfg.min_plane_frac) & (below <= cfg.max_below_frac))[0]
            if len(ok):
                # The lowest acceptable height, moved to the densest spot of its own band, then refined.
                i0 = ok[0]
                near = ok[ok <= i0 + round(2 * float(np.median(thr)) / 0.01)]
                c = grid[near[int(support[near].argmax())]]
                band = np.abs(s - c) <= thr
                c = float(np.median(s[band]))
                band = np.abs(s - c) <= thr
                frac = float(band.mean())
                below_f = float(np.mean(s - c < -np.maximum(cfg.below_margin, 2 * thr)))
                fit = FloorFit(up, -c, frac, below_f, tilt, 1.0, source="gravity_up", support_confidence=1.0)
                fit.checks = [f"camera height {-c:.2f} m from the lowest supported height along up "
                              f"({frac:.0%} of points on it)"]
                return fit, f"up from frame.gravity_up; floor {-c:.2f} m below the camera"
    low = float(-np.percentile(sample @ up, 1)) if len(sample) else 0.0
    h = max(cfg.floor_prior_height, low)
    fit = FloorFit(up, h, 0.0, 0.0, tilt, 1.0, source="gravity_up", support_confidence=1.0)
    fit.checks = [f"no supported floor height: assumed {h:.2f} m"]
    return fit, (f"up from frame.gravity_up; no floor seen, z = 0 assumed {h:.2f} m below the camera "
                 f"(max of the {cfg.floor_prior_height:g} m prior and the lowest points): heights above the "
                 "floor are rough")
