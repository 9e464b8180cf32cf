"""Whole objects from their visible surface: amodal completion with class size priors and free space.

A camera sees the front of an object. ``lift`` boxes the visible points; this module extends that box to the
whole object and states how sure it is:

- **floor contact**: a class that stands on the floor (``SizePrior.on_floor``) whose visible bottom is near
  the floor reaches down to it (legs and lower parts hidden by clutter or by a nearer object);
- **depth behind the seen face**: the horizontal axis most along the viewing ray is extended away from the
  camera towards the class's typical extent, never past **free space** (a sample of the extended volume that
  the depth map sees through, i.e. the sensor measured something farther along that pixel's ray, is outside
  the object), never less than what was seen;
- **truncation**: an extent cut by the image border takes at least the prior's typical size;
- **few points** (sparse LiDAR, far objects): the prior's size placed behind the seen points.

Every completed object keeps ``visible_aabb``/``visible_obb``, says per axis how much of its extent was seen
(``extent_seen``), and carries a size interval (``size_lo``/``size_hi``) and a centre 1-sigma
(``center_sigma``) at ``types.INTERVAL_LEVEL``, from the depth noise, the seen extent and the prior's spread.
Works in the canonical frame (+z up, floor z = 0); in the camera frame (no floor) only the depth axis (+z of
the camera) is extended and no floor contact is assumed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.metrology import MetrologyConfig, ObjectDepth, estimate
from spatialvlm_core.perception.boxes import box_mask, box_to_slices
from spatialvlm_core.size_priors import SizePrior, prior_for, z_for
from spatialvlm_core.types import INTERVAL_LEVEL, Box3D, CameraIntrinsics, Detection, Object3D, OrientedBox3D


class AmodalConfig(BaseModel):
    """Parameters of :func:`complete_object` (lengths in metres)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    level: float = Field(INTERVAL_LEVEL, gt=0, lt=1)
    floor_contact_frac: float = Field(0.5, ge=0, le=1)  # visible bottom below this share of the prior height...
    floor_contact_min: float = Field(0.25, ge=0)  # ...or below this height: the object reaches the floor
    few_points: int = Field(40, ge=1)  # fewer visible points: place the prior's size behind them
    free_space_tol: float = Field(0.06, ge=0)  # a sample is free when the sensor sees this much beyond it
    free_space_max_frac: float = Field(0.12, ge=0, le=1)  # share of free samples that stops the extension
    free_space_steps: int = Field(10, ge=2)
    border_px: float = Field(2.0, ge=0)  # a 2D box this close to the image border is truncated there
    sensor_noise: tuple[float, float] = (0.005, 0.0025)  # dense depth 1-sigma = a + b * z^2 (structured light)
    lidar_noise: tuple[float, float] = (0.03, 0.002)  # sparse depth (projected LiDAR) 1-sigma = a + b * z
    sparse_below: float = Field(0.35, ge=0, le=1)  # valid-pixel share under which depth is read as LiDAR
    min_returns: int = Field(5, ge=1)  # sparse returns that may fix an otherwise unseen object's depth
    floor_tilt_sigma_deg: float = Field(0.4, ge=0)  # orientation error of a measured floor (placement)
    unknown_extent_factor: float = Field(1.6, ge=1)  # no prior: the hidden depth is at most this x seen (+0.3 m)
    cut_min_extension: float = Field(0.02, ge=0)  # an object cut at a side goes on at least this far there


@dataclass
class CompletionContext:
    """What the completion may look at besides the object: the depth map and the camera."""

    depth: np.ndarray | None  # HxW metres (0 = invalid); None: no free-space reasoning
    intrinsics: CameraIntrinsics
    world_from_cam: np.ndarray  # 4x4: scene frame from the OpenCV camera frame
    canonical: bool
    depth_sigma: np.ndarray | None = None  # HxW 1-sigma (m) of a monocular/size-prior depth; None: sensor model
    sparse: bool = False  # sparse depth (projected LiDAR): range noise grows linearly, not quadratically


def _noise(z: float, ctx: CompletionContext, cfg: AmodalConfig,
           box: tuple[float, float, float, float] | None) -> float:
    """1-sigma depth noise (m) at range z: the depth source's own sigma map over the box, else a sensor model."""
    if ctx.depth_sigma is not None and ctx.depth is not None and box is not None:
        sl = box_to_slices(box, ctx.intrinsics.width, ctx.intrinsics.height)
        s, d = ctx.depth_sigma[sl], ctx.depth[sl]
        ok = (d > 0) & np.isfinite(s)
        if ok.any():
            return float(np.median(s[ok] / d[ok])) * z
    if ctx.sparse:
        a, b = cfg.lidar_noise
        return a + b * z
    a, b = cfg.sensor_noise
    return a + b * min(z, 6.0) ** 2


def _occluded(mask: np.ndarray | None, depth: np.ndarray | None, margin: float = 0.1,
              px: int = 3) -> dict[str, bool]:
    """Sides (left/right/top) where a nearer surface borders the mask: the object may go on behind it."""
    out = {"left": False, "right": False, "top": False}
    if mask is None or depth is None or not mask.any():
        return out
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    w = mask.shape[1]

    def nearer(inside: np.ndarray, outside: np.ndarray) -> bool:
        ok = (inside > 0) & (outside > 0)
        if ok.sum() < 5:
            return False
        return float(np.mean(outside[ok] < inside[ok] - margin)) > 0.3

    sub_rows = rows[:: max(1, len(rows) // 40)]
    left_in, left_out, right_in, right_out = [], [], [], []
    for r in sub_rows:
        cs = np.flatnonzero(mask[r])
        if len(cs) == 0:
            continue
        a, b = cs[0], cs[-1]
        if a - px >= 0:
            left_in.append(depth[r, a]), left_out.append(depth[r, a - px])
        if b + px < w:
            right_in.append(depth[r, b]), right_out.append(depth[r, b + px])
    out["left"] = nearer(np.array(left_in), np.array(left_out))
    out["right"] = nearer(np.array(right_in), np.array(right_out))
    top_in, top_out = [], []
    for c in cols[:: max(1, len(cols) // 40)]:
        rs = np.flatnonzero(mask[:, c])
        if len(rs) and rs[0] - px >= 0:
            top_in.append(depth[rs[0], c]), top_out.append(depth[rs[0] - px, c])
    out["top"] = nearer(np.array(top_in), np.array(top_out))
    return out


def _truncated(box: tuple[float, float, float, float] | None, intr: CameraIntrinsics, px: float) -> dict[str, bool]:
    if box is None:
        return {"left": False, "right": False, "top": False, "bottom": False}
    x0, y0, x1, y1 = box
    return {"left": x0 <= px, "right": x1 >= intr.width - 1 - px, "top": y0 <= px,
            "bottom": y1 >= intr.height - 1 - px}


def _free_fraction(near: np.ndarray, ax_f: np.ndarray, ax_g: np.ndarray, face: float, g0: float, g1: float,
                   z_lo: float, z_hi: float, ctx: CompletionContext, tol: float,
                   own: np.ndarray | None = None, g_seen: float | None = None) -> tuple[float, int]:
    """Share of sample points in the slab ``g0..g1`` behind the near edge (``face`` wide, ``z_lo..z_hi`` high)
    that cannot be inside the object, and how many samples could be tested. A sample is out when the depth map
    sees through it (free space), or sees another surface between the object's seen part (``g_seen``) and it
    (a wall or object the extension would pass through)."""
    if ctx.depth is None or g1 <= g0:
        return 0.0, 0
    fs = np.linspace(-0.45, 0.45, 6) * face
    gs = g0 + (g1 - g0) * np.linspace(0.25, 1.0, 4)
    f_, g_ = np.meshgrid(fs, gs, indexing="ij")
    xy = near[None] + f_.ravel()[:, None] * ax_f[None] + g_.ravel()[:, None] * ax_g[None]
    xy_in = near[None] + f_.ravel()[:, None] * ax_f[None] + (g0 if g_seen is None else g_seen) * ax_g[None]
    # Just under the top too: seen from above, what lies past a top face's far edge is where free space shows.
    zs = z_lo + (z_hi - z_lo) * np.array([0.2, 0.55, 0.95])
    cam_from_world = np.linalg.inv(ctx.world_from_cam)

    def to_cam(q: np.ndarray) -> np.ndarray:
        if ctx.canonical:
            pts = np.concatenate([np.column_stack([q, np.full(len(q), z)]) for z in zs])
        else:  # camera frame: footprint is (x, z), height is -y
            pts = np.concatenate([np.column_stack([q[:, 0], np.full(len(q), -z), q[:, 1]]) for z in zs])
        return pts @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]

    pc, z_entry = to_cam(xy), to_cam(xy_in)[:, 2]
    front = pc[:, 2] > 0.1
    pc, z_entry = pc[front], z_entry[front]
    if len(pc) == 0:
        return 0.0, 0
    intr = ctx.intrinsics
    u = np.round(intr.fx * pc[:, 0] / pc[:, 2] + intr.cx).astype(int)
    v = np.round(intr.fy * pc[:, 1] / pc[:, 2] + intr.cy).astype(int)
    inside = (u >= 0) & (u < intr.width) & (v >= 0) & (v < intr.height)
    u, v, zc, z_entry = u[inside], v[inside], pc[inside, 2], z_entry[inside]
    d = ctx.depth[v, u]
    ok = np.isfinite(d) & (d > 0)
    if own is not None:
        # Through the object's own pixels the sensor may see past it (glass, gaps between legs): no evidence.
        ok &= ~own[v, u]
    if not ok.any():
        return 0.0, 0
    d, zc, z_entry = d[ok], zc[ok], z_entry[ok]
    free = d > zc + tol
    # A surface at or behind the seen back (not nearer: that is an occluder) and in front of the sample.
    blocked = (d > z_entry - 0.5 * tol) & (d < zc - tol)
    return float((free | blocked).mean()), int(ok.sum())


def _box_extent(obj: Object3D, ctx: CompletionContext, behind: float) -> tuple[float, float]:
    """A lower bound on the object's top (scene "up") from its 2D box's top row, ``behind`` metres being the most
    the object can reach past its near face, and the width across the view its columns span at the near face.

    The top is the smaller of the row's ray read at the near face and past the object: the true edge lies between
    the two (a descending ray meets the far top edge, a rising one the near edge).
    """
    assert obj.box_2d is not None
    x0, y0, x1, _ = obj.box_2d
    intr = ctx.intrinsics
    cam_from_world = np.linalg.inv(ctx.world_from_cam)
    vis = obj.aabb
    corners = np.array([[a, b, c] for a in (vis.min[0], vis.max[0]) for b in (vis.min[1], vis.max[1])
                        for c in (vis.min[2], vis.max[2])])
    zc = (corners @ cam_from_world[:3, :3].T + cam_from_world[:3, 3])[:, 2]
    z_near = float(max(zc.min(), 0.1))
    z_far = z_near + behind
    uc = (x0 + x1) / 2

    ray = np.array([(uc - intr.cx) / intr.fx, (y0 - intr.cy) / intr.fy, 1.0])
    tops = []
    for z in (z_near, z_far):
        p = ctx.world_from_cam[:3, :3] @ (ray * z) + ctx.world_from_cam[:3, 3]
        tops.append(float(p[2]) if ctx.canonical else float(-p[1]))
    return min(tops), float((x1 - x0) * z_near / intr.fx)


def _rect(center: np.ndarray, ax_f: np.ndarray, ax_g: np.ndarray, f: float, g: float) -> np.ndarray:
    """Footprint corners (4, 2) counter-clockwise of a rectangle with half axes f/2 along ax_f, g/2 along ax_g."""
    hf, hg = ax_f * f / 2, ax_g * g / 2
    pts = np.array([center + hf + hg, center - hf + hg, center - hf - hg, center + hf - hg])
    # Counter-clockwise order regardless of the handedness of (ax_f, ax_g).
    area = 0.5 * np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
    return pts if area > 0 else pts[::-1]


def _assign(face: float, depth_seen: float, prior: SizePrior) -> tuple[int, int]:
    """Which prior horizontal axis (0 length, 1 width) is the seen face and which the depth axis."""
    costs = []
    for fa, ga in ((0, 1), (1, 0)):
        pf, pg = prior.size[fa], prior.size[ga]
        c = abs(math.log(max(face, 1e-3) / pf)) + 0.5 * abs(math.log(max(depth_seen, 1e-3) / pg))
        # What was seen cannot be much larger than the whole.
        c += 4.0 * max(0.0, math.log(max(face, 1e-3) / (pf * math.exp(2 * prior.sigma[fa]))))
        c += 4.0 * max(0.0, math.log(max(depth_seen, 1e-3) / (pg * math.exp(2 * prior.sigma[ga]))))
        costs.append(c)
    return (0, 1) if costs[0] <= costs[1] else (1, 0)


def complete_object(obj: Object3D, ctx: CompletionContext, cfg: AmodalConfig | None = None,
                    prior: SizePrior | None = None, mask: np.ndarray | None = None) -> Object3D:
    """The whole object behind ``obj``'s visible box (see the module docstring); ``obj`` itself is unchanged."""
    cfg = cfg or AmodalConfig()
    if not cfg.enabled or obj.extent_seen is not None:  # already whole (completed or placed by its prior)
        return obj
    prior = prior if prior is not None else prior_for(obj.name)
    z = z_for(cfg.level)
    vobb, vaabb = obj.obb, obj.aabb
    cam_pos = ctx.world_from_cam[:3, 3]
    border = _truncated(obj.box_2d, ctx.intrinsics, cfg.border_px)
    trunc = dict(border)
    # A nearer object cutting the silhouette may hide more of it, as the image border does.
    if not ctx.sparse:
        for side, hidden in _occluded(mask, ctx.depth).items():
            trunc[side] = trunc[side] or hidden
    n_pts = obj.points.num_points if obj.points is not None else 0

    hz = (0, 1) if ctx.canonical else (0, 2)  # horizontal axes; camera frame: x right, y down, z forward
    lo = np.asarray(vaabb.min, dtype=float)
    hi = np.asarray(vaabb.max, dtype=float)
    centre = np.asarray(vobb.center, dtype=float)
    rng = float(np.linalg.norm(centre - cam_pos))
    sig_d = _noise(rng, ctx, cfg, obj.box_2d)
    rel = sig_d / max(rng, 1e-6)

    # ---- vertical extent
    if ctx.canonical:
        bottom, top = float(lo[2]), float(hi[2])
    else:
        bottom, top = -float(hi[1]), -float(lo[1])  # "up" = -y
    h_seen = max(top - bottom, 0.0)
    box_face = 0.0
    if obj.box_2d is not None:
        # The 2D box bounds what the detector saw; points may miss parts of it (glass, dark or thin parts).
        # Its rows and columns at the near face's depth bound the object from below.
        behind = max(prior.size[:2]) * math.exp(z * max(prior.sigma[:2])) if prior is not None else (
            max(vobb.size[0], vobb.size[1], vobb.size[2]))
        top_b, box_face = _box_extent(obj, ctx, behind)
        if not trunc["top"]:
            top = max(top, top_b)
    floor_contact = False
    if ctx.canonical and prior is not None and prior.on_floor and top > 0.05:
        if 0.0 < bottom < max(cfg.floor_contact_min, cfg.floor_contact_frac * prior.height):
            floor_contact = True
            bottom = 0.0
        elif bottom <= 0.0:
            floor_contact, bottom = True, 0.0
    height = top - bottom
    # A seen extent is read off many points: depth noise moves its ends by about half a sigma (robust
    # percentiles), mask edges by about a centimetre; only extents along the ray take the full depth noise.
    h_noise = z * (0.5 * sig_d + 0.01) + 0.01 * (top - bottom)
    h_lo, h_hi = height - h_noise, height + h_noise
    if prior is not None and (trunc["top"] or (trunc["bottom"] and not floor_contact) or n_pts < cfg.few_points):
        # Cut by the image border or barely seen: at least the class's typical height.
        p_lo, p_hi = prior.interval(2, cfg.level)
        if n_pts < cfg.few_points:
            height, h_lo, h_hi = max(height, prior.height), max(h_lo, p_lo), max(h_hi, p_hi)
        else:
            height, h_hi = max(height, prior.height), max(h_hi, p_hi)
        if trunc["top"] or n_pts < cfg.few_points:
            top = bottom + height
        else:
            bottom = top - height
    h_lo = max(0.0, min(h_lo, height))
    h_hi = max(h_hi, height)

    # ---- horizontal: seen face vs depth axis
    ax1 = np.array([math.cos(vobb.yaw), math.sin(vobb.yaw)]) if ctx.canonical else np.array([1.0, 0.0])
    ax2 = np.array([-ax1[1], ax1[0]])
    s1, s2 = float(vobb.size[0]), float(vobb.size[1]) if ctx.canonical else float(vobb.size[2])
    c_xy = centre[list(hz)]
    view = c_xy - cam_pos[list(hz)]
    view = view / max(np.linalg.norm(view), 1e-9)
    if n_pts < cfg.few_points and prior is not None:
        # Orientation from so few points is noise: face the camera.
        ax_g = view
        ax_f = np.array([-view[1], view[0]])
        # Face extent from the 2D box width at this range when known.
        face_seen = max(s1, s2)
        if obj.box_2d is not None:
            face_seen = max(face_seen, (obj.box_2d[2] - obj.box_2d[0]) * rng / ctx.intrinsics.fx)
        depth_seen = 0.0
    elif abs(ax1 @ view) >= abs(ax2 @ view):
        ax_g, ax_f, depth_seen, face_seen = ax1, ax2, s1, s2
    else:
        ax_g, ax_f, depth_seen, face_seen = ax2, ax1, s2, s1
    if ax_g @ view < 0:
        ax_g = -ax_g
    # Near edge of the seen box along the depth axis stays; the far side moves.
    near = c_xy - ax_g * depth_seen / 2

    noise_len = z * (sig_d + 0.01)  # along the ray
    noise_face = z * (0.5 * sig_d + 0.01)  # across it
    if prior is not None:
        fa, ga = _assign(face_seen, depth_seen, prior)
        pf_lo, pf_hi = prior.interval(fa, cfg.level)
        pg_lo, pg_hi = prior.interval(ga, cfg.level)
        pf, pg = prior.size[fa], prior.size[ga]
    else:
        pf_lo = pf_hi = pf = face_seen
        pg = depth_seen
        pg_lo = depth_seen
        pg_hi = max(depth_seen * cfg.unknown_extent_factor, depth_seen + 0.3)
    # Face extent: seen unless cut by the border (or barely seen).
    face_cut = trunc["left"] or trunc["right"] or n_pts < cfg.few_points
    face_shift = 0.0
    hidden_f: np.ndarray | None = None  # direction along the face axis where more of it may be hidden
    # Only for sparse depth (LiDAR misses glass and dark paint): with dense depth the mask is the better
    # evidence, and an off-axis deep object's box spans more than its face at the near depth.
    if ctx.sparse and box_face > face_seen * 1.15 and n_pts >= cfg.few_points:
        face_seen = min(box_face, max(face_seen, pf_hi if prior is not None else box_face))
    face = face_seen
    f_lo, f_hi = face_seen * (1 - z * rel) - noise_face, face_seen * (1 + z * rel) + noise_face
    if prior is not None and face_cut:
        if n_pts < cfg.few_points:
            face = pf
            f_lo, f_hi = min(pf_lo, face_seen), max(pf_hi, face_seen)
        else:
            # Cut or hidden at the side: it goes on there (at least a little), maybe by its class's length. Cut by
            # the image border it most likely does (the class's typical size); beside a nearer object it often
            # just ends there (neighbours touch), so the estimate stays at what was seen and the interval widens.
            cut_by_border = border["left"] or border["right"]
            face = max(face_seen + cfg.cut_min_extension, pf) if cut_by_border else face_seen
            f_hi = max(f_hi, pf_hi, pg_hi)
            if trunc["left"] != trunc["right"]:
                # One side cut: the rest is on that side; the seen edge on the other side stays where it was.
                right_xy = ctx.world_from_cam[list(hz), 0] if ctx.canonical else np.array([1.0, 0.0])
                toward = 1.0 if trunc["right"] else -1.0
                side = toward * (1.0 if float(ax_f @ right_xy) >= 0 else -1.0)
                face_shift = side * (face - face_seen) / 2
                hidden_f = side * ax_f
    f_lo = max(0.0, min(f_lo, face))

    # Depth extent: towards the prior, capped by free space, never below what was seen.
    g_target = max(depth_seen, pg)
    g_hi_target = max(depth_seen, pg_hi)
    d_free = g_hi_target
    own = mask
    if ctx.sparse and obj.box_2d is not None and ctx.depth is not None:
        # LiDAR passes through glass and between parts: inside its own box it is no evidence of free space.
        own = box_mask(obj.box_2d, ctx.intrinsics.width, ctx.intrinsics.height)
    if ctx.depth is not None and g_hi_target > depth_seen + 0.02:
        steps = np.linspace(depth_seen, g_hi_target, cfg.free_space_steps)
        tol = cfg.free_space_tol + 3 * sig_d
        for g_prev, g in itertools.pairwise(steps):
            free, n = _free_fraction(near, ax_f, ax_g, face, g_prev, g, bottom, top, ctx, tol, own, depth_seen)
            if n >= 5 and free > cfg.free_space_max_frac:
                d_free = max(depth_seen, float(g_prev))
                break
    depth_ext = min(g_target, d_free)
    seen_lo = depth_seen * (1 - z * rel) - noise_len
    # Free space below the prior's range means this one is atypical: only what was seen bounds it from below.
    g_lo = seen_lo if d_free < pg_lo else max(seen_lo, pg_lo)
    g_hi = max(depth_seen * (1 + z * rel) + noise_len, min(g_hi_target, d_free + noise_len))
    g_lo = max(0.0, min(g_lo, depth_ext))
    g_hi = max(g_hi, depth_ext)

    new_c = near + ax_g * depth_ext / 2 + ax_f * face_shift
    corners = _rect(new_c, ax_f, ax_g, face, depth_ext)

    def hidden_along(axis: np.ndarray) -> int:
        # The depth axis hides its far side; the face axis the one cut side, if only one is.
        if abs(float(axis @ ax_g)) > 0.7:
            return 1 if float(axis @ ax_g) > 0 else -1
        if hidden_f is not None:
            return 1 if float(axis @ hidden_f) > 0 else -1
        return 0

    # ---- assemble in the scene frame
    if ctx.canonical:
        # OrientedBox3D: size[0] along yaw; use the longer horizontal side as length.
        if face >= depth_ext:
            yaw_ax, length, width, l_iv, w_iv = ax_f, face, depth_ext, (f_lo, f_hi), (g_lo, g_hi)
        else:
            yaw_ax, length, width, l_iv, w_iv = ax_g, depth_ext, face, (g_lo, g_hi), (f_lo, f_hi)
        yaw = math.atan2(yaw_ax[1], yaw_ax[0])
        yaw = (yaw + math.pi / 2) % math.pi - math.pi / 2
        u = np.array([math.cos(yaw), math.sin(yaw)])
        hidden = (hidden_along(u), hidden_along(np.array([-u[1], u[0]])))
        cz = (bottom + top) / 2
        obb = OrientedBox3D(center=(float(new_c[0]), float(new_c[1]), cz), size=(length, width, height), yaw=yaw)
        xy_lo, xy_hi = corners.min(axis=0), corners.max(axis=0)
        aabb = Box3D.from_min_max([xy_lo[0], xy_lo[1], bottom], [xy_hi[0], xy_hi[1], top])
        footprint = [(float(a), float(b)) for a, b in corners]
        size_lo = (l_iv[0], w_iv[0], h_lo)
        size_hi = (l_iv[1], w_iv[1], h_hi)
        seen = (min(1.0, (face_seen if yaw_ax is ax_f else depth_seen) / max(length, 1e-9)),
                min(1.0, (depth_seen if yaw_ax is ax_f else face_seen) / max(width, 1e-9)),
                min(1.0, h_seen / max(height, 1e-9)))
        height_above = bottom
    else:
        cy = -(bottom + top) / 2
        obb = OrientedBox3D(center=(float(new_c[0]), cy, float(new_c[1])), size=(face, height, depth_ext), yaw=0.0)
        aabb = Box3D(center=obb.center, size=obb.size)
        footprint = []
        hidden = (hidden_along(np.array([1.0, 0.0])), hidden_along(np.array([0.0, 1.0])))  # camera x, z
        size_lo, size_hi = (f_lo, h_lo, g_lo), (f_hi, h_hi, g_hi)
        seen = (min(1.0, face_seen / max(face, 1e-9)), min(1.0, h_seen / max(height, 1e-9)),
                min(1.0, depth_seen / max(depth_ext, 1e-9)))
        height_above = obj.height_above_floor

    # Centre 1-sigma: depth noise plus half the spread of the inferred extents (the centre moves half as much).
    s_g = math.hypot(sig_d, (g_hi - g_lo) / (4 * z))
    s_f = math.hypot(sig_d * 0.5, (f_hi - f_lo) / (4 * z))
    s_h = math.hypot(sig_d * 0.5, (h_hi - h_lo) / (4 * z))
    sig_xy = np.sqrt((s_g * ax_g) ** 2 + (s_f * ax_f) ** 2)
    if ctx.canonical:
        center_sigma = (float(sig_xy[0]), float(sig_xy[1]), float(s_h))
    else:
        center_sigma = (float(sig_xy[0]), float(s_h), float(sig_xy[1]))
    return obj.model_copy(update={
        "aabb": aabb, "obb": obb, "centroid": obb.center, "footprint": footprint,
        "height_above_floor": height_above,
        "visible_aabb": vaabb, "visible_obb": vobb,
        "extent_seen": tuple(float(s) for s in seen),
        "size_lo": tuple(float(v) for v in size_lo), "size_hi": tuple(float(v) for v in size_hi),
        "center_sigma": center_sigma,
        "prior_class": prior.name if prior is not None else None,
        "hidden_side": hidden,
    })


def _with_sparse_returns(od: ObjectDepth, det: Detection, ctx: CompletionContext, cfg: AmodalConfig) -> ObjectDepth:
    """Too few depth pixels to lift, but a handful may still be on the object (sparse LiDAR): the returns inside
    the box that agree with the metrology estimate (within its interval) fix the near face's depth."""
    if ctx.depth is None or od.prior is None:
        return od
    d = ctx.depth[box_to_slices(det.box_xyxy, ctx.intrinsics.width, ctx.intrinsics.height)]
    d = d[d > 0]
    lo, hi = od.interval(cfg.level)
    ext = od.depth - od.near
    near_lo, near_hi = max(lo - ext, 0.1), hi - ext
    hits = d[(d >= near_lo) & (d <= near_hi)]
    # A few returns in a box are as often an occluder or the background as the object: trust a tight cluster.
    if hits.size < cfg.min_returns:
        return od
    near = float(np.median(hits))
    mad = 1.4826 * float(np.median(np.abs(hits - near)))
    if mad > 0.05 * near:
        return od
    rel = math.sqrt((_noise(near, ctx, cfg, None) / near) ** 2 + (0.5 * ext / max(near + ext, 0.1)) ** 2
                    + (mad / near) ** 2 + 0.03**2)
    # Pool with the metrology estimate; where the two disagree the spread covers both (an occluder's returns).
    w_r, w_m = 1 / rel**2, 1 / od.log_sigma**2
    l_r, l_m = math.log(near + ext), math.log(od.depth)
    m = (w_r * l_r + w_m * l_m) / (w_r + w_m)
    s = math.sqrt(1 / (w_r + w_m) + ((l_r - l_m) / 2) ** 2)
    depth = math.exp(m)
    return ObjectDepth(od.index, od.label, depth, s, max(depth - ext, 0.1), f"{od.cue}+{hits.size} returns", od.prior)


def place_unseen(det: Detection, oid: str, ctx: CompletionContext, cfg: AmodalConfig | None = None,
                 known: ObjectDepth | None = None) -> Object3D | None:
    """An object the depth map did not see (sparse LiDAR, a dark surface, too far): its class's typical size,
    placed by its floor contact and size cue on the scene's floor (single-view metrology with the measured
    camera height and up), or by its size cue alone without a floor. ``known``: a depth already estimated for it
    (the size-prior depth backend's joint estimate). None when the class has no prior."""
    cfg = cfg or AmodalConfig()
    prior = prior_for(det.label)
    if prior is None or not cfg.enabled:
        return None
    intr = ctx.intrinsics
    x0, y0, x1, y1 = det.box_xyxy
    u, v = (x0 + x1) / 2, (y0 + y1) / 2
    ivs = [prior.interval(i, cfg.level) for i in range(3)]
    if not ctx.canonical:
        # No floor: the size cue alone, in the camera frame (x across, y down, z along the view).
        od = known or estimate([det], intr, MetrologyConfig(level=cfg.level)).objects[0]
        if not math.isfinite(od.depth):
            return None
        c = np.array([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, 1.0]) * od.depth
        size = (prior.length, prior.height, prior.width)
        obb = OrientedBox3D(center=tuple(float(x) for x in c), size=size, yaw=0.0)
        s_z = od.depth * od.log_sigma
        return Object3D(
            id=oid, name=det.label, caption=f"the {det.label}", aabb=Box3D(center=obb.center, size=size), obb=obb,
            centroid=obb.center, score=float(det.score), box_2d=det.box_xyxy, extent_seen=(0.0, 0.0, 0.0),
            size_lo=(ivs[0][0], ivs[2][0], ivs[1][0]), size_hi=(ivs[0][1], ivs[2][1], ivs[1][1]),
            center_sigma=(abs(c[0] / c[2]) * s_z + 0.05, abs(c[1] / c[2]) * s_z + 0.05, s_z),
            prior_class=prior.name, attributes={"placed_by": f"size prior ({od.cue}; no floor)"},
        )
    up_cam = ctx.world_from_cam[2, :3]
    cam_h = float(ctx.world_from_cam[2, 3])
    if cam_h <= 0:
        return None
    # A measured floor's small tilt error moves the horizon by f * tan(tilt): large for far objects.
    px = math.hypot(MetrologyConfig.bottom_px_sigma, intr.fy * math.tan(math.radians(cfg.floor_tilt_sigma_deg)))
    od = known or estimate([det], intr, MetrologyConfig(level=cfg.level, bottom_px_sigma=px), up=up_cam,
                           camera_height=cam_h).objects[0]
    if not math.isfinite(od.depth):
        return None
    if known is None:
        od = _with_sparse_returns(od, det, ctx, cfg)
    cam = np.array([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, 1.0]) * od.depth
    p = ctx.world_from_cam[:3, :3] @ cam + ctx.world_from_cam[:3, 3]
    bottom = 0.0 if prior.on_floor else max(0.0, float(p[2]) - prior.height / 2)
    cz = bottom + prior.height / 2
    view = p[:2] - ctx.world_from_cam[:2, 3]
    view = view / max(np.linalg.norm(view), 1e-9)
    face_ax = np.array([-view[1], view[0]])  # long side across the view: the common case in street scenes
    yaw = (math.atan2(face_ax[1], face_ax[0]) + math.pi / 2) % math.pi - math.pi / 2
    obb = OrientedBox3D(center=(float(p[0]), float(p[1]), cz), size=prior.size, yaw=yaw)
    corners = obb.corners_xy()
    lo = np.array([*corners.min(axis=0), bottom])
    hi = np.array([*corners.max(axis=0), bottom + prior.height])
    s_along = od.depth * od.log_sigma
    # Along the ray: the depth's own spread; across it: the box centre is well placed.
    sig_xy = np.sqrt((s_along * view) ** 2 + (0.02 + 0.005 * od.depth) ** 2 * face_ax**2)
    return Object3D(
        id=oid, name=det.label, caption=f"the {det.label}", aabb=Box3D.from_min_max(lo, hi), obb=obb,
        centroid=obb.center, footprint=[(float(a), float(b)) for a, b in corners], height_above_floor=bottom,
        score=float(det.score), box_2d=det.box_xyxy, visible_aabb=None, visible_obb=None,
        extent_seen=(0.0, 0.0, 0.0), size_lo=tuple(i[0] for i in ivs), size_hi=tuple(i[1] for i in ivs),
        center_sigma=(float(sig_xy[0]), float(sig_xy[1]), float(prior.height * prior.sigma[2] / 2)),
        prior_class=prior.name, attributes={"placed_by": f"size prior ({od.cue})"},
    )
