"""Floor checks (spatialvlm_core.floor): a known up vector wins, implausible floors are refused with a reason,
real frames are either right or non-canonical."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_lifting_scenes import camera_pose, render, room_scene

from spatialvlm_core.floor import FloorEvidence, FloorFit, check_floor, vertical_vanishing_up
from spatialvlm_core.geometry import angle_between_deg
from spatialvlm_core.lifting import LiftConfig, gravity_error_deg, lift
from spatialvlm_core.types import CameraIntrinsics, Detections

SHARED = Path(__file__).resolve().parents[2] / "shared" / "real"


def _empty(sc) -> Detections:
    h, w = sc.depth.shape
    return Detections(image_id="t", width=w, height=h)


def _true_up(sc) -> np.ndarray:
    return sc.pose.matrix()[2, :3]  # world +z in camera coordinates


def _ramp_scene(slope_deg: float = 20.0):
    """No level floor: a ramp rising away from the camera (1.5 m below it at the camera), a back wall and a
    side wall, both truly vertical. RANSAC's lowest near-horizontal plane is the ramp."""
    s = math.radians(slope_deg)
    ramp = (np.array([0.0, -math.sin(s), math.cos(s)]), 0.0)  # through the world origin, under the camera
    back = (np.array([0.0, -1.0, 0.0]), 4.0)  # y = 4
    left = (np.array([1.0, 0.0, 0.0]), 1.8)  # x = -1.8
    right = (np.array([-1.0, 0.0, 0.0]), 1.8)  # x = 1.8
    return render([], camera_pose(1.5, 8.0, 4.0), width=240, height=180, floor=False,
                  walls=[ramp, back, left, right])


def test_known_up_is_used_even_where_the_floor_search_is_wrong() -> None:
    sc = _ramp_scene()
    up = _true_up(sc)
    searched = lift(sc.frame(), _empty(sc))
    # The search alone is either refused or wrong here; with the known up the orientation is exact.
    assert not searched.canonical or gravity_error_deg(searched.camera.matrix(), sc.pose.matrix()) > 5
    frame = sc.frame().model_copy(update={"gravity_up": tuple(up)})
    known = lift(frame, _empty(sc))
    assert known.canonical and known.gravity_confidence == 1.0
    assert gravity_error_deg(known.camera.matrix(), sc.pose.matrix()) < 1e-6
    assert any("up from frame.gravity_up" in n for n in known.notes)


def test_known_up_finds_the_floor_offset_on_a_rotated_scene() -> None:
    # A pitched and rolled room: the given up fixes the axes, the floor offset is the camera height.
    sc = room_scene(pitch_deg=22.0, roll_deg=-17.0, yaw_deg=40.0, n_boxes=4)
    frame = sc.frame().model_copy(update={"gravity_up": tuple(_true_up(sc))})
    scene = lift(frame, sc.detections())
    cam = scene.camera.matrix()
    assert scene.canonical and cam[2, 3] == pytest.approx(1.5, abs=0.02)
    assert gravity_error_deg(cam, sc.pose.matrix()) < 1e-6
    assert any("floor 1.5" in n for n in scene.notes)
    # Sparse depth (1 % of pixels, LiDAR-like) still gives the offset.
    rng = np.random.default_rng(0)
    sparse = np.where(rng.random(sc.depth.shape) < 0.01, sc.depth, 0.0).astype(np.float32)
    sp = lift(frame.model_copy(update={"depth": sparse}), _empty(sc))
    assert sp.canonical and sp.camera.matrix()[2, 3] == pytest.approx(1.5, abs=0.03)


def test_known_up_without_a_visible_floor_stays_canonical_with_an_assumed_height() -> None:
    wall = (np.array([0.0, -1.0, 0.0]), 3.0)  # level camera facing a wall, no floor in view
    sc = render([], camera_pose(1.5, 0.0), width=160, height=120, floor=False, walls=[wall])
    frame = sc.frame().model_copy(update={"gravity_up": tuple(_true_up(sc))})
    scene = lift(frame, _empty(sc))
    assert scene.canonical
    assert any("no floor seen" in n for n in scene.notes)
    assert scene.camera.matrix()[2, 3] >= LiftConfig().floor_prior_height - 1e-9


def test_table_top_just_below_the_camera_is_not_a_floor() -> None:
    # The only horizontal plane is 0.2 m under the lens (a camera lying on a table looking across it).
    top = (np.array([0.0, 0.0, 1.0]), -1.3)  # z = 1.3, camera at 1.5
    back = (np.array([0.0, -1.0, 0.0]), 4.0)
    sc = render([], camera_pose(1.5, 12.0), width=200, height=150, floor=False, walls=[top, back])
    scene = lift(sc.frame(), _empty(sc))
    assert not scene.canonical and scene.gravity_confidence == 0.0
    np.testing.assert_allclose(scene.camera.matrix(), np.eye(4))
    note = next(n for n in scene.notes if "floor rejected" in n)
    assert "camera height 0.20 m" in note


def test_tilted_floor_that_walls_contradict_is_refused() -> None:
    sc = _ramp_scene(20.0)
    scene = lift(sc.frame(), _empty(sc))
    assert not scene.canonical
    note = next(n for n in scene.notes if "floor rejected" in n)
    # The ramp (tilted ~20 deg from the walls' up) is named with the wall check that refused it.
    ramp = [part for part in note.split("|") if "wall plane" in part and "from perpendicular" in part]
    assert ramp, note
    assert any(abs(float(p.split("wall plane(s) ")[1].split(" deg")[0]) - 20.0) < 4.0 for p in ramp), note


def test_objects_under_the_floor_contradict_it() -> None:
    cfg = LiftConfig()
    fit = FloorFit(np.array([0.0, -1.0, 0.0]), 1.5, 0.5, 0.0, 0.0, 1.0)
    # Camera frame: y down, so y = 1.5 is on the floor and y = 2.2 is 0.7 m under it.
    under = [np.column_stack([np.zeros(50), np.linspace(1.0, 2.2, 50), np.full(50, 3.0)]) for _ in range(3)]
    check_floor(fit, FloorEvidence(mask_points=under), cfg)
    assert fit.cues["objects"] == 0.0 and fit.confidence < cfg.min_floor_confidence
    assert any("objects' bottoms under it" in c for c in fit.failed)
    on = [np.column_stack([np.zeros(50), np.linspace(0.8, 1.5, 50), np.full(50, 3.0)]) for _ in range(3)]
    check_floor(fit, FloorEvidence(mask_points=on), cfg)
    assert fit.cues["objects"] == 1.0 and not fit.failed


def test_vertical_vanishing_direction_from_drawn_vertical_lines() -> None:
    # Vertical 3D poles seen from a pitched, rolled camera, drawn as dark lines on a light image.
    pose = camera_pose(1.4, 18.0, -9.0).matrix()
    k = CameraIntrinsics.from_fov(400, 300, 65.0)
    rgb = np.full((300, 400, 3), 235, dtype=np.uint8)
    rng = np.random.default_rng(3)
    cam_from_world = np.linalg.inv(pose)
    for _ in range(60):
        x, y = rng.uniform(-3, 3), rng.uniform(2.5, 8)
        z = np.linspace(0.0, rng.uniform(1.0, 2.5), 600)
        pw = np.column_stack([np.full_like(z, x), np.full_like(z, y), z, np.ones_like(z)])
        pc = (cam_from_world @ pw.T).T[:, :3]
        u = np.round(k.fx * pc[:, 0] / pc[:, 2] + k.cx).astype(int)
        v = np.round(k.fy * pc[:, 1] / pc[:, 2] + k.cy).astype(int)
        for du in (0, 1):
            ok = (u + du >= 0) & (u + du < 400) & (v >= 0) & (v < 300)
            rgb[v[ok], u[ok] + du] = 30
    up, n = vertical_vanishing_up(rgb, k, LiftConfig())
    assert up is not None and n >= 15
    assert angle_between_deg(up, pose[2, :3]) < 1.0


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/real (real RGB-D frames) is not present")
def test_real_frames_with_gravity_are_right_or_non_canonical() -> None:
    from evals.floor import load_real_frame

    seen = 0
    for folder in sorted(p for p in SHARED.iterdir() if (p / "camera.json").exists()):
        got = load_real_frame(folder)
        if got is None or got[1] is None:
            continue
        frame, up = got
        h, w = frame.rgb.shape[:2]
        empty = Detections(image_id=frame.image_id, width=w, height=h)
        scene = lift(frame, empty)
        if scene.canonical:
            assert angle_between_deg(scene.camera.matrix()[2, :3], up) < 5.0, folder.name
        else:
            assert any("floor" in n for n in scene.notes), folder.name
        known = lift(frame.model_copy(update={"gravity_up": tuple(up)}), empty)
        assert known.canonical and angle_between_deg(known.camera.matrix()[2, :3], up) < 1e-6
        assert 0.3 < known.camera.matrix()[2, 3] < 3.0, folder.name  # cars, a tripod: a plausible height
        seen += 1
    if seen == 0:
        pytest.skip("no real frame with a known gravity in ../shared/real")
