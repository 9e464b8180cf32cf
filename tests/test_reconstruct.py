"""Stage composition and the `reconstruct` command on analytic scenes."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from PIL import Image
from test_lifting_scenes import room_scene

from spatialvlm_core import reconstruct as rc
from spatialvlm_core.geometry import obb_aabb
from spatialvlm_core.perception import DETECTORS
from spatialvlm_core.perception.detect_gt import GroundTruthDetector
from spatialvlm_core.perception.segment_gt import GroundTruthSegmenter
from spatialvlm_core.types import (
    Detections,
    Frame,
    GroundTruth,
    Object3D,
    OrientedBox3D,
    Scene3D,
)


def _gt_frame(n_boxes: int = 3) -> tuple[Frame, object]:
    sc = room_scene(n_boxes=n_boxes)
    objs = []
    for i, b in enumerate(sc.boxes):
        obb = OrientedBox3D(center=(*b.center_xy, b.z0 + b.size[2] / 2), size=b.size, yaw=b.yaw)
        objs.append(Object3D(id=f"{b.label}-{i}", name=b.label, caption=f"the {b.label}", aabb=obb_aabb(obb),
                             obb=obb, centroid=obb.center, mask_id=i + 1))
    gt = GroundTruth(instances=sc.instances, scene=Scene3D(scene_id="gt", objects=objs, canonical=True,
                                                           camera=sc.pose))
    frame = Frame(image_id="gt", rgb=sc.rgb, depth=sc.depth, intrinsics=sc.intrinsics, ground_truth=gt)
    return frame, sc


def test_reconstruct_ground_truth_backends_end_to_end() -> None:
    frame, _ = _gt_frame()
    scene = rc.reconstruct(frame, detector="ground-truth", segmenter="ground-truth", depth="sensor")
    assert scene.canonical and len(scene.objects) == 3
    assert {o.id for o in scene.objects} == {"cabinet-0", "stool-1", "shelf-2"}
    assert all(o.mask_id is not None for o in scene.objects)
    assert scene.get("cabinet-0").caption == "the red cabinet"
    assert scene.provenance["detector"] == "ground-truth" and scene.provenance["depth"] == "sensor"
    # Canonical frame: everything is in front of the camera (+y) and above the floor.
    assert all(o.centroid[1] > 1.0 and o.aabb.min[2] > -0.02 for o in scene.objects)


def test_reconstruct_accepts_backend_objects_and_runs_segmenter_only_when_needed() -> None:
    frame, _ = _gt_frame(2)
    calls: list[str] = []

    class BoxOnly:
        name = "boxes"

        def detect(self, f: Frame) -> Detections:
            d = GroundTruthDetector().detect(f)
            return d.model_copy(update={"items": [i.model_copy(update={"mask": None}) for i in d.items]})

    class Seg(GroundTruthSegmenter):
        def segment(self, f: Frame, d: Detections) -> Detections:
            calls.append("seg")
            return super().segment(f, d)

    scene = rc.reconstruct(frame, detector=BoxOnly(), segmenter=Seg(), depth=lambda f: f.depth)
    assert calls == ["seg"] and len(scene.objects) == 2
    scene2 = rc.reconstruct(frame, detector="ground-truth", segmenter=Seg())
    assert calls == ["seg"] and len(scene2.objects) == 2  # masks came with the detections


def test_reconstruct_errors_name_the_problem() -> None:
    frame, _ = _gt_frame(1)
    plain = Frame(image_id="p", rgb=frame.rgb)
    with pytest.raises(ValueError, match=r"ground.truth"):
        rc.reconstruct(plain, detector="ground-truth")
    with pytest.raises(ValueError, match="unknown detector backend 'nope'"):
        rc.reconstruct(frame, detector="nope")
    with pytest.raises(ValueError, match="depth"):
        rc.reconstruct(frame.model_copy(update={"depth": None}), detector="ground-truth", depth="sensor")


def test_reconstruct_cli_writes_scene_and_picture(tmp_path, monkeypatch) -> None:
    frame, sc = _gt_frame(2)
    img = tmp_path / "room.png"
    Image.fromarray(sc.rgb).save(img)
    np.save(tmp_path / "d.npy", sc.depth)
    k = sc.intrinsics
    (tmp_path / "k.json").write_text(json.dumps({"K": k.matrix().tolist()}))

    class MaskDetector(GroundTruthDetector):  # the image file carries no ground truth: close over it
        name = "masks"

        def detect(self, f: Frame) -> Detections:
            return super().detect(f.model_copy(update={"ground_truth": frame.ground_truth}))

    monkeypatch.setitem(DETECTORS._factories, "masks", MaskDetector)
    parser = argparse.ArgumentParser()
    rc.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out" / "scene.json"
    args = parser.parse_args(["reconstruct", str(img), "--depth", str(tmp_path / "d.npy"), "--intrinsics",
                              str(tmp_path / "k.json"), "--detector", "masks", "--out", str(out)])
    assert args.func(args) == 0
    scene = Scene3D.model_validate_json(out.read_text())
    assert scene.canonical and len(scene.objects) == 2
    assert scene.intrinsics.fx == pytest.approx(k.fx)
    png = out.with_suffix(".png")
    assert png.exists() and Image.open(png).size[0] > 400
    with pytest.raises(FileNotFoundError, match="depth file not found"):
        bad = parser.parse_args(["reconstruct", str(img), "--depth", "nope.npy", "--out", str(out)])
        bad.func(bad)


def test_loaders_validate_files(tmp_path) -> None:
    (tmp_path / "k.json").write_text(json.dumps({"fx": 100, "fy": 100, "cx": 5}))
    with pytest.raises(ValueError, match="missing intrinsics fields"):
        rc.load_intrinsics(tmp_path / "k.json", 10, 10)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        rc.load_intrinsics(tmp_path / "bad.json", 10, 10)
    Image.fromarray(np.full((4, 5), 1500, np.uint16)).save(tmp_path / "d.png")
    assert rc.load_depth(tmp_path / "d.png")[0, 0] == pytest.approx(1.5)
    with pytest.raises(ValueError, match=r"must be \.npy"):
        (tmp_path / "d.txt").write_text("1")
        rc.load_depth(tmp_path / "d.txt")


def test_picture_in_camera_frame(tmp_path) -> None:
    frame, _ = _gt_frame(1)
    scene = rc.reconstruct(frame, detector="ground-truth")
    flat = scene.model_copy(update={"canonical": False})
    assert rc.render_scene_png(frame, flat, tmp_path / "x.png").exists()


def test_reconstruct_sim_scene_matches_ground_truth() -> None:
    sim_mod = pytest.importorskip("spatialvlm_core.sim")
    from spatialvlm_core.lifting import canonical_from_world, gravity_error_deg

    sim = sim_mod.generate_scene(10001, sim_mod.SimConfig())
    frame = sim.frame()
    scene = rc.reconstruct(frame, detector="ground-truth", depth="sensor")
    assert scene.canonical
    assert gravity_error_deg(scene.camera.matrix(), sim.pose.matrix()) < 1.0
    canon = canonical_from_world(sim.pose.matrix())
    gt = {o.id: o for o in sim.scene.objects}
    errs = []
    for o in scene.objects:
        g = gt[o.id]
        assert o.name == g.name and o.mask_id == g.mask_id
        # The lifted top of the object matches the true top (tops are usually visible from above).
        top = float(canon[2, :3] @ np.asarray(g.aabb.center) + g.aabb.size[2] / 2)
        errs.append(abs(o.aabb.max[2] - top))
    assert len(errs) >= 3 and float(np.median(errs)) < 0.05
    assert all(o.caption.startswith("the ") for o in scene.objects)
