"""Synthetic world: exact ground truth, conventions, determinism, errors and persistence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from spatialvlm_core.geometry import point_obb_distance
from spatialvlm_core.sim import (
    CATEGORIES,
    CameraSpec,
    Layout,
    PlacedObject,
    Room,
    SimConfig,
    build_mjcf,
    generate_scene,
    get_category,
    get_renderer,
    load_scene,
    render_scene,
    save_scene,
)
from spatialvlm_core.sim import io as sim_io
from spatialvlm_core.sim.layout import convex_distance
from spatialvlm_core.sim.sampling import CLEARANCE, sample_layout

W, H = 160, 120


@pytest.fixture(scope="module")
def scenes() -> list:
    rooms = ["living_room", "bedroom", "kitchen", "office"]
    return [generate_scene(s, SimConfig(width=W, height=H, room=rooms[s % 4], max_roll_deg=20.0)) for s in range(4)]


@pytest.fixture(scope="module")
def gap_scene():
    return generate_scene(0, SimConfig(width=W, height=H, gap=("sofa", "armchair", 1.2)))


def backproject(sim, mask: np.ndarray) -> np.ndarray:
    """World points of the mask pixels (pixel centres) from depth, intrinsics and pose."""
    v, u = np.nonzero(mask)
    z = sim.depth[v, u].astype(np.float64)
    k = sim.intrinsics
    pc = np.c_[(u - k.cx) / k.fx * z, (v - k.cy) / k.fy * z, z]
    m = sim.pose.matrix()
    return pc @ m[:3, :3].T + m[:3, 3]


def test_library_has_categories_with_placements() -> None:
    assert len(CATEGORIES) >= 20
    assert {s.placement for s in CATEGORIES.values()} == {"floor", "on_table", "wall"}
    for name in ["sofa", "armchair", "dining chair", "coffee table", "bed", "bookshelf", "tv", "mug", "laptop"]:
        assert name in CATEGORIES
    with pytest.raises(ValueError, match=r"unknown object category 'unicorn'.*sofa"):
        get_category("unicorn")


def test_frame_and_scene_fields(scenes) -> None:
    for sim in scenes:
        f = sim.frame()
        assert f.rgb.dtype == np.uint8 and f.rgb.shape == (H, W, 3)
        assert f.depth.dtype == np.float32 and np.all(f.depth > 0)
        assert f.ground_truth.instances.dtype == np.int32
        sc = sim.scene
        assert sc.canonical and sc.camera is not None and sc.intrinsics == sim.intrinsics
        assert 50 <= sim.intrinsics.hfov_deg <= 80
        ids = set(np.unique(sim.instances)) - {0}
        assert ids == {o.mask_id for o in sc.objects}
        for o in sc.objects:
            assert o.id == f"obj_{o.mask_id:02d}"
            assert o.caption.startswith("the ") and o.name in o.caption and o.attributes["color"] in o.caption
            assert o.centroid == o.obb.center
            assert np.allclose(o.footprint, o.obb.corners_xy())
            assert o.height_above_floor == pytest.approx(o.obb.center[2] - o.obb.size[2] / 2)
        # Most objects are visible.
        assert len(sc.objects) >= 0.7 * (len(sc.objects) + len(sc.dropped))


def test_camera_ranges_and_opencv_convention(scenes) -> None:
    for sim in scenes:
        cam = sim.layout.camera
        assert 1.0 <= cam.position[2] <= 1.8 and 5 <= cam.pitch_deg <= 30 and abs(cam.roll_deg) <= 20
        m = sim.pose.matrix()
        fwd, down = m[:3, 2], m[:3, 1]
        assert math.degrees(math.asin(-fwd[2])) == pytest.approx(cam.pitch_deg, abs=1e-6)  # looks down
        assert down[2] < 0  # image "down" points to the floor
        # Row 0 of the image sees higher world points than the last row (not upside down).
        top = backproject(sim, np.pad(np.ones((1, W), bool), ((0, H - 1), (0, 0))))
        bottom = backproject(sim, np.pad(np.ones((1, W), bool), ((H - 1, 0), (0, 0))))
        assert np.median(top[:, 2]) > np.median(bottom[:, 2])


def test_boxes_match_compiled_geometry(scenes) -> None:
    """GT boxes equal the tight boxes of the compiled MuJoCo geoms (to 1 mm), in each object's yaw frame."""
    import mujoco

    sim = scenes[0]
    model = mujoco.MjModel.from_xml_string(build_mjcf(sim.layout, width=W, height=H))
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    for i, obj in enumerate(sim.layout.objects):
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, obj.id)
        c, s = math.cos(obj.yaw), math.sin(obj.yaw)
        rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        pts = []
        for g in np.nonzero(model.geom_bodyid == body)[0]:
            size, rot, pos = model.geom_size[g], data.geom_xmat[g].reshape(3, 3), data.geom_xpos[g]
            gtype = model.geom_type[g]
            if gtype == mujoco.mjtGeom.mjGEOM_BOX:
                half = size
            elif gtype == mujoco.mjtGeom.mjGEOM_CYLINDER:
                half = np.array([size[0], size[0], size[1]])
            else:  # capsule
                half = np.array([size[0], size[0], size[1] + size[0]])
            corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half
            pts.append((corners @ rot.T + pos) @ rz)  # into the object's yaw frame
        pts = np.vstack(pts)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        ob = sim.layout.objects[i].obb()
        assert np.allclose(hi - lo, ob.size, atol=1e-3), obj.category
        assert np.allclose(rz @ ((lo + hi) / 2), ob.center, atol=1e-3), obj.category


def test_depth_backprojects_onto_boxes(scenes) -> None:
    """Mask pixels back-projected with depth + intrinsics + pose land on the object's box (< 1 cm)."""
    for sim in scenes:
        for o in sim.scene.objects:
            mask = sim.instances == o.mask_id
            # Drop silhouette pixels: their depth mixes the object and what is behind it.
            inner = mask.copy()
            inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
            if inner.sum() < 5:
                continue
            pts = backproject(sim, inner)
            d = point_obb_distance(pts, o.obb)
            assert np.median(d) < 0.01, (o.caption, np.median(d))
            if len(get_category(o.name).build(*sim.layout.get(o.id).dims, (0, 0, 0))) == 1 and o.name == "box":
                # Single box geom: the visible surface *is* the box surface.
                local = (pts - np.asarray(o.obb.center)) @ np.array(
                    [[math.cos(o.obb.yaw), -math.sin(o.obb.yaw), 0], [math.sin(o.obb.yaw), math.cos(o.obb.yaw), 0], [0, 0, 1]]
                )
                to_surface = np.min(np.asarray(o.obb.size) / 2 - np.abs(local), axis=1)
                assert np.median(np.abs(to_surface)) < 0.01


def _ray_room_depth(sim) -> np.ndarray:
    """Exact z-depth of every pixel if it saw the bare room (floor, 4 walls, ceiling)."""
    k, m, room = sim.intrinsics, sim.pose.matrix(), sim.layout.room
    u, v = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    dirs_c = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], -1)  # z = 1 per unit of depth
    dirs = dirs_c @ m[:3, :3].T
    o = m[:3, 3]
    best = np.full((H, W), np.inf)
    planes = [(2, 0.0), (2, room.height), (1, 0.0), (1, room.depth), (0, -room.width / 2), (0, room.width / 2)]
    for axis, val in planes:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (val - o[axis]) / dirs[..., axis]
        t[~np.isfinite(t) | (t <= 0)] = np.inf
        best = np.minimum(best, t)
    return best  # t along a direction whose camera z is 1 => t is the z-depth


def test_depth_is_z_depth_not_ray_length(scenes) -> None:
    sim = scenes[1]
    exact = _ray_room_depth(sim)
    bg = sim.instances == 0
    bg[1:-1, 1:-1] &= bg[:-2, 1:-1] & bg[2:, 1:-1] & bg[1:-1, :-2] & bg[1:-1, 2:]
    err = np.abs(sim.depth - exact)[bg]
    # Small room geoms (skirting) are background too; nearly all pixels match the bare room exactly.
    assert np.mean(err < 0.002) > 0.95
    assert np.median(err) < 0.0005
    # Ray length would differ by 1/cos(angle) at the image corner: clearly distinguishable.
    k = sim.intrinsics
    corner = math.sqrt(1 + ((W / 2) / k.fx) ** 2 + ((H / 2) / k.fy) ** 2)
    assert corner > 1.1


def test_projected_box_centre_hits_mask() -> None:
    """A lone box in front of a rolled camera: its projected centre lies on its mask."""
    box = PlacedObject(id="obj_01", category="box", size="large", color="red", dims=(0.6, 0.45, 0.5),
                       pos=(0.4, 3.0, 0.0), yaw=0.5)  # fmt: skip
    cam = CameraSpec(position=(0.0, 0.5, 1.5), heading=math.pi / 2, pitch_deg=20.0, roll_deg=25.0, hfov_deg=60.0)
    layout = Layout(room=Room(kind="living_room", width=5.0, depth=5.0), objects=[box], camera=cam, seed=None)
    sim = render_scene(layout, W, H)
    c = np.asarray(box.obb().center)
    pc = np.linalg.inv(sim.pose.matrix()) @ np.append(c, 1.0)
    u = sim.intrinsics.fx * pc[0] / pc[2] + sim.intrinsics.cx
    v = sim.intrinsics.fy * pc[1] / pc[2] + sim.intrinsics.cy
    assert sim.instances[int(v), int(u)] == 1
    ys, xs = np.nonzero(sim.instances == 1)
    assert abs(xs.mean() - u) < 8 and abs(ys.mean() - v) < 8


def test_same_seed_is_byte_identical(scenes) -> None:
    again = generate_scene(0, SimConfig(width=W, height=H, room="living_room", max_roll_deg=20.0))
    ref = scenes[0]
    assert again.rgb.tobytes() == ref.rgb.tobytes()
    assert again.depth.tobytes() == ref.depth.tobytes()
    assert again.instances.tobytes() == ref.instances.tobytes()
    assert again.scene.model_dump_json() == ref.scene.model_dump_json()
    other = generate_scene(1, SimConfig(width=W, height=H, room="living_room", max_roll_deg=20.0))
    assert other.rgb.tobytes() != ref.rgb.tobytes()


def test_renderer_context_reuse_is_exact(scenes) -> None:
    """Rendering scene A, then B, then A again with the shared renderer gives the same A."""
    a = render_scene(scenes[0].layout, W, H)
    render_scene(scenes[2].layout, W, H)
    a2 = render_scene(scenes[0].layout, W, H, renderer=get_renderer(W, H))
    assert a.rgb.tobytes() == a2.rgb.tobytes() and a.instances.tobytes() == a2.instances.tobytes()


def test_layouts_do_not_interpenetrate() -> None:
    for seed in range(8):
        lay = sample_layout(seed, SimConfig(width=W, height=H, room=["living_room", "kitchen"][seed % 2], max_objects=12))
        floor = [o for o in lay.objects if o.support_id is None]
        for i, a in enumerate(floor):
            fp = a.footprint()
            assert fp[:, 0].min() >= -lay.room.width / 2 and fp[:, 0].max() <= lay.room.width / 2
            assert fp[:, 1].min() >= 0 and fp[:, 1].max() <= lay.room.depth
            for b in floor[i + 1 :]:
                za, zb = a.z_range(), b.z_range()
                if za[1] <= zb[0] or zb[1] <= za[0]:
                    continue  # e.g. a painting above a cabinet
                assert convex_distance(fp, b.footprint()) >= CLEARANCE - 1e-9, (a.category, b.category)
        for o in lay.objects:
            if o.support_id is not None:
                sup = lay.get(o.support_id)
                assert o.z_range()[0] == pytest.approx(sup.z_range()[1])  # resting on the top


def test_gap_layout(gap_scene) -> None:
    gap = gap_scene.scene.provenance["gap"]
    a, b = gap_scene.scene.get(gap["a"]), gap_scene.scene.get(gap["b"])
    assert (a.name, b.name) == ("sofa", "armchair")
    assert gap["gap_m"] == pytest.approx(1.2, abs=1e-9)
    assert convex_distance(np.array(a.footprint), np.array(b.footprint)) == pytest.approx(gap["gap_m"], abs=1e-9)
    # Both face the camera: their front (-y local) points towards the camera position.
    cam = gap_scene.pose.position[:2]
    for o in (a, b):
        front = np.array([math.sin(o.obb.yaw), -math.cos(o.obb.yaw)])
        to_cam = cam - np.asarray(o.obb.center[:2])
        assert front @ to_cam / np.linalg.norm(to_cam) > 0.9
    # No other floor object stands in the gap (crossing the segment between the two centres).
    link = np.array([a.obb.center[:2], b.obb.center[:2]])
    for o in gap_scene.layout.objects:
        if o.id not in (a.id, b.id) and o.support_id is None and o.z_range()[0] < 0.5:
            assert convex_distance(o.footprint(), link) > 0, o.category


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="unknown room 'garage'"):
        SimConfig(room="garage")
    with pytest.raises(ValueError, match="min_objects"):
        SimConfig(min_objects=9, max_objects=3)
    with pytest.raises(ValueError, match="unicorn"):
        SimConfig(gap=("unicorn", "sofa", 1.0))
    with pytest.raises(ValueError, match="must stand on the floor"):
        SimConfig(gap=("mug", "sofa", 1.0))
    with pytest.raises(ValueError, match=r"room is only 5\.00 m wide"):
        sample_layout(0, SimConfig(room_size=(5.0, 5.0), gap=("sofa", "armchair", 3.5)))
    with pytest.raises(ValueError, match=r"could not lay out 12 objects in the 2.0 x 2.0 m"):
        sample_layout(0, SimConfig(room_size=(2.0, 2.0), min_objects=12, max_objects=12))
    with pytest.raises(ValueError, match="seed"):
        generate_scene(-1, SimConfig(width=W, height=H))
    with pytest.raises(ValueError, match="max_roll_deg"):
        SimConfig(max_roll_deg=45)


def test_save_load_round_trip(scenes, tmp_path: Path) -> None:
    sim = scenes[2]
    out = save_scene(sim, tmp_path / "scene_0000")
    assert sorted(p.name for p in out.iterdir()) == sorted(sim_io.FILES)
    back = load_scene(out)
    assert back.rgb.tobytes() == sim.rgb.tobytes()
    assert back.depth.tobytes() == sim.depth.tobytes()
    assert back.instances.tobytes() == sim.instances.tobytes()
    assert back.scene.model_dump_json() == sim.scene.model_dump_json()
    assert back.pose.world_from_camera == sim.pose.world_from_camera and back.intrinsics == sim.intrinsics
    cam = json.loads((out / "camera.json").read_text())
    assert set(cam) == {"intrinsics", "world_from_camera"}
    from PIL import Image

    assert Image.open(out / "instances.png").mode.startswith("I")  # 16-bit
    # Overwrite in place works and leaves no temp folders.
    save_scene(sim, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene_0000"]


def test_load_errors(scenes, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_scene(tmp_path / "nope")
    out = save_scene(scenes[0], tmp_path / "s")
    (out / "depth.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing depth\.npy"):
        load_scene(out)
    out = save_scene(scenes[0], tmp_path / "t")
    (out / "scene.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"scene\.json"):
        load_scene(out)
    out = save_scene(scenes[0], tmp_path / "u")
    (out / "rgb.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"rgb\.png"):
        load_scene(out)


def test_atomic_write(scenes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = sim_io._write_files

    def failing(sim, d: Path) -> None:
        real(sim, d)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(sim_io, "_write_files", failing)
    with pytest.raises(OSError, match="simulated"):
        save_scene(scenes[0], tmp_path / "scene_0000")
    assert list(tmp_path.iterdir()) == []  # nothing half-written, no temp folder left
    monkeypatch.undo()
    # An existing good folder survives a failed overwrite.
    good = save_scene(scenes[0], tmp_path / "scene_0001")
    monkeypatch.setattr(sim_io, "_write_files", failing)
    with pytest.raises(OSError):
        save_scene(scenes[1], good)
    assert load_scene(good).rgb.tobytes() == scenes[0].rgb.tobytes()
    # Unwritable destination: a regular file where the parent folder should be.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="cannot write scene folder"):
        save_scene(scenes[0], blocker / "scene")


def test_cli_generate_resume_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from spatialvlm_core.cli import main

    out = tmp_path / "sims"
    assert main(["sim", "--scenes", "2", "--seed", "3", "--out", str(out), "--size", "96x64", "--room", "office"]) == 0
    assert (out / "scene_0001" / "scene.json").is_file()
    mtime = (out / "scene_0000" / "rgb.png").stat().st_mtime_ns
    assert main(["sim", "--scenes", "3", "--seed", "3", "--out", str(out), "--size", "96x64", "--room", "office"]) == 0
    assert (out / "scene_0000" / "rgb.png").stat().st_mtime_ns == mtime  # resumed, not redone
    assert "1 scenes written, 2 already present" in capsys.readouterr().out
    png = tmp_path / "show.png"
    assert main(["sim", "show", str(out / "scene_0002"), "--out", str(png)]) == 0
    from PIL import Image

    assert Image.open(png).size == (96, 64)
    assert main(["sim", "show", str(tmp_path / "missing")]) == 2
    assert main(["sim", "--scenes", "1", "--out", str(out), "--room", "garage"]) == 2


@pytest.mark.parametrize("name", sorted(CATEGORIES))
def test_every_category_builds_at_its_size_extremes(name: str) -> None:
    spec = get_category(name)
    for ranges in spec.sizes.values():
        for pick in (0, 1):
            dims = tuple(r[pick] for r in ranges)
            parts = spec.build(*dims, (0.5, 0.5, 0.5))  # Part validates positive sizes
            lo = np.min([p.local_bounds()[0] for p in parts], axis=0)
            hi = np.max([p.local_bounds()[1] for p in parts], axis=0)
            assert lo[2] >= -1e-9, name  # nothing below its resting surface
            # The tight box stays close to the nominal size (within 3 cm; handles may stick out a little).
            assert np.all(np.abs((hi - lo) - np.asarray(dims)) < 0.03), (name, hi - lo, dims)
