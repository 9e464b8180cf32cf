"""Geometry helpers: exact answers on hand-built boxes and polygons."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spatialvlm_core.geometry import (
    aabb_distance,
    angle_between_deg,
    box_distance,
    center_distance,
    convex_hull_2d,
    extreme_points_2d,
    footprint_gap,
    horizontal_distance,
    hull_of,
    interval_gap,
    min_area_rect,
    obb_aabb,
    point_aabb_distance,
    point_in_polygon,
    point_obb_distance,
    polygon_area,
    polygon_distance,
    rot_z,
    rotation_between,
    vertical_distance,
    vertical_gap,
)
from spatialvlm_core.types import Box3D, Object3D, OrientedBox3D


def _obj(oid: str, center: tuple[float, float, float], size: tuple[float, float, float], yaw: float = 0.0,
         footprint: bool = False) -> Object3D:
    obb = OrientedBox3D(center=center, size=size, yaw=yaw)
    fp = [tuple(p) for p in obb.corners_xy()] if footprint else []
    return Object3D(id=oid, name="box", caption=f"the {oid}", aabb=obb_aabb(obb), obb=obb, centroid=center,
                    footprint=fp)


def _square(x0: float, y0: float, s: float) -> np.ndarray:
    return np.array([[x0, y0], [x0 + s, y0], [x0 + s, y0 + s], [x0, y0 + s]])


def test_polygon_distance_cases() -> None:
    a = _square(0, 0, 1)
    assert polygon_distance(a, _square(3, 0, 1)) == pytest.approx(2.0)
    assert polygon_distance(a, _square(2, 2, 1)) == pytest.approx(math.sqrt(2))  # corner to corner
    assert polygon_distance(a, _square(0.5, 0.5, 1)) == 0.0  # overlap
    assert polygon_distance(a, _square(0.25, 0.25, 0.5)) == 0.0  # containment
    assert polygon_distance(_square(0.25, 0.25, 0.5), a) == 0.0
    assert polygon_distance(a, _square(1, 0, 1)) == pytest.approx(0.0)  # shared edge
    # Rotated diamond whose vertex points at a square's edge.
    diamond = np.array([[3, 0.5], [2.5, 1.0], [2, 0.5], [2.5, 0.0]])
    assert polygon_distance(a, diamond) == pytest.approx(1.0)
    assert polygon_distance(np.array([[5.0, 0.5]]), a) == pytest.approx(4.0)  # a point
    with pytest.raises(ValueError):
        polygon_distance(np.zeros((0, 2)), a)


def test_footprint_gap_and_box_distance_for_prisms() -> None:
    a = _obj("a", (0, 0, 0.5), (1, 1, 1))
    b = _obj("b", (3, 0, 0.5), (1, 1, 1))
    assert footprint_gap(a, b) == pytest.approx(2.0)
    assert box_distance(a, b) == pytest.approx(2.0)
    # Stacked above with a horizontal offset: distance splits into horizontal and vertical gaps.
    c = _obj("c", (3, 0, 2.5), (1, 1, 1))
    assert vertical_gap(a, c) == pytest.approx(1.0)
    assert box_distance(a, c) == pytest.approx(math.hypot(2.0, 1.0))
    # Stored footprints take precedence and give the same answer for boxes.
    a2, b2 = _obj("a2", (0, 0, 0.5), (1, 1, 1), footprint=True), _obj("b2", (3, 0, 0.5), (1, 1, 1), footprint=True)
    assert footprint_gap(a2, b2) == pytest.approx(2.0)
    # A 45-degree box: its corner reaches sqrt(2)/2 from its centre.
    d = _obj("d", (3, 0, 0.5), (1, 1, 1), yaw=math.pi / 4)
    assert footprint_gap(a, d) == pytest.approx(3 - 0.5 - math.sqrt(2) / 2)
    assert footprint_gap(a, _obj("e", (0.8, 0, 0.5), (1, 1, 1))) == 0.0


def test_center_horizontal_vertical_distances() -> None:
    a = _obj("a", (0, 0, 1.0), (1, 1, 2))
    b = _obj("b", (3, 4, 0.25), (1, 1, 0.5))
    assert center_distance(a, b) == pytest.approx(math.sqrt(9 + 16 + 0.75**2))
    assert horizontal_distance(a, b) == pytest.approx(5.0)
    assert vertical_distance(a, b) == pytest.approx(0.75)
    assert vertical_distance(b, a) == pytest.approx(-0.75)
    assert vertical_gap(a, b) == 0.0
    assert interval_gap(0, 1, 3, 4) == 2.0 and interval_gap(3, 4, 0, 1) == 2.0 and interval_gap(0, 2, 1, 3) == 0


def test_point_box_distances() -> None:
    box = Box3D(center=(0, 0, 0), size=(2, 2, 2))
    pts = np.array([[0, 0, 0], [2, 0, 0], [2, 2, 0], [0, 0, -3]])
    np.testing.assert_allclose(point_aabb_distance(pts, box), [0, 1, math.sqrt(2), 2])
    obb = OrientedBox3D(center=(1, 1, 0), size=(2, 0.2, 1), yaw=math.pi / 2)  # long side along +y
    np.testing.assert_allclose(point_obb_distance(np.array([[1, 1.9, 0], [1, 3, 0], [2, 1, 0]]), obb),
                               [0, 1, 0.9], atol=1e-9)
    assert aabb_distance(box, Box3D(center=(4, 0, 0), size=(2, 2, 2))) == pytest.approx(2.0)
    assert aabb_distance(box, Box3D(center=(3, 3, 0), size=(2, 2, 2))) == pytest.approx(math.sqrt(2))
    assert aabb_distance(box, Box3D(center=(0.5, 0, 0), size=(1, 1, 1))) == 0.0


def test_min_area_rect_recovers_rotated_rectangle() -> None:
    rng = np.random.default_rng(0)
    local = rng.uniform([-0.6, -0.2], [0.6, 0.2], size=(500, 2))
    local = np.vstack([local, [[-0.6, -0.2], [0.6, -0.2], [0.6, 0.2], [-0.6, 0.2]]])
    yaw = 0.7
    pts = local @ rot_z(yaw)[:2, :2].T + [2.0, -1.0]
    (cx, cy), (length, width), got_yaw = min_area_rect(pts)
    assert (cx, cy) == pytest.approx((2.0, -1.0), abs=1e-9)
    assert (length, width) == pytest.approx((1.2, 0.4), abs=1e-9)
    assert got_yaw == pytest.approx(yaw, abs=1e-9)
    # Extreme-point pre-filter keeps the exact hull of a rectangle.
    assert polygon_area(hull_of(extreme_points_2d(pts))) == pytest.approx(1.2 * 0.4, abs=1e-9)
    # Degenerate inputs.
    assert min_area_rect(np.array([[1.0, 1.0]])) == ((1.0, 1.0), (0.0, 0.0), 0.0)
    (_, (ln, wd), _) = min_area_rect(np.array([[0, 0], [1, 1], [2, 2.0]]))
    assert ln == pytest.approx(math.sqrt(8)) and wd == pytest.approx(0.0)


def test_hull_and_polygon_basics() -> None:
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5], [0.2, 0.8]])
    hull = convex_hull_2d(pts)
    assert len(hull) == 4 and polygon_area(hull) == pytest.approx(1.0)
    assert point_in_polygon((0.5, 0.5), hull) and not point_in_polygon((1.5, 0.5), hull)
    assert len(convex_hull_2d(np.array([[0, 0], [1, 1], [2, 2]]))) == 2
    with pytest.raises(ValueError):
        convex_hull_2d(np.zeros((0, 2)))


def test_rotations() -> None:
    for a, b in [([0, 0, 1], [0, 1, 0]), ([1, 2, 3], [-1, 0.5, 2]), ([0, 0, 1], [0, 0, -1]), ([1, 0, 0], [1, 0, 0])]:
        r = rotation_between(np.array(a, float), np.array(b, float))
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(r) == pytest.approx(1.0)
        np.testing.assert_allclose(r @ (np.array(a) / np.linalg.norm(a)), np.array(b) / np.linalg.norm(b), atol=1e-9)
    assert angle_between_deg(np.array([1, 0, 0]), np.array([0, 1, 0])) == pytest.approx(90)
    np.testing.assert_allclose(rot_z(math.pi / 2) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    with pytest.raises(ValueError):
        rotation_between(np.zeros(3), np.ones(3))


def test_polygon_closest_points_agree_with_distance() -> None:
    from spatialvlm_core.geometry import polygon_closest_points

    sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    other = sq + np.array([3.0, 0.5])
    pa, pb, d = polygon_closest_points(sq, other)
    assert d == pytest.approx(2.0)
    assert pa[0] == pytest.approx(1.0) and pb[0] == pytest.approx(3.0)
    assert np.linalg.norm(pa - pb) == pytest.approx(d)
    pa, pb, d = polygon_closest_points(other, sq)  # symmetric, points swap sides
    assert d == pytest.approx(2.0) and pa[0] == pytest.approx(3.0) and pb[0] == pytest.approx(1.0)
    assert polygon_closest_points(sq, sq + 0.5)[2] == 0.0
