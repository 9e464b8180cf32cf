"""Detectors: tiny random OWLv2 / Grounding DINO end to end, YOLOX-nano on a real photo, ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatialvlm_core import perception
from spatialvlm_core.perception.detect_hf import GroundingDinoDetector, Owlv2Detector
from spatialvlm_core.perception.synthetic import demo_rooms, render
from spatialvlm_core.types import Frame

H, W = 48, 64
WORDS = ["a", "photo", "of", "chair", "table", "sofa", "lamp", "tv"]


def _frame() -> Frame:
    rgb = np.random.default_rng(1).integers(0, 255, (H, W, 3), dtype=np.uint8)
    return Frame(image_id="f", rgb=rgb)


def clip_tokenizer(tmp: Path) -> Any:
    """A CLIP BPE tokenizer over a tiny vocabulary written locally (no download)."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    for w in WORDS:
        vocab.setdefault(w + "</w>", len(vocab))
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "vocab.json").write_text(json.dumps(vocab))
    (tmp / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"), model_max_length=16)


def tiny_owlv2(tmp: Path) -> tuple[Any, Any]:
    import torch
    import transformers
    from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

    tok = clip_tokenizer(tmp / "tok")
    cfg = transformers.Owlv2Config(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=32,
    )
    torch.manual_seed(0)
    proc = transformers.Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": 32, "width": 32}),
                                       tokenizer=tok)
    return transformers.Owlv2ForObjectDetection(cfg).eval(), proc


def tiny_grounding_dino(tmp: Path) -> tuple[Any, Any]:
    import torch
    import transformers
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *WORDS]) + "\n")
    tok = transformers.BertTokenizer(str(tmp / "vocab.txt"))
    bb = transformers.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1],
                                 num_heads=[1, 1, 2, 2], window_size=2, out_indices=[2, 3, 4])
    tc = transformers.BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=37, max_position_embeddings=64)
    cfg = transformers.GroundingDinoConfig(
        backbone_config=bb, text_config=tc, d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2, num_queries=10,
        num_feature_levels=3, encoder_n_points=2, decoder_n_points=2, max_text_len=32,
    )
    torch.manual_seed(0)
    ip = GroundingDinoImageProcessorPil(size={"shortest_edge": 32, "longest_edge": 64})
    return transformers.GroundingDinoForObjectDetection(cfg).eval(), transformers.GroundingDinoProcessor(
        image_processor=ip, tokenizer=tok)


CASES = [("owlv2", Owlv2Detector, tiny_owlv2), ("grounding-dino", GroundingDinoDetector, tiny_grounding_dino)]


@pytest.mark.parametrize(("name", "cls", "build"), CASES, ids=[c[0] for c in CASES])
def test_open_vocab_detector_end_to_end(name: str, cls: type, build: Any, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    model, proc = build(tmp_path / "build")
    queries = ["chair", "table"]
    det = cls.from_model(model, proc, score_threshold=0.0, max_detections=5, nms_iou=0.5)
    out = det.detect(_frame(), queries)
    assert out.backend == name and (out.width, out.height) == (W, H)
    assert 1 <= len(out) <= 5  # threshold 0 keeps boxes; the cap holds
    scores = [d.score for d in out.items]
    assert scores == sorted(scores, reverse=True)
    for d in out.items:
        assert d.label in queries and d.query == d.label and 0 <= d.score <= 1
        x0, y0, x1, y1 = d.box_xyxy
        assert 0 <= x0 <= x1 <= W and 0 <= y0 <= y1 <= H
    # NMS: no two kept boxes of one label overlap beyond the IoU threshold
    from spatialvlm_core.perception.boxes import box_iou

    for lab in queries:
        b = np.array([d.box_xyxy for d in out.items if d.label == lab]).reshape(-1, 4)
        iou = box_iou(b, b) - np.eye(len(b))
        assert (iou <= 0.5 + 1e-9).all()
    # a threshold above every score returns nothing
    assert len(cls.from_model(model, proc, score_threshold=1.0).detect(_frame(), queries)) == 0

    model.save_pretrained(tmp_path / "saved")
    proc.save_pretrained(tmp_path / "saved")
    loaded = perception.create_detector(name, model=tmp_path / "saved", score_threshold=0.0, max_detections=5)
    again = loaded.detect(_frame(), queries)
    assert [d.label for d in again.items] == [d.label for d in out.items]
    np.testing.assert_allclose([d.score for d in again.items], scores, rtol=1e-4)


def test_open_vocab_detector_rejects_bad_arguments(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    model, proc = tiny_owlv2(tmp_path)
    with pytest.raises(ValueError, match="score_threshold"):
        Owlv2Detector.from_model(model, proc, score_threshold=1.5)
    with pytest.raises(ValueError, match="queries"):
        Owlv2Detector.from_model(model, proc).detect(_frame(), [" "])


def test_yolox_on_real_photo(shared_dir: Path) -> None:
    from PIL import Image

    rgb = np.asarray(Image.open(shared_dir / "images" / "coco_living_room_000000000139.jpg").convert("RGB"))
    det = perception.create_detector("yolox-onnx", model=shared_dir / "models/yolox_nano/yolox_nano.onnx")
    out = det.detect(Frame(image_id="coco139", rgb=rgb))
    found = [(d.label, round(d.score, 2)) for d in out.items]
    # The figures of ../shared/models/yolox_nano/README.md
    for expected in [("tv", 0.90), ("person", 0.69), ("chair", 0.66), ("chair", 0.61), ("clock", 0.60),
                     ("dining table", 0.46)]:
        assert expected in found, found
    chairs = [d for d in out.items if d.label == "chair"]
    assert all(300 < (d.box_xyxy[0] + d.box_xyxy[2]) / 2 < 420 for d in chairs)  # both chairs mid-right
    only = det.detect(Frame(image_id="coco139", rgb=rgb), queries=["table", "armchair"])
    assert sorted({d.label for d in only.items}) == ["chair", "dining table"]
    assert {d.query for d in only.items} == {"table", "armchair"}


def test_yolox_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="YOLOX ONNX model not found"):
        perception.create_detector("yolox-onnx", model=tmp_path / "none.onnx")


def test_ground_truth_detector_on_synthetic_room() -> None:
    frame = render(demo_rooms()[0], "room0")
    out = perception.create_detector("ground-truth").detect(frame)
    gt = frame.ground_truth
    assert gt is not None
    assert [d.gt_id for d in out.items] == [o.id for o in gt.scene.objects]  # all visible
    for d, obj in zip(out.items, gt.scene.objects, strict=True):
        assert d.label == obj.name and d.score == 1.0 and d.mask is not None
        assert np.array_equal(d.mask, gt.instances == obj.mask_id)
        ys, xs = np.nonzero(d.mask)
        assert d.box_xyxy == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    chairs = perception.create_detector("ground-truth").detect(frame, queries=["chairs"])
    assert {d.label for d in chairs.items} == {"chair"} and len(chairs) == 2
    with pytest.raises(ValueError, match="has no ground_truth"):
        perception.create_detector("ground-truth").detect(_frame())
