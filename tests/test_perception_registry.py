"""Registry, protocols, intrinsics prior, labels and numpy box utilities."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from spatialvlm_core import perception
from spatialvlm_core.perception import boxes, labels
from spatialvlm_core.perception.registry import Registry
from spatialvlm_core.types import CameraIntrinsics, Frame


def test_registry_register_create_and_unknown_name() -> None:
    reg: Registry[object] = Registry("widget")

    @reg.register("plain-one", "alias")
    class Plain:
        def __init__(self, k: int = 1) -> None:
            self.k = k

    assert reg.names() == ["alias", "plain-one"]
    assert reg.create("Plain_One", k=3).k == 3  # case and _/- insensitive
    assert isinstance(reg.create("alias"), Plain)
    with pytest.raises(ValueError, match=r"unknown widget backend 'nope'; known: alias, plain-one"):
        reg.create("nope")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alias")(lambda: None)


def test_builtin_backends_are_registered() -> None:
    assert {"depth-anything-v2-metric", "zoedepth", "dpt", "sensor"} <= set(perception.DEPTH.names())
    assert {"owlv2", "grounding-dino", "yolox-onnx", "ground-truth"} <= set(perception.DETECTORS.names())
    assert {"sam", "sam-hf", "box-depth"} <= set(perception.SEGMENTERS.names())
    assert {"open-clip", "transformers"} <= set(perception.CLIP.names())
    with pytest.raises(ValueError, match=r"known: .*zoedepth"):
        perception.create_depth("midas-9000")


def test_package_import_does_not_import_torch() -> None:
    code = ("import sys, spatialvlm_core.perception as p; p.create_segmenter('box-depth'); "
            "print('torch' in sys.modules, 'transformers' in sys.modules, 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_protocols_are_structural() -> None:
    assert isinstance(perception.create_depth("sensor"), perception.DepthEstimator)
    assert isinstance(perception.create_detector("ground-truth"), perception.Detector)
    assert isinstance(perception.create_segmenter("box-depth"), perception.Segmenter)


def test_intrinsics_prior_and_given() -> None:
    rgb = np.zeros((48, 64, 3), np.uint8)
    k = perception.intrinsics_for(Frame(image_id="a", rgb=rgb))
    assert k.hfov_deg == pytest.approx(60.0)
    assert (k.cx, k.cy, k.width, k.height) == (32.0, 24.0, 64, 48)
    given = CameraIntrinsics(fx=50, fy=50, cx=30, cy=20, width=64, height=48)
    assert perception.FovPriorIntrinsics(90).estimate(Frame(image_id="b", rgb=rgb, intrinsics=given)) == given
    assert perception.FovPriorIntrinsics(90, prefer_given=False).estimate(
        Frame(image_id="b", rgb=rgb, intrinsics=given)).hfov_deg == pytest.approx(90.0)
    with pytest.raises(ValueError, match="hfov_deg"):
        perception.FovPriorIntrinsics(200)


def test_label_aliases_and_queries() -> None:
    assert labels.normalize_label("Couch") == "sofa"
    assert labels.normalize_label("tvmonitor") == "tv"
    assert labels.normalize_label("diningtable") == "dining table"
    assert labels.query_targets("couches") >= {"sofa"}
    assert "dining table" in labels.query_targets("table")
    got = labels.match_queries(["sofa", "chair", "tv", "dining table"], ["a couch", "television", "table"])
    assert got == {"sofa": "a couch", "tv": "television", "dining table": "table"}
    assert labels.match_queries(["chair"], None) == {"chair": None}


def test_nms_matches_greedy_definition() -> None:
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    s = np.array([0.9, 0.8, 0.7, 0.95])
    assert boxes.nms(b, s, 0.5).tolist() == [3, 2]
    # per-label: same boxes with different labels both survive
    assert sorted(boxes.batched_nms(b, s, np.array([0, 1, 0, 0]), 0.5).tolist()) == [1, 2, 3]
    assert boxes.box_iou(b[:1], b[1:2])[0, 0] == pytest.approx(81 / 119)
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    assert boxes.box_from_mask(mask) == (2.0, 1.0, 5.0, 3.0)
    assert boxes.box_from_mask(np.zeros((3, 3), bool)) is None
