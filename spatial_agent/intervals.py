"""Intervals for the geometric tool's measurements, from each object's evidence (``Object3D`` amodal fields).

Every function returns ``(value, lo, hi)`` in metres (ratios for volumes) at ``types.INTERVAL_LEVEL``:

- gap / closest: the **upper** bound comes from the visible boxes (what the camera saw is really part of the
  objects, so the true clearance cannot exceed the visible one, up to depth noise); the **lower** bound from the
  completed footprints grown to ``size_hi`` (either end of the box may be where the hidden part is) and by the
  centre's uncertainty;
- width / depth / height: ``size_lo``/``size_hi``; elevation: the centre's vertical sigma, and the visible
  bottom as an upper bound;
- distance (centre to centre): the two centre sigmas projected on the line between the centres.

An object with no evidence fields (exact ground truth) contributes no uncertainty: two such objects give a
zero-width interval. The value always lies inside its interval.
"""

from __future__ import annotations

import math

import numpy as np

from spatialvlm_core import geometry
from spatialvlm_core.size_priors import z_for
from spatialvlm_core.types import INTERVAL_LEVEL, Box3D, Object3D, OrientedBox3D

Z = z_for(INTERVAL_LEVEL)  # two-sided normal quantile of the stated level
SURFACE_SIGMA_M = 0.02  # 1-sigma of a seen surface's position (depth noise, mask edges) for evidence objects

Interval = tuple[float, float, float]  # (value, lo, hi)


def _perm(v: tuple[float, float, float] | None, flip_z: bool = False) -> tuple[float, float, float] | None:
    """Camera (x right, y down, z forward) -> gravity-like (x, z, -y) for a vector; sizes/sigmas keep signs."""
    if v is None:
        return None
    return (float(v[0]), float(v[2]), -float(v[1]) if flip_z else float(v[1]))


def to_gravity_frame(o: Object3D) -> Object3D:
    """An object of a scene left in the camera frame (no floor found) seen with the camera's down (+y) as gravity:
    x and z (forward) horizontal, -y up, boxes axis-aligned. Assumes a roughly level camera; without it, the
    camera frame's xy plane would be taken for the floor (image-plane extents as footprints)."""
    def box(b: Box3D | None) -> Box3D | None:
        return None if b is None else Box3D(center=_perm(b.center, True), size=_perm(b.size))

    aabb = box(o.aabb)
    assert aabb is not None
    vis = box(o.visible_aabb)
    return o.model_copy(update={
        "aabb": aabb, "obb": OrientedBox3D(center=aabb.center, size=aabb.size, yaw=0.0),
        "centroid": _perm(o.centroid, True), "footprint": [], "height_above_floor": None,
        "visible_aabb": vis,
        "visible_obb": None if vis is None else OrientedBox3D(center=vis.center, size=vis.size, yaw=0.0),
        "size_lo": _perm(o.size_lo), "size_hi": _perm(o.size_hi), "center_sigma": _perm(o.center_sigma),
        "extent_seen": _perm(o.extent_seen),
    })


def has_evidence(o: Object3D) -> bool:
    """Whether the object carries reconstruction evidence (else it is exact, e.g. simulator ground truth)."""
    return any(v is not None for v in (o.size_lo, o.size_hi, o.center_sigma, o.visible_obb, o.visible_aabb))


def _sigma(o: Object3D) -> np.ndarray:
    return np.asarray(o.center_sigma if o.center_sigma is not None else (0.0, 0.0, 0.0), dtype=float)


def _surface(o: Object3D) -> float:
    """1-sigma of where a seen surface of ``o`` is: at least ``SURFACE_SIGMA_M``; the smaller horizontal centre
    sigma when larger (the completion states it from the depth noise, which a monocular depth makes large)."""
    if not has_evidence(o):
        return 0.0
    return max(SURFACE_SIGMA_M, float(_sigma(o)[:2].min()))


def _size_bounds(o: Object3D) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(o.obb.size, dtype=float)
    lo = np.minimum(np.asarray(o.size_lo, dtype=float), s) if o.size_lo is not None else s
    hi = np.maximum(np.asarray(o.size_hi, dtype=float), s) if o.size_hi is not None else s
    return lo, hi


def _clamp(value: float, lo: float, hi: float) -> Interval:
    return float(value), float(min(lo, value)), float(max(hi, value))


def _axes(yaw: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([math.cos(yaw), math.sin(yaw)]), np.array([-math.sin(yaw), math.cos(yaw)])


def grown_footprint(o: Object3D) -> np.ndarray:
    """Convex polygon (K, 2) that holds the whole object at the stated level: the completed box with each
    horizontal side pushed out to ``size_hi``: only on the side where the unseen part lies when the completion
    knows it (``Object3D.hidden_side``: the far side, the one cut side), else on both sides by the full excess, or to
    ``size_hi`` around the centre plus ``Z`` centre sigmas when that is larger; joined with the visible box."""
    fp = geometry.footprint_of(o)
    if not has_evidence(o):
        return fp
    s = np.asarray(o.obb.size, dtype=float)
    _, hi = _size_bounds(o)
    u, v = _axes(o.obb.yaw)
    sig = _sigma(o)[:2]
    c = np.asarray(o.obb.center[:2], dtype=float)
    # Where the completion knows on which side the unseen part lies (the far side; the one cut side), the seen
    # side stays put and only that side may reach further: grow it by the whole excess. Otherwise either side.
    hidden = o.hidden_side or (0, 0)
    plus, minus = [], []
    for k, ax in enumerate((u, v)):
        sig_k = float(np.sqrt(np.sum((ax * sig) ** 2)))  # centre sigma along this box axis
        excess = hi[k] - s[k]
        sym = max(s[k] / 2 + excess, hi[k] / 2 + Z * sig_k) + Z * _surface(o)
        if hidden[k] != 0:
            far = s[k] / 2 + excess + Z * _surface(o)
            near = s[k] / 2 + Z * _surface(o)
            p_, m_ = (far, near) if hidden[k] > 0 else (near, far)
        else:
            p_ = m_ = sym
        plus.append(p_)
        minus.append(m_)
    rect = np.array([c + (plus[0] if sa > 0 else -minus[0]) * u + (plus[1] if sb > 0 else -minus[1]) * v
                     for sa, sb in ((1, 1), (-1, 1), (-1, -1), (1, -1))])
    pts = [rect, fp]
    if o.visible_obb is not None:
        pts.append(o.visible_obb.corners_xy())
    return geometry.convex_hull_2d(np.concatenate(pts))


def visible_footprint(o: Object3D) -> np.ndarray:
    """What the camera saw of the object on the floor (the completed footprint when nothing else is known)."""
    return o.visible_obb.corners_xy() if o.visible_obb is not None else geometry.footprint_of(o)


def _z_bounds(o: Object3D) -> tuple[tuple[float, float], tuple[float, float]]:
    """(grown, visible) bottom/top: the z range that holds the whole object, and the one seen."""
    z0, z1 = geometry.z_range(o)
    if not has_evidence(o):
        return (z0, z1), (z0, z1)
    _, hi = _size_bounds(o)
    cz = (z0 + z1) / 2
    half = max(hi[2] - (z1 - z0) / 2, hi[2] / 2 + Z * float(_sigma(o)[2])) + Z * _surface(o)
    seen = (float(o.visible_aabb.min[2]), float(o.visible_aabb.max[2])) if o.visible_aabb is not None else (z0, z1)
    return (min(cz - half, seen[0]), max(cz + half, seen[1])), seen


def shrunk_footprint(o: Object3D) -> np.ndarray:
    """The least of the object that must be there: the visible box, or, for an object placed by its class prior
    with nothing seen, its low size (``size_lo``) around the centre."""
    if o.visible_obb is not None or o.size_lo is None:
        return visible_footprint(o)
    lo, _ = _size_bounds(o)
    u, v = _axes(o.obb.yaw)
    c = np.asarray(o.obb.center[:2], dtype=float)
    return np.array([c + sa * lo[0] / 2 * u + sb * lo[1] / 2 * v for sa, sb in ((1, 1), (-1, 1), (-1, -1), (1, -1))])


def _placed_shift(a: Object3D, b: Object3D) -> float:
    """How far apart two objects may really be beyond their estimate when one was placed without being seen:
    ``Z`` centre sigmas (of the placed ones) along the line between them."""
    d = np.asarray(a.obb.center[:2], dtype=float) - np.asarray(b.obb.center[:2], dtype=float)
    u = d / max(float(np.linalg.norm(d)), 1e-9)
    var = sum(float(np.sum((u * _sigma(o)[:2]) ** 2)) for o in (a, b) if o.visible_obb is None and has_evidence(o))
    return Z * math.sqrt(var)


def gap_interval(a: Object3D, b: Object3D) -> Interval:
    """Free-space gap between the floor footprints (``geometry.footprint_gap``) with its interval."""
    value = geometry.footprint_gap(a, b)
    if not (has_evidence(a) or has_evidence(b)):
        return value, value, value
    lo = geometry.polygon_distance(grown_footprint(a), grown_footprint(b))
    noise = Z * math.hypot(_surface(a), _surface(b))
    hi = geometry.polygon_distance(shrunk_footprint(a), shrunk_footprint(b)) + noise + _placed_shift(a, b)
    return _clamp(value, lo, hi)


def closest_interval(a: Object3D, b: Object3D) -> Interval:
    """Minimal distance between the two objects as prisms (``geometry.box_distance``) with its interval."""
    value = geometry.box_distance(a, b)
    if not (has_evidence(a) or has_evidence(b)):
        return value, value, value
    g_lo, _, g_hi = gap_interval(a, b)
    (ga, va), (gb, vb) = _z_bounds(a), _z_bounds(b)
    noise = Z * math.hypot(_surface(a), _surface(b))
    vz_lo = geometry.interval_gap(*ga, *gb)
    vz_hi = geometry.interval_gap(*va, *vb) + noise + _placed_shift(a, b)
    return _clamp(value, math.hypot(g_lo, vz_lo), math.hypot(g_hi, vz_hi))


def center_distance_interval(a: Object3D, b: Object3D) -> Interval:
    """Centre-to-centre distance with the two centre sigmas projected on the line between the centres."""
    d = np.asarray(a.centroid, dtype=float) - np.asarray(b.centroid, dtype=float)
    value = float(np.linalg.norm(d))
    s = np.sqrt(_sigma(a) ** 2 + _sigma(b) ** 2)
    if not s.any():
        return value, value, value
    u = d / value if value > 1e-9 else np.ones(3) / math.sqrt(3)
    sd = float(np.sqrt(np.sum((u * s) ** 2)))
    return _clamp(value, max(0.0, value - Z * sd), value + Z * sd)


def _seen(o: Object3D) -> np.ndarray | None:
    """Extents of the visible box (length, width, height), None when the object carries none."""
    if o.visible_obb is None:
        return None
    return np.asarray(o.visible_obb.size, dtype=float)


def _size_lo_seen(o: Object3D, lo: float, pick: str) -> float:
    """A size's lower bound is no more than what was seen (less noise): past it, only the class prior speaks,
    and a prior that says "taller than seen" is no evidence that the object is (an object cut by the image
    border may be its seen size)."""
    seen = _seen(o)
    if seen is None:
        return lo
    v = {"width": max(seen[0], seen[1]), "depth": min(seen[0], seen[1]), "height": seen[2]}[pick]
    return min(lo, max(0.0, v - Z * _surface(o)))


def width_interval(o: Object3D) -> Interval:
    """Longer horizontal side."""
    lo, hi = _size_bounds(o)
    return _clamp(max(o.obb.size[0], o.obb.size[1]), _size_lo_seen(o, max(lo[0], lo[1]), "width"), max(hi[0], hi[1]))


def depth_interval(o: Object3D) -> Interval:
    """Shorter horizontal side."""
    lo, hi = _size_bounds(o)
    return _clamp(min(o.obb.size[0], o.obb.size[1]), _size_lo_seen(o, min(lo[0], lo[1]), "depth"), min(hi[0], hi[1]))


def height_interval(o: Object3D) -> Interval:
    """Vertical extent (the axis-aligned box's, as the tool measures it)."""
    lo, hi = _size_bounds(o)
    value = float(o.aabb.size[2])
    if not has_evidence(o):
        return value, value, value
    return _clamp(value, _size_lo_seen(o, lo[2], "height"), hi[2])


def elevation_interval(o: Object3D) -> Interval:
    """Bottom above the floor: the seen bottom bounds it from above; below, the centre's vertical sigma."""
    value = float(o.height_above_floor) if o.height_above_floor is not None else float(o.aabb.min[2])
    if not has_evidence(o):
        return value, value, value
    spread = Z * math.hypot(float(_sigma(o)[2]), _surface(o))
    lo = max(0.0, value - spread) if value >= 0 else value - spread
    seen = float(o.visible_aabb.min[2]) if o.visible_aabb is not None else value
    return _clamp(value, lo, max(value + Z * _surface(o), seen + Z * _surface(o)))


def volume_interval(o: Object3D) -> Interval:
    """Volume of the oriented box."""
    lo, hi = _size_bounds(o)
    return _clamp(float(np.prod(o.obb.size)), float(np.prod(lo)), float(np.prod(hi)))


def ratio_interval(a: Interval, b: Interval) -> Interval:
    """a / b for positive quantities (hi is infinite when b may be 0)."""
    value = a[0] / b[0]
    return _clamp(value, a[1] / b[2] if b[2] > 0 else 0.0, a[2] / b[1] if b[1] > 0 else math.inf)


def interval_min(items: list[Interval]) -> Interval:
    """Interval of the smallest of several uncertain quantities (a group's nearest pair)."""
    return min(i[0] for i in items), min(i[1] for i in items), min(i[2] for i in items)


def interval_max(items: list[Interval]) -> Interval:
    """Interval of the largest of several uncertain quantities (a group's widest member)."""
    return max(i[0] for i in items), max(i[1] for i in items), max(i[2] for i in items)


def is_exact(iv: Interval) -> bool:
    return iv[1] == iv[0] == iv[2]

