"""The typed values between stages: validation and JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from spatialvlm_core.types import (
    Answer,
    Box3D,
    CameraIntrinsics,
    CameraPose,
    Detection,
    Detections,
    Frame,
    GroundTruth,
    Object3D,
    OrientedBox3D,
    QAPair,
    Scene3D,
)
from spatialvlm_core.units import canonical_unit, from_meters, to_meters


def _obj(i: str, center=(1.0, 2.0, 0.5)) -> Object3D:
    return Object3D(
        id=i,
        name="armchair",
        caption="the red armchair",
        aabb=Box3D(center=center, size=(0.8, 0.8, 1.0)),
        obb=OrientedBox3D(center=center, size=(0.8, 0.8, 1.0), yaw=0.3),
        centroid=center,
    )


def test_frame_roundtrip_keeps_arrays_exact() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    depth = rng.random((6, 8)).astype(np.float32) * 5
    k = CameraIntrinsics.from_fov(8, 6, 60)
    inst = np.zeros((6, 8), np.int32)
    inst[2:4, 2:4] = 1
    gt = GroundTruth(instances=inst, scene=Scene3D(scene_id="s", canonical=True, objects=[_obj("obj_00")]))
    f = Frame(image_id="a", rgb=rgb, depth=depth, intrinsics=k, ground_truth=gt)
    g = Frame.model_validate_json(f.model_dump_json())
    assert np.array_equal(g.rgb, rgb) and g.rgb.dtype == np.uint8
    assert np.array_equal(g.depth, depth)
    assert np.array_equal(g.ground_truth.instances, inst)
    assert g.ground_truth.scene.objects[0].obb.yaw == pytest.approx(0.3)
    assert g.size == (8, 6)


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"rgb": np.zeros((4, 4), np.uint8)}, "HxWx3"),
        ({"rgb": np.zeros((4, 4, 3), np.float32)}, "uint8"),
        ({"depth": np.zeros((3, 4), np.float32)}, "does not match"),
        ({"depth": -np.ones((4, 4), np.float32)}, "negative"),
        ({"intrinsics": CameraIntrinsics.from_fov(5, 4)}, "intrinsics are for"),
    ],
)
def test_frame_rejects_bad_input(kwargs: dict, msg: str) -> None:
    base = {"image_id": "x", "rgb": np.zeros((4, 4, 3), np.uint8)}
    base.update(kwargs)
    with pytest.raises(ValidationError, match=msg):
        Frame(**base)


def test_intrinsics_fov_and_matrix() -> None:
    k = CameraIntrinsics.from_fov(640, 480, 90)
    assert k.fx == pytest.approx(320)
    assert k.hfov_deg == pytest.approx(90)
    assert k.matrix()[0, 2] == 320
    with pytest.raises(ValueError, match="hfov"):
        CameraIntrinsics.from_fov(640, 480, 0)


def test_camera_pose_must_be_rigid() -> None:
    CameraPose.from_matrix(np.eye(4))
    bad = np.eye(4)
    bad[0, 0] = 2
    with pytest.raises(ValidationError, match="rigid"):
        CameraPose.from_matrix(bad)
    m = np.eye(4)
    m[:3, 3] = [1, 2, 3]
    p = CameraPose.from_matrix(m)
    assert np.allclose(p.position, [1, 2, 3]) and np.allclose(p.forward, [0, 0, 1])


def test_boxes_validate_and_corners() -> None:
    with pytest.raises(ValidationError, match="finite"):
        Box3D(center=(0, 0, float("nan")), size=(1, 1, 1))
    with pytest.raises(ValidationError, match=">= 0"):
        Box3D(center=(0, 0, 0), size=(1, -1, 1))
    b = Box3D.from_min_max([0, 0, 0], [2, 4, 1])
    assert b.center == (1, 2, 0.5) and np.allclose(b.max, [2, 4, 1])
    c = OrientedBox3D(center=(0, 0, 0), size=(2, 1, 1), yaw=np.pi / 2).corners_xy()
    assert np.allclose(np.sort(np.abs(c[:, 0])), [0.5] * 4) and np.allclose(np.abs(c[:, 1]), 1)


def test_scene_unique_ids_and_lookup() -> None:
    s = Scene3D(scene_id="s", canonical=True, objects=[_obj("a"), _obj("b")])
    assert s.get("b").id == "b"
    with pytest.raises(KeyError, match="no object"):
        s.get("z")
    with pytest.raises(ValidationError, match="duplicate"):
        Scene3D(scene_id="s", canonical=True, objects=[_obj("a"), _obj("a")])
    s.objects[1].ambiguous = True
    assert [o.id for o in s.askable] == ["a"]
    assert Scene3D.model_validate_json(s.model_dump_json()) == s


def test_detections_mask_shape_checked() -> None:
    d = Detection(label="chair", score=0.5, box_xyxy=(0, 0, 2, 2), mask=np.ones((3, 3), bool))
    with pytest.raises(ValidationError, match="mask shape"):
        Detections(image_id="x", width=4, height=4, items=[d])
    with pytest.raises(ValidationError, match="x1>=x0"):
        Detection(label="chair", score=0.5, box_xyxy=(3, 0, 2, 2))


def test_qapair_requirements() -> None:
    kw = {"id": "q", "image_id": "i", "qtype": "distance", "category": "quantitative", "kind": "quantitative"}
    with pytest.raises(ValidationError, match="needs value and unit"):
        QAPair(question="How far?", answer="far", **kw)
    q = QAPair(question="How far?", answer="1.5 meters", value=1.5, unit="m", truth=1.47, **kw)
    assert QAPair.model_validate_json(q.model_dump_json()) == q
    with pytest.raises(ValidationError, match="empty"):
        QAPair(question=" ", answer="x", value=1, unit="m", **kw)
    with pytest.raises(ValidationError, match="truth_bool"):
        QAPair(id="q", image_id="i", qtype="left", category="qualitative", kind="predicate", question="q?", answer="yes")


def test_units() -> None:
    assert to_meters(3, "feet") == pytest.approx(0.9144)
    assert from_meters(1, "cm") == pytest.approx(100)
    assert canonical_unit("Metres") == "m"
    with pytest.raises(ValueError, match="unknown length unit"):
        canonical_unit("parsec")
    assert Answer(text="1 m", value=1.0).valid_number
