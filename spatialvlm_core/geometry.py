"""Pure-numpy geometry shared by lifting, the question generator and the agent.

Everything here works in the canonical scene frame (+z up, floor z = 0) unless a docstring says
otherwise. Objects are treated as vertical prisms: a footprint polygon on the floor times a z interval
(the oriented box's footprint when no footprint polygon is stored). For two prisms the exact minimal
distance splits into a horizontal part (polygon gap) and a vertical part (interval gap):
``d = sqrt(gap_xy**2 + gap_z**2)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from spatialvlm_core.types import Box3D, Object3D, OrientedBox3D

# --------------------------------------------------------------------------- rotations


def rot_z(yaw: float) -> np.ndarray:
    """3x3 rotation about +z by ``yaw`` radians (counter-clockwise seen from above)."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation R with ``R @ a_hat == b_hat`` (Rodrigues); handles parallel/antiparallel vectors."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("rotation_between needs non-zero vectors")
    a, b = a / na, b / nb
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -1 + 1e-12:
        # 180 degrees: rotate about any axis perpendicular to a.
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def angle_between_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two vectors in degrees (0..180)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    c = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


# --------------------------------------------------------------------------- 2D polygons


def convex_hull_2d(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise, no repeated first vertex) by Andrew's monotone chain.

    Works for degenerate inputs too (1 point -> 1 vertex, collinear -> the 2 end points), where
    scipy's Qhull would raise.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("convex_hull_2d needs at least one point")
    pts = np.unique(pts, axis=0)  # sorted by x then y
    if len(pts) <= 2:
        return pts

    def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    lower: list[np.ndarray] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[np.ndarray] = []
    for p in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def hull_of(points: np.ndarray) -> np.ndarray:
    """Convex hull, fast path through scipy for large well-spread inputs."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if len(pts) > 64:
        try:
            from scipy.spatial import ConvexHull

            h = ConvexHull(pts)
            return pts[h.vertices]  # counter-clockwise for 2D
        except Exception:  # noqa: S110 - degenerate (collinear) input: the monotone chain below copes
            pass
    return convex_hull_2d(pts)


def extreme_points_2d(points: np.ndarray, directions: int = 32) -> np.ndarray:
    """Points extreme along ``directions`` evenly spaced directions: a cheap superset-free hull pre-filter.

    Every hull vertex whose exterior angle exceeds 360/directions degrees is among them, so the hull of the
    result equals the true hull for box-like footprints; rounder shapes lose at most R(1 - cos(pi/directions)).
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if len(pts) <= 2 * directions:
        return pts
    ang = np.linspace(0.0, 2 * math.pi, directions, endpoint=False)
    proj = pts @ np.stack([np.cos(ang), np.sin(ang)])
    return pts[np.unique(proj.argmax(axis=0))]


def polygon_area(poly: np.ndarray) -> float:
    """Unsigned area of a simple polygon (shoelace)."""
    p = np.asarray(poly, dtype=float).reshape(-1, 2)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def min_area_rect(points: np.ndarray, is_hull: bool = False) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Minimum-area enclosing rectangle of 2D points by rotating calipers over the hull edges.

    Returns ``(center_xy, (length, width), yaw)`` with ``length >= width``, ``yaw`` the direction of the
    length side in [-pi/2, pi/2). Matches ``OrientedBox3D`` (size[0] along yaw). ``is_hull``: the points
    already are a convex hull in order (skips recomputing it).
    """
    hull = np.asarray(points, dtype=float).reshape(-1, 2) if is_hull else hull_of(points)
    if len(hull) == 1:
        return (float(hull[0, 0]), float(hull[0, 1])), (0.0, 0.0), 0.0
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), math.pi / 2))
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for a in angles:
        c, s = math.cos(a), math.sin(a)
        # Project onto the edge direction and its normal.
        u = hull @ np.array([c, s])
        v = hull @ np.array([-s, c])
        area = (u.max() - u.min()) * (v.max() - v.min())
        if best is None or area < best[0] - 1e-15:
            best = (area, a, np.array([u.min(), u.max()]), np.array([v.min(), v.max()]))
    assert best is not None
    _, a, ur, vr = best
    c, s = math.cos(a), math.sin(a)
    uc, vc = ur.mean(), vr.mean()
    center = (float(uc * c - vc * s), float(uc * s + vc * c))
    lu, lv = float(ur[1] - ur[0]), float(vr[1] - vr[0])
    yaw = float(a)
    if lv > lu:  # keep size[0] the longer side
        lu, lv = lv, lu
        yaw += math.pi / 2
    yaw = (yaw + math.pi / 2) % math.pi - math.pi / 2
    return center, (lu, lv), yaw


def point_in_polygon(pt: Sequence[float], poly: np.ndarray) -> bool:
    """Even-odd rule; points on the boundary may go either way (callers also test edge distances)."""
    p = np.asarray(poly, dtype=float).reshape(-1, 2)
    x, y = float(pt[0]), float(pt[1])
    inside = False
    n = len(p)
    for i in range(n):
        x0, y0 = p[i]
        x1, y1 = p[(i + 1) % n]
        if (y0 > y) != (y1 > y):
            xi = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            if x < xi:
                inside = not inside
    return inside


def _closest_on_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Closest points on segment ab to each of the points p (N, 2)."""
    ab = b - a
    denom = float(np.dot(ab, ab))
    if denom == 0:
        return np.broadcast_to(a, p.shape).copy()
    t = np.clip(((p - a) @ ab) / denom, 0.0, 1.0)
    return a + t[:, None] * ab


def _point_segment_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances from points p (N, 2) to segment ab."""
    return np.linalg.norm(p - _closest_on_segment(p, a, b), axis=-1)


def _segments_intersect(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> bool:
    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    d1, d2 = orient(b0, b1, a0), orient(b0, b1, a1)
    d3, d4 = orient(a0, a1, b0), orient(a0, a1, b1)
    return ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 * d2 < 0 and d3 * d4 < 0


def _edges(p: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(p[i], p[(i + 1) % len(p)]) for i in range(len(p))] if len(p) > 1 else [(p[0], p[0])]


def polygon_closest_points(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Closest pair of points between two simple polygons (or polylines/points) and their distance.

    When the polygons touch or overlap the distance is 0 and both points are one shared point.
    """
    p = np.asarray(p, dtype=float).reshape(-1, 2)
    q = np.asarray(q, dtype=float).reshape(-1, 2)
    if len(p) == 0 or len(q) == 0:
        raise ValueError("polygon_distance needs non-empty polygons")
    # Containment (one inside the other) means overlap.
    if len(q) >= 3 and point_in_polygon(p[0], q):
        return p[0], p[0], 0.0
    if len(p) >= 3 and point_in_polygon(q[0], p):
        return q[0], q[0], 0.0
    pe, qe = _edges(p), _edges(q)
    for a0, a1 in pe:
        for b0, b1 in qe:
            if _segments_intersect(a0, a1, b0, b1):
                return a0, a0, 0.0
    # Disjoint: the minimum is attained at a vertex of one polygon against an edge of the other.
    best: tuple[np.ndarray, np.ndarray, float] = (p[0], q[0], math.inf)
    for verts, edges, swap in ((p, qe, False), (q, pe, True)):
        for a0, a1 in edges:
            on_edge = _closest_on_segment(verts, a0, a1)
            d = np.linalg.norm(verts - on_edge, axis=-1)
            i = int(d.argmin())
            if d[i] < best[2]:
                best = (on_edge[i], verts[i], float(d[i])) if swap else (verts[i], on_edge[i], float(d[i]))
    return best


def polygon_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Minimal distance between two simple polygons (or polylines/points); 0 when they touch or overlap."""
    return polygon_closest_points(p, q)[2]


# --------------------------------------------------------------------------- intervals and boxes


def interval_gap(lo_a: float, hi_a: float, lo_b: float, hi_b: float) -> float:
    """Gap between [lo_a, hi_a] and [lo_b, hi_b]; 0 when they overlap."""
    return float(max(0.0, lo_b - hi_a, lo_a - hi_b))


def aabb_distance(a: Box3D, b: Box3D) -> float:
    """Minimal Euclidean distance between two axis-aligned boxes (0 when they intersect)."""
    gaps = np.maximum(0.0, np.maximum(b.min - a.max, a.min - b.max))
    return float(np.linalg.norm(gaps))


def point_aabb_distance(points: np.ndarray, box: Box3D) -> np.ndarray:
    """Distance from each point (N, 3) to the box (0 inside)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    d = np.maximum(0.0, np.maximum(box.min - pts, pts - box.max))
    return np.linalg.norm(d, axis=1)


def point_obb_distance(points: np.ndarray, box: OrientedBox3D) -> np.ndarray:
    """Distance from each point (N, 3) to a yaw-oriented box (0 inside)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    local = (pts - np.asarray(box.center)) @ rot_z(box.yaw)  # rotate by -yaw into the box frame
    half = np.asarray(box.size) / 2
    d = np.maximum(0.0, np.abs(local) - half)
    return np.linalg.norm(d, axis=1)


def obb_aabb(box: OrientedBox3D) -> Box3D:
    """Axis-aligned box enclosing an oriented box."""
    xy = box.corners_xy()
    zc, hz = box.center[2], box.size[2] / 2
    return Box3D.from_min_max([*xy.min(axis=0), zc - hz], [*xy.max(axis=0), zc + hz])


# --------------------------------------------------------------------------- objects


def footprint_of(obj: Object3D) -> np.ndarray:
    """The object's floor footprint (K, 2): the stored polygon, else its oriented box's footprint."""
    if len(obj.footprint) >= 1:
        return np.asarray(obj.footprint, dtype=float)
    return obj.obb.corners_xy()


def z_range(obj: Object3D) -> tuple[float, float]:
    """Bottom and top of the object along +z (from its axis-aligned box)."""
    lo, hi = obj.aabb.min, obj.aabb.max
    return float(lo[2]), float(hi[2])


def footprint_gap(a: Object3D, b: Object3D) -> float:
    """Minimal horizontal distance between the two footprint polygons (0 if they overlap).

    This is the free-space clearance between objects ("can a 1 m wide robot pass between them?").
    """
    return polygon_distance(footprint_of(a), footprint_of(b))


def footprint_closest_points(a: Object3D, b: Object3D) -> tuple[np.ndarray, np.ndarray, float]:
    """Where the footprint gap is measured: the closest points on a's and b's footprints, and the gap."""
    return polygon_closest_points(footprint_of(a), footprint_of(b))


def center_distance(a: Object3D, b: Object3D) -> float:
    """Euclidean distance between object centroids."""
    return float(np.linalg.norm(np.asarray(a.centroid) - np.asarray(b.centroid)))


def horizontal_distance(a: Object3D, b: Object3D) -> float:
    """Distance between centroids projected on the floor plane."""
    d = np.asarray(a.centroid[:2]) - np.asarray(b.centroid[:2])
    return float(np.linalg.norm(d))


def vertical_distance(a: Object3D, b: Object3D) -> float:
    """Signed height of a's centroid above b's centroid (positive: a is higher)."""
    return float(a.centroid[2] - b.centroid[2])


def vertical_gap(a: Object3D, b: Object3D) -> float:
    """Gap between the two objects' z intervals (0 when they overlap in height)."""
    return interval_gap(*z_range(a), *z_range(b))


def box_distance(a: Object3D, b: Object3D) -> float:
    """Minimal distance between the two objects as vertical prisms (footprint x z range); 0 when touching."""
    return float(math.hypot(footprint_gap(a, b), vertical_gap(a, b)))


def point_object_distance(points: np.ndarray, obj: Object3D) -> np.ndarray:
    """Distance from points (N, 3) to an object's oriented box (0 inside)."""
    return point_obb_distance(points, obj.obb)
