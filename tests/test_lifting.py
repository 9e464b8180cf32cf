"""Lifting on analytic scenes with exact depth and masks (see test_lifting_scenes.py)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from test_lifting_scenes import BoxSpec, camera_pose, render, room_scene

from spatialvlm_core.lifting import (
    LiftConfig,
    backproject,
    canonical_from_world,
    clean_object_points,
    gravity_error_deg,
    lift,
    voxel_downsample,
)
from spatialvlm_core.types import CameraIntrinsics, Detection, Detections, Frame, Scene3D


def _gt_points(sc, obj_id: str) -> np.ndarray:
    """Exact visible points of a box, in the ideal canonical frame."""
    inst = int(obj_id.rsplit("-", 1)[1]) + 1
    m = canonical_from_world(sc.pose.matrix())
    pts = sc.world_points(inst)
    return pts @ m[:3, :3].T + m[:3, 3]


def _gt_centroid(sc, obj_id: str) -> np.ndarray:
    return _gt_points(sc, obj_id).mean(axis=0)


@pytest.mark.parametrize(("pitch", "roll", "yaw"), [(25.0, 5.0, 0.0), (35.0, -15.0, 73.0), (10.0, 28.0, -140.0)])
def test_lift_recovers_gravity_and_centroids(pitch: float, roll: float, yaw: float) -> None:
    sc = room_scene(pitch_deg=pitch, roll_deg=roll, yaw_deg=yaw, n_boxes=4)
    scene = lift(sc.frame(), sc.detections())
    assert scene.canonical and scene.gravity_confidence > 0.5
    assert gravity_error_deg(scene.camera.matrix(), sc.pose.matrix()) < 0.2
    # Camera above the floor by its true height, at x = y = 0, forward projected on +y.
    cam = scene.camera.matrix()
    assert cam[:3, 3] == pytest.approx([0.0, 0.0, 1.5], abs=0.01)
    fwd = cam[:3, 2]
    assert abs(fwd[0]) < 1e-3 and fwd[1] > 0
    ideal = canonical_from_world(sc.pose.matrix()) @ sc.pose.matrix()
    np.testing.assert_allclose(cam[:3, :3], ideal[:3, :3], atol=5e-3)
    assert len(scene.objects) >= 3
    errs = []
    for o in scene.objects:
        err = np.linalg.norm(np.asarray(o.points.centroid) - _gt_centroid(sc, o.id))  # visible points
        errs.append(err)
        # Grazing side faces look like flying pixels (sparse depth streaks) and may be cut: small bias only.
        assert err < 0.02, (o.id, err)
        assert o.points is not None and o.points.num_points > 30
        gt_bottom = _gt_points(sc, o.id)[:, 2].min()  # visible bottom (may be occluded)
        assert o.height_above_floor == pytest.approx(gt_bottom, abs=0.03)
        assert len(o.footprint) >= 3
        assert o.box_2d is not None
    assert np.median(errs) < 0.005


def test_obb_recovers_yawed_box_seen_from_above() -> None:
    # Camera high and steep so the top face (the whole footprint) is visible.
    box = BoxSpec((0.0, 2.5), (0.8, 0.4, 0.5), yaw=math.radians(30), color=(30, 70, 200), label="crate")
    sc = render([box], camera_pose(2.4, 38.0), width=320, height=240)
    scene = lift(sc.frame(), sc.detections())
    (o,) = scene.objects
    assert o.obb.size[0] == pytest.approx(0.8, abs=0.02)
    assert o.obb.size[1] == pytest.approx(0.4, abs=0.02)
    assert o.obb.size[2] == pytest.approx(0.5, abs=0.02)
    yaw_err = (o.obb.yaw - math.radians(30) + math.pi / 2) % math.pi - math.pi / 2
    assert abs(yaw_err) < math.radians(2)
    assert o.obb.center[:2] == pytest.approx((0.0, 2.5), abs=0.02)
    assert o.aabb.max[2] == pytest.approx(0.5, abs=0.01)
    assert o.attributes.get("color") == "blue"


def test_floor_preferred_over_large_table_top() -> None:
    # A big low table fills much of the view; the floor around it must still win (lowest credible plane).
    table = BoxSpec((0.0, 2.2), (2.4, 1.6, 0.7), color=(120, 75, 35), label="table")
    cup = BoxSpec((0.2, 2.0), (0.1, 0.1, 0.12), z0=0.7, color=(200, 30, 30), label="cup")
    sc = render([table, cup], camera_pose(1.6, 40.0, 3.0), width=320, height=240)
    scene = lift(sc.frame(), sc.detections())
    assert scene.canonical
    assert scene.camera.matrix()[2, 3] == pytest.approx(1.6, abs=0.01)
    cup3d = scene.get("cup-1")
    assert cup3d.height_above_floor == pytest.approx(0.7, abs=0.02)


def test_no_floor_falls_back_to_camera_frame() -> None:
    # Level camera facing a wall with no floor in view: the only plane is vertical and must be rejected.
    wall = (np.array([0.0, -1.0, 0.0]), 3.0)  # plane y = 3
    box = BoxSpec((0.0, 2.5), (0.5, 0.3, 0.6), z0=1.2, label="frame")
    sc = render([box], camera_pose(1.5, 0.0), width=160, height=120, floor=False, walls=[wall])
    scene = lift(sc.frame(), sc.detections())
    assert not scene.canonical
    assert scene.gravity_confidence == 0.0
    np.testing.assert_allclose(scene.camera.matrix(), np.eye(4))
    assert any("no credible floor" in n for n in scene.notes)
    (o,) = scene.objects
    assert o.footprint == [] and o.height_above_floor is None
    assert o.centroid[2] == pytest.approx(2.35, abs=0.05)  # camera-frame z = distance to the box front


def test_steep_camera_tilt_beyond_prior_is_not_accepted_as_floor() -> None:
    sc = render([], camera_pose(1.5, 75.0), width=120, height=90)
    frame = sc.frame()
    scene = lift(frame, Detections(image_id="analytic", width=120, height=90))
    assert not scene.canonical
    ok = lift(frame, Detections(image_id="analytic", width=120, height=90), config=LiftConfig(max_tilt_deg=85))
    assert ok.canonical


def test_flying_pixels_and_mask_bleed_are_removed() -> None:
    sc = room_scene(pitch_deg=25.0, n_boxes=2)
    depth = sc.depth.copy()
    det = sc.detections()
    m = det.items[0].mask.copy()
    rng = np.random.default_rng(0)
    vs, us = np.nonzero(m)
    pick = rng.choice(len(vs), size=len(vs) // 50, replace=False)
    depth[vs[pick], us[pick]] += rng.uniform(0.5, 3.0, size=len(pick)).astype(np.float32)  # flying pixels
    # Mask bleed: a strip of floor pixels below the object joins the mask.
    v1 = vs.max()
    m[v1 + 1 : v1 + 4, us.min() : us.max()] = True
    det.items[0].mask = m
    frame = Frame(image_id="x", rgb=sc.rgb, depth=depth, intrinsics=sc.intrinsics)
    scene = lift(frame, det)
    o = scene.get(det.items[0].gt_id)
    err = np.linalg.norm(np.asarray(o.points.centroid) - _gt_centroid(sc, o.id))  # visible points
    assert err < 0.03
    assert o.aabb.max[1] - o.aabb.min[1] < 1.0  # flying pixels did not stretch the box in depth


def test_bad_inputs_raise_clear_errors() -> None:
    sc = room_scene(n_boxes=1, width=80, height=60)
    det = sc.detections()
    no_depth = Frame(image_id="nd", rgb=sc.rgb, intrinsics=sc.intrinsics)
    with pytest.raises(ValueError, match="has no depth"):
        lift(no_depth, det)
    with pytest.raises(ValueError, match="does not match"):
        lift(no_depth, det, depth=np.ones((10, 10), np.float32))
    with pytest.raises(ValueError, match="no valid pixels"):
        lift(no_depth, det, depth=np.full((60, 80), np.nan, np.float32))
    with pytest.raises(ValueError, match="no mask"):
        bad = Detections(image_id="x", width=80, height=60, items=[Detection(label="a", score=0.5, box_xyxy=(0, 0, 5, 5))])
        lift(sc.frame(), bad)
    with pytest.raises(ValueError, match="detections are for"):
        lift(sc.frame(), Detections(image_id="x", width=40, height=30))
    with pytest.raises(ValueError, match="intrinsics are for"):
        lift(sc.frame(), det, intrinsics=CameraIntrinsics.from_fov(100, 50))


def test_degenerate_masks_are_dropped_with_reasons_and_nan_depth_tolerated() -> None:
    sc = room_scene(n_boxes=2)
    det = sc.detections()
    h, w = sc.depth.shape
    empty = np.zeros((h, w), bool)
    few = np.zeros((h, w), bool)
    few[5, 5:9] = True
    det.items += [Detection(label="ghost", score=0.3, box_xyxy=(0, 0, 1, 1), mask=empty),
                  Detection(label="speck", score=0.3, box_xyxy=(5, 5, 9, 6), mask=few)]
    depth = sc.depth.copy()
    depth[::7, ::5] = np.nan  # sparse holes
    depth[: h // 3, : w // 3] = 0
    frame = Frame(image_id="holes", rgb=sc.rgb, depth=depth, intrinsics=sc.intrinsics)
    scene = lift(frame, det)
    reasons = {d.id: d.reason for d in scene.dropped}
    assert reasons["ghost-2"] == "empty mask"
    assert "valid depth pixels" in reasons["speck-3"]
    assert {o.id for o in scene.objects} == {d.gt_id for d in det.items[:2]}
    assert scene.canonical


def test_empty_detections_and_intrinsics_prior_are_noted() -> None:
    sc = room_scene(n_boxes=1, width=160, height=120)
    scene = lift(sc.frame(with_intrinsics=False), Detections(image_id="a", width=160, height=120))
    assert scene.objects == []
    assert "no detections" in scene.notes
    assert any("field of view" in n for n in scene.notes)
    assert scene.intrinsics is not None and scene.intrinsics.hfov_deg == pytest.approx(60.0)
    # The scene survives a JSON round trip.
    assert Scene3D.model_validate_json(scene.model_dump_json()).notes == scene.notes


def test_backproject_and_voxel_helpers() -> None:
    k = CameraIntrinsics(fx=100, fy=100, cx=2, cy=1, width=4, height=3)
    depth = np.full((3, 4), 2.0, np.float32)
    depth[0, 0] = 0
    pts = backproject(depth, k)
    assert pts.shape == (11, 3)
    np.testing.assert_allclose(pts[0], [(1 - 2) / 100 * 2, (0 - 1) / 100 * 2, 2.0])
    corner = backproject(depth, k, pixel_center=0.5)  # corner-origin convention shifts rays by half a pixel
    np.testing.assert_allclose(corner[0], [(1.5 - 2) / 100 * 2, (0.5 - 1) / 100 * 2, 2.0])
    cloud = np.array([[0.001, 0, 0], [0.004, 0, 0], [0.5, 0.5, 0.5]])
    centres, inv = voxel_downsample(cloud, 0.01)
    assert len(centres) == 2 and inv[0] == inv[1] != inv[2]
    np.testing.assert_allclose(centres[inv[0]], [0.0025, 0, 0])


def test_clean_object_points_keeps_main_cluster() -> None:
    rng = np.random.default_rng(1)
    main = rng.uniform(0, 0.5, size=(4000, 3)) * [1, 1, 0.02]
    far = rng.uniform(0, 0.05, size=(40, 3)) + np.array([3.0, 0, 0])  # small detached blob (background bleed)
    keep, _ = clean_object_points(np.vstack([main, far]), LiftConfig())
    assert keep[:4000].mean() > 0.99 and not keep[4000:].any()


def test_lifting_imports_without_torch() -> None:
    code = ("import sys; import spatialvlm_core.lifting, spatialvlm_core.naming, spatialvlm_core.geometry; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mask_bleed_onto_the_floor_is_cut_by_the_floor_plane() -> None:
    # A box-shaped mask (what a box + depth segmenter may give) includes floor pixels around the base.
    sc = room_scene(pitch_deg=30.0, n_boxes=2)
    det = sc.detections()
    items = []
    for d in det.items:
        x0, y0, x1, y1 = (int(v) for v in d.box_xyxy)
        m = np.zeros_like(d.mask)
        m[y0:y1 + 6, x0 - 4:x1 + 4] = True
        m &= (sc.instances == 0) | d.mask  # bleed onto the floor only, not onto the other box
        items.append(d.model_copy(update={"mask": m}))
    bled = det.model_copy(update={"items": items})
    on = lift(sc.frame(), bled)
    off = lift(sc.frame(), bled, config=LiftConfig(drop_floor_bleed=False))
    for d in det.items:
        gt = _gt_centroid(sc, d.gt_id)
        err_on = np.linalg.norm(np.asarray(on.get(d.gt_id).points.centroid) - gt)
        err_off = np.linalg.norm(np.asarray(off.get(d.gt_id).points.centroid) - gt)
        assert err_on < 0.015 and err_on < err_off, (d.gt_id, err_on, err_off)
        assert on.get(d.gt_id).height_above_floor == pytest.approx(0.0, abs=0.03)  # the base itself stays


def test_plane_with_points_below_is_not_a_floor() -> None:
    # A big table fills 80 % of the view; the floor shows around it. When the floor is too small to count
    # as a plane (min_plane_frac raised), the table top must still be refused: points lie under it.
    table = BoxSpec((0.0, 2.0), (3.0, 2.4, 0.7), color=(120, 75, 35), label="table")
    sc = render([table], camera_pose(1.6, 35.0), width=160, height=120)
    empty = Detections(image_id="t", width=160, height=120)
    refused = lift(sc.frame(), empty, config=LiftConfig(min_plane_frac=0.3))
    assert not refused.canonical
    assert any("points under it" in n for n in refused.notes)
    found = lift(sc.frame(), empty)  # default support: the floor (lowest plane) wins over the table top
    assert found.canonical and found.camera.matrix()[2, 3] == pytest.approx(1.6, abs=0.01)
