"""Point grounding (model/composed/points.py, targets in model/point_grounding.py): the heading-frame points and their per-cell targets from exact
labels, the space-to-depth packing, exact pair distances on synthetic point maps, and the preset through the
model, its dense loss and its checkpoint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from spatialvlm_core.model import VisionConfig, create_model, load_checkpoint
from spatialvlm_core.model.composed.points import (
    EPS_M,
    N_POINT_FEATURES,
    named_member,
    pack,
    point_pair_features,
    unpack,
)
from spatialvlm_core.model.composed.relation import pair_size
from spatialvlm_core.model.point_grounding import heading_frame_points, point_targets
from spatialvlm_core.naming import COLOR_TABLE


def _level_camera(heading: float, pos: tuple[float, float, float]) -> np.ndarray:
    """world_from_camera of a level OpenCV camera (x right, y down, z forward) looking along ``heading``."""
    f = np.array([math.cos(heading), math.sin(heading), 0.0])
    right = np.array([f[1], -f[0], 0.0])
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, [0.0, 0.0, -1.0], f, pos
    return m


def test_heading_frame_points_are_camera_relative_and_turn_with_the_heading() -> None:
    depth = np.full((3, 3), 2.0)
    depth[0, 2] = 4.0
    a = heading_frame_points(depth, 1.0, 1.0, 1.0, 1.0, _level_camera(0.3, (3.0, 4.0, 1.5)))
    assert a[1, 1] == pytest.approx([0.0, 2.0, 1.5])  # the principal point: straight ahead at camera height
    # Pixel (row 0, column 2): one unit right and up per unit of depth, 4 m away.
    assert a[0, 2] == pytest.approx([4.0, 4.0, 5.5])
    # Another camera position and heading sees the same points relative to itself.
    b = heading_frame_points(depth, 1.0, 1.0, 1.0, 1.0, _level_camera(-2.0, (-1.0, 0.5, 1.5)))
    assert np.allclose(a, b)


def test_point_targets_take_the_majority_object_and_its_median_point() -> None:
    inst = np.zeros((4, 4), dtype=np.int64)
    inst[:2, :2] = 7  # cell 0: all object 7
    inst[0, 2] = 9  # cell 1: 1 of 4 pixels, under half -> background
    inst[2:, 2:] = [[5, 5], [5, 0]]  # cell 3: 3 of 4 -> object 5
    pts = np.arange(48, dtype=np.float64).reshape(4, 4, 3)
    t = point_targets(inst, pts, {7: "sofa", 9: "lamp", 5: "armchair"}, 2, ["background", "armchair", "lamp", "sofa"])
    assert t["fine_cls"].tolist() == [3, 0, 0, 1]
    assert t["fine_xyz"][0] == pytest.approx(np.median(pts[:2, :2].reshape(-1, 3), 0))
    assert t["fine_xyz"][1] == pytest.approx(np.median(pts[:2, 2:].reshape(-1, 3)[[1, 2, 3]], 0))  # background px
    assert t["fine_xyz"][3] == pytest.approx(np.median(pts[2:, 2:].reshape(-1, 3)[:3], 0))
    with pytest.raises(ValueError, match="differ"):
        point_targets(inst, pts[:3], {}, 2, ["background"])


def test_pack_and_unpack_are_inverse_and_row_major() -> None:
    fine = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    packed = pack(fine, 2)
    assert packed.shape == (2, 4, 27)
    back = unpack(packed, 2, 6)
    assert back.shape == (2, 36, 3)
    assert torch.equal(back, fine.flatten(2).transpose(1, 2))


def test_pair_features_measure_closest_points_centroids_and_extents_exactly() -> None:
    # Four cells: A at x = 0 and x = 1 (heights 0.5, 0.8); B at x = 3 and x = 4.5 (floor y 2).
    xyz = torch.tensor([[[0.0, 2.0, 0.5], [1.0, 2.0, 0.8], [3.0, 2.0, 0.4], [4.5, 2.0, 0.4]]])
    a = torch.tensor([[0.9, 0.6, 0.0, 0.04]])  # the last cell is too weak to count
    b = torch.tensor([[0.0, 0.0, 0.7, 0.55]])
    f = point_pair_features(a, b, xyz)
    assert f.shape == (1, N_POINT_FEATURES)
    lg = lambda x: math.log(x + EPS_M)  # noqa: E731
    assert f[0, :5].tolist() == pytest.approx([lg(0.8), lg(0.3), lg(1.0), lg(0.0), lg(math.hypot(0.5, 2.0))])
    assert f[0, 5:10].tolist() == pytest.approx([lg(0.4), lg(0.0), lg(1.5), lg(0.0), lg(math.hypot(3.75, 2.0))])
    closest3d = math.hypot(2.0, 0.4)
    assert f[0, 10:14].tolist() == pytest.approx([lg(2.0), lg(closest3d), lg(3.25), lg(math.hypot(3.25, 0.25))])
    assert f[0, 14:].tolist() == [1.0, 1.0]
    # A weak object still gets its strongest cell; an absent one gives zeros and a 0 flag.
    g = point_pair_features(torch.tensor([[0.2, 0.1, 0.0, 0.0]]), torch.zeros(1, 4), xyz)
    assert g[0, 0].item() == pytest.approx(lg(0.5)) and g[0, 5:14].abs().sum().item() == 0.0
    assert g[0, 14:].tolist() == [1.0, 0.0]


def test_named_member_weights_class_probability_by_the_named_colour() -> None:
    probs = torch.tensor([[[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]]])  # background, class 1, class 2
    shares = torch.tensor([[[1.0, 0.0], [0.1, 0.9], [0.5, 0.5]]])  # colour 0, colour 1 per cell
    name = torch.tensor([[1.0, 0.0]])  # class 1 (background excluded)
    plain = named_member(name, torch.zeros(1, 2), probs, shares)
    assert plain[0].tolist() == pytest.approx([0.9, 0.8, 0.0])
    col1 = named_member(name, torch.tensor([[0.0, 1.0]]), probs, shares)
    assert col1[0].tolist() == pytest.approx([0.9 * 0.1, 0.8, 0.0])


def _points_micro(texts: list[str], **kw):  # type: ignore[no-untyped-def]
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                       word_grounding=True, name_match="exact", relation_head=32, relation_copy=True,
                       relation_color=True, fine_grid=8, **kw)
    return create_model("micro", tokenizer_texts=texts, vision=vis, answer_sep="")


def _dense(seed: int) -> dict[str, np.ndarray]:
    r = np.random.default_rng(seed)
    return {"cls": r.integers(0, 32, 16), "log_depth": r.normal(size=16).astype(np.float32),
            "height": r.random(16).astype(np.float32), "fine_cls": r.integers(0, 32, 64),
            "fine_xyz": r.normal(size=(64, 3)).astype(np.float32)}


def test_points_preset_trains_its_fine_head_saves_and_reloads(tmp_path, relation_fit) -> None:  # type: ignore[no-untyped-def]
    from spatialvlm_core.types import QAPair

    qs = ["How far is the red sofa from the blue sofa?", "What is the gap between the blue sofa and the red sofa?"]
    answers = ["1.5 m", "0.5 m"]
    torch.manual_seed(0)
    model = _points_micro(qs + answers)
    assert model.relation.geo_in.in_features == pair_size(True, True) == pair_size(True) + N_POINT_FEATURES
    ims = [Image.new("RGB", (32, 32), COLOR_TABLE["gray"]) for _ in qs]
    for im in ims:
        im.paste(COLOR_TABLE["red"], (0, 8, 8, 24))
        im.paste(COLOR_TABLE["blue"], (24, 8, 32, 24))
    batch = model.encode(ims, qs, answers)
    out = model.vision(batch["pixel_values"])
    tokens, fine = model.vision.split(out)
    assert tokens.shape == (2, 16, 32) and fine is not None and fine.shape == (2, 64, 35)
    # The dense loss includes the fine head: it has a gradient from the fine targets alone.
    dense = model.dense_batch([_dense(0), _dense(1)])
    assert dense["fine_cls"].shape == (2, 64) and dense["fine_xyz"].shape == (2, 64, 3)
    model.dense_loss(out, {**dense, "dense_cls": torch.full_like(dense["dense_cls"], -100),
                            "dense_geo": torch.full_like(dense["dense_geo"], float("nan"))}).backward()
    assert model.vision.fine_head.net[0].weight.grad.abs().sum() > 0  # type: ignore[union-attr]
    model.zero_grad()
    rows = [QAPair(id=f"q{i}", image_id="i", qtype="distance", category="quantitative", kind="quantitative",
                   question=q, answer=a, object_ids=["a", "b"], value=v, unit="m", truth=v)
            for i, (q, a, v) in enumerate(zip(qs, answers, [1.5, 0.5], strict=True))]
    batch.update(model.relation_batch(rows))
    first, last = relation_fit(model, batch)
    assert last < first
    model.save(tmp_path / "ck")
    again = load_checkpoint(tmp_path / "ck")
    assert again.generate(ims, qs) == model.generate(ims, qs)
    with pytest.raises(ValueError, match="fine_grid mismatch"):
        model.dense_batch([{**_dense(0), "fine_cls": np.zeros(10, dtype=np.int64)}])


def test_point_grounding_config_errors() -> None:
    base = dict(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                word_grounding=True, name_match="exact", relation_head=8)
    with pytest.raises(ValueError, match=r"needs vision\.relation_color"):
        create_model("micro", tokenizer_texts=["a"], vision=VisionConfig(**base, fine_grid=8))
    with pytest.raises(ValueError, match="a CNN stage of that size"):
        create_model("micro", tokenizer_texts=["a"], vision=VisionConfig(**base, relation_color=True, fine_grid=12))
