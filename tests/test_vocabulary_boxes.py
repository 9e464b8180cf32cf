"""One vocabulary (synonyms, head nouns), user-supplied boxes, automatic backends and the scene picture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatial_agent.agent import SpatialAgent
from spatial_agent.schema import SubQuery
from spatial_agent.testing import box_object
from spatial_agent.tools import GeometricTool
from spatialvlm_core import size_priors, vocabulary
from spatialvlm_core.dataset.frame_folder import load_frame_folder
from spatialvlm_core.perception import DEPTH, DETECTORS, SEGMENTERS
from spatialvlm_core.perception.detect_boxes import BoxesDetector, parse_boxes
from spatialvlm_core.perception.labels import COCO_CLASSES, match_queries, normalize_label, query_targets
from spatialvlm_core.phrases import resolve
from spatialvlm_core.reconstruct import (
    horizon_line,
    project_floor,
    reconstruct,
    render_scene_png,
)
from spatialvlm_core.types import CameraIntrinsics, CameraPose, Frame, OrientedBox3D, Scene3D
from tests.conftest import SHARED, YOLOX_DIR

REAL = SHARED / "real"
needs_real = pytest.mark.skipif(not (REAL / "sunrgbd_000017").is_dir() or not (REAL / "nyu_00000").is_dir(),
                                reason=f"real frames not found under {REAL}")
needs_yolox = pytest.mark.skipif(not (YOLOX_DIR / "yolox_nano.onnx").is_file(), reason="YOLOX-nano weights absent")


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(("phrase", "cls"), [
    ("nightstand", "night stand"), ("Night_Stand", "night stand"), ("the bedside table", "night stand"),
    ("the red bedside table", "night stand"), ("couch", "sofa"), ("couches", "sofa"), ("settee", "sofa"),
    ("TV", "tv"), ("television", "tv"), ("monitor", "tv"), ("fridge", "refrigerator"), ("bookcase", "bookshelf"),
    ("chest of drawers", "chest of drawers"), ("closet", "wardrobe"), ("pedestrians", "person"),
    ("bin", "trash can"), ("the white table lamp", "lamp"), ("wooden chairs", "chair"), ("tvs", "tv"),
])
def test_canonical_class(phrase: str, cls: str) -> None:
    assert vocabulary.canonical_class(phrase) == cls


def test_one_table_for_the_toolkit() -> None:
    assert len(vocabulary.SYNONYMS) >= 40
    # Detector class names and size-prior classes are canonical (or a synonym of one) already.
    assert [c for c in COCO_CLASSES if vocabulary.canonical_class(c) != c] == []
    assert [c for c in size_priors.PRIORS
            if vocabulary.canonical_class(c) != c and c not in vocabulary.SYNONYMS] == []
    assert size_priors.PRIOR_ALIASES is vocabulary.PRIOR_ALIASES
    assert size_priors.prior_for("bedside table").name == "night stand"
    assert size_priors.prior_for("the nightstand").name == "night stand"
    assert normalize_label("Couch") == "sofa" and normalize_label("nightstand") == "night stand"
    assert "dining table" in query_targets("desk")  # a closed set's nearest class for a desk
    assert query_targets("night stand") == {"night stand"}  # COCO has nothing for it
    assert match_queries(["night stand", "bed"], ["bedside table"]) == {"night stand": "bedside table"}
    # Kinds: a coffee table is a table, a table lamp is not.
    assert "table" in vocabulary.kinds("coffee table") and "table" not in vocabulary.kinds("table lamp")


def _room(provenance: dict | None = None) -> Scene3D:
    return Scene3D(scene_id="bedroom", canonical=True, provenance=provenance or {}, objects=[
        box_object("ns", "night stand", (0.0, 2.0), (0.5, 2.4), (0.0, 0.62)),
        box_object("sofa", "sofa", (1.0, 2.0), (3.0, 2.9), (0.0, 0.85)),
        box_object("tv", "tv", (1.0, 4.0), (2.1, 4.1), (0.8, 1.45)),
        box_object("lamp", "table lamp", (0.1, 2.1), (0.3, 2.3), (0.62, 1.1), "the white table lamp"),
    ])


@pytest.mark.parametrize(("phrase", "obj"), [
    ("the nightstand", "ns"), ("the night stand", "ns"), ("the bedside table", "ns"), ("the couch", "sofa"),
    ("the television", "tv"), ("the TV", "tv"), ("the lamp", "lamp"),
])
def test_resolve_uses_the_synonyms(phrase: str, obj: str) -> None:
    assert [o.id for o in resolve(_room(), phrase).objects] == [obj]


def test_questions_find_synonyms_of_object_names() -> None:
    agent = SpatialAgent(tool=GeometricTool(scene=_room()))
    for q in ("How tall is the nightstand?", "How tall is the bedside table?"):
        r = agent.ask(None, q)
        assert r.value == pytest.approx(0.62, abs=0.01), r.answer
    assert agent.ask(None, "How wide is the couch?").value == pytest.approx(2.0, abs=0.01)
    # The dataset spelling "night_stand" is the same class.
    scene = Scene3D(scene_id="s", canonical=True, objects=[box_object("n", "night_stand", (0, 0), (0.4, 0.5))])
    assert [o.id for o in resolve(scene, "the nightstand").objects] == ["n"]
    assert not resolve(_room(), "the table").found  # neither a night stand nor a table lamp is "the table"


# --------------------------------------------------------------------------- detector cannot name it


def test_missing_class_names_the_detector_and_what_works() -> None:
    coco = _room({"detector": "yolox-onnx", "detector_vocabulary": "coco"})
    coco = coco.model_copy(update={"objects": [o for o in coco.objects if o.id != "ns"]})
    tool = GeometricTool(scene=coco)
    text = tool.measure(None, SubQuery(kind="height", a="the nightstand")).text
    assert text.startswith("I cannot find a nightstand in the image: the built-in COCO detector (yolox-onnx) "
                           "has no 'night stand' class"), text
    assert "--boxes B.json" in text and "--detector owlv2 --detector-model DIR" in text
    # COCO can name a piano? No: the message says so. A missing sofa it could name: a plain "cannot find".
    plain = GeometricTool(scene=coco.model_copy(update={"objects": coco.objects[2:]}))
    assert plain.measure(None, SubQuery(kind="width", a="the couch")).text == "I cannot find a couch in the image"
    # The supplied boxes: which labels they had.
    boxed = _room({"detector": "boxes", "detector_classes": ["bed", "sofa"], "boxes": "b.json"})
    text = GeometricTool(scene=boxed).measure(None, SubQuery(kind="height", a="the wardrobe")).text
    assert "the supplied boxes (b.json) label only bed, sofa" in text and "'wardrobe'" in text
    # Ground truth (or an unrecorded detector) names everything: absence is just absence.
    gt = _room({"detector": "ground-truth"})
    assert GeometricTool(scene=gt).measure(None, SubQuery(kind="height", a="the wardrobe")).text == (
        "I cannot find a wardrobe in the image")


# --------------------------------------------------------------------------- user-supplied boxes


def _frame(w: int = 64, h: int = 48) -> Frame:
    return Frame(image_id="f", rgb=np.zeros((h, w, 3), np.uint8))


def test_boxes_json_with_mask_and_plain_list(tmp_path: Path) -> None:
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 5:15] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"image": "f.png", "boxes": [
        {"label": "Night_Stand", "box": [5, 10, 15, 20], "mask": "m.png"},
        {"label": "bed", "box": [20, 5, 64.5, 48], "score": 0.5},
    ]}))
    det = BoxesDetector.from_json(path)
    assert det.classes == ["bed", "night stand"]
    out = det.detect(_frame())
    assert [d.label for d in out.items] == ["night stand", "bed"] and out.backend == "boxes"
    assert out.items[0].mask is not None and int(out.items[0].mask.sum()) == 100
    assert out.items[1].box_xyxy == (20.0, 5.0, 64.0, 48.0) and out.items[1].score == 0.5  # 0.5 px over: clipped
    assert [d.label for d in det.detect(_frame(), queries=["bedside table"]).items] == ["night stand"]
    plain = BoxesDetector([{"label": "sofa", "box": [0, 0, 10, 10]}])
    assert plain.detect(_frame()).items[0].mask is None
    assert "boxes" in DETECTORS


@pytest.mark.parametrize(("data", "message"), [
    ({"boxes": [{"label": "bed", "box": [10, 5, 2, 20]}]}, r"b\.json: boxes\[0\]\.box must be \[x0, y0, x1, y1\] "
                                                            r"with x1 > x0"),
    ({"boxes": [{"label": "bed", "bbox": [0, 0, 5, 5]}]}, r"b\.json: boxes\[0\]: unknown key\(s\) \['bbox'\]"),
    ([{"box": [0, 0, 5, 5]}], r"b\.json: boxes\[0\]: missing 'label'"),
    ([{"label": " ", "box": [0, 0, 5, 5]}], r"\[0\]\.label must be a non-empty string"),
    ([{"label": "bed", "box": [0, 0, 5]}], r"\[0\]\.box must be \[x0, y0, x1, y1\] \(4 numbers\)"),
    ([{"label": "bed", "box": [0, 0, 5, 5], "score": 2}], r"\[0\]\.score must be a number in \[0, 1\]"),
    ({"boxes": [], "size": 3}, r"unknown key\(s\) \['size'\]"),
    ({"boxes": []}, r"b\.json: no boxes given"),
    ({"image": "x.png"}, r"missing 'boxes'"),
])
def test_bad_boxes_json_names_file_and_field(tmp_path: Path, data: object, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        BoxesDetector.from_json(path)


def test_boxes_checked_against_the_image(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps([{"label": "bed", "box": [0, 0, 100, 20]}]))
    with pytest.raises(ValueError, match=r"b\.json: boxes\[0\]\.box \[0\.0, 0\.0, 100\.0, 20\.0\] is outside the "
                                         r"64x48 image"):
        BoxesDetector(path).detect(_frame())
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    path.write_text(json.dumps([{"label": "bed", "box": [0, 0, 10, 10], "mask": "small.png"}]))
    with pytest.raises(ValueError, match=r"mask .*small\.png is 10x10 but the image is 64x48"):
        BoxesDetector(path).detect(_frame())
    path.write_text(json.dumps([{"label": "bed", "box": [0, 0, 10, 10], "mask": "none.png"}]))
    with pytest.raises(FileNotFoundError, match=r"boxes\[0\]\.mask file not found: .*none\.png"):
        BoxesDetector(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"b\.json: not valid JSON"):
        BoxesDetector(path)
    with pytest.raises(ValueError, match="either boxes or a detector"):
        reconstruct(_frame(), detector="yolox-onnx", boxes=parse_boxes([{"label": "bed", "box": [0, 0, 5, 5]}]))


# --------------------------------------------------------------------------- the picture's geometry


def test_horizon_and_floor_projection_of_a_level_camera(tmp_path: Path) -> None:
    # Level camera 1.5 m above the floor looking along +y: camera x = world x, y = -z, z = +y.
    pose = np.eye(4)
    pose[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]
    pose[2, 3] = 1.5
    k = CameraIntrinsics(fx=100, fy=100, cx=32, cy=24, width=64, height=48)
    obj = box_object("b", "bed", (-0.5, 3.0), (0.5, 5.0), (0.0, 0.5))
    obj = obj.model_copy(update={"size_lo": (1.6, 0.8, 0.4), "size_hi": (2.4, 1.2, 0.6),
                                 "visible_obb": OrientedBox3D(center=(0, 3.1, 0.25), size=(1.0, 0.2, 0.5))})
    scene = Scene3D(scene_id="s", canonical=True, camera=CameraPose.from_matrix(pose), intrinsics=k, objects=[obj])
    a, b, c = horizon_line(scene)
    assert -(a * 5 + c) / b == pytest.approx(24.0) and -(a * 60 + c) / b == pytest.approx(24.0)
    uv = project_floor(scene, np.array([[0.0, 3.0], [1.0, 5.0], [0.0, -1.0]]))
    assert uv[0] == pytest.approx([32.0, 24.0 + 100 * 1.5 / 3.0])
    assert uv[1] == pytest.approx([32.0 + 100 / 5.0, 24.0 + 100 * 1.5 / 5.0])
    assert np.isnan(uv[2]).all()  # behind the camera
    png = render_scene_png(Frame(image_id="f", rgb=np.zeros((48, 64, 3), np.uint8)), scene, tmp_path / "s.png")
    assert Image.open(png).size[0] > 500


# --------------------------------------------------------------------------- real frames


def _real_frame(name: str, depth: bool = True) -> Frame:
    return load_frame_folder(REAL / name, depth=depth)


@needs_real
@needs_yolox
def test_reconstruct_real_frame_with_no_backend_arguments() -> None:
    scene = reconstruct(_real_frame("nyu_00000"))
    prov = scene.provenance
    assert prov["detector"] == "yolox-onnx" and prov["depth"] == "sensor" and prov["detector_vocabulary"] == "coco"
    assert prov["segmenter"] == ("region-grow" if "region-grow" in SEGMENTERS else "box-depth")
    assert prov["auto"] == ["detector", "segmenter", "depth"]
    assert scene.objects and all(o.name in COCO_CLASSES for o in scene.objects)


@needs_real
@needs_yolox
@pytest.mark.skipif("size-prior" not in DEPTH, reason="size-prior depth backend not registered yet")
def test_reconstruct_photo_without_depth_uses_size_priors(tmp_path: Path) -> None:
    from spatialvlm_core.cli import main as core_main

    scene = reconstruct(_real_frame("sunrgbd_000017", depth=False))
    assert scene.provenance["depth"] == "size-prior" and scene.provenance["detector"] == "yolox-onnx"
    # The CLI defaults the same way: no --depth, no backend flags, nothing downloaded.
    out = tmp_path / "scene.json"
    assert core_main(["reconstruct", str(REAL / "sunrgbd_000017" / "rgb.jpg"), "--out", str(out)]) == 0
    prov = Scene3D.model_validate_json(out.read_text()).provenance
    assert (prov["detector"], prov["depth"]) == ("yolox-onnx", "size-prior")


def _sun_boxes(tmp_path: Path) -> Path:
    truth = json.loads((REAL / "sunrgbd_000017" / "truth.json").read_text())
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"boxes": [{"label": o["name"], "box": o["box2d"]} for o in truth["objects"]]}))
    return path


@needs_real
def test_boxes_through_both_clis_on_a_real_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from spatial_agent.cli import main as agent_main
    from spatialvlm_core.cli import main as core_main

    d = REAL / "sunrgbd_000017"
    truth = {o["name"]: o for o in json.loads((d / "truth.json").read_text())["objects"]}
    boxes = _sun_boxes(tmp_path)
    common = ["--boxes", str(boxes), "--depth", str(d / "depth.npz"), "--intrinsics", str(d / "camera.json")]
    out = tmp_path / "scene.json"
    assert core_main(["reconstruct", str(d / "rgb.jpg"), *common, "--out", str(out)]) == 0
    scene = Scene3D.model_validate_json(out.read_text())
    assert scene.provenance["detector"] == "boxes" and scene.provenance["boxes"] == str(boxes)
    assert sorted(o.name for o in scene.objects) == ["bed", "night stand"] and scene.canonical
    assert out.with_suffix(".png").is_file()
    capsys.readouterr()
    assert agent_main(["ask", str(d / "rgb.jpg"), "How tall is the bedside table?", *common, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    true_h = truth["night_stand"]["size"][2]
    assert res["value"] is not None and abs(res["value"] - true_h) / true_h < 0.25, res["answer"]
    # Bad boxes reach the user as one clear line.
    (tmp_path / "bad.json").write_text(json.dumps([{"label": "bed", "box": [0, 0, 900, 100]}]))
    assert agent_main(["ask", str(d / "rgb.jpg"), "How tall is the bed?", "--boxes", str(tmp_path / "bad.json"),
                       "--depth", str(d / "depth.npz")]) == 2
    assert "bad.json: boxes[0].box [0.0, 0.0, 900.0, 100.0] is outside the 730x530 image" in capsys.readouterr().err
