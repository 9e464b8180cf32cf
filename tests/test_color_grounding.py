"""Colour-aware grounding (model/composed/color.py): exact pixel moments, colour words before names, features that
tell two objects of one class apart, and the preset path through the model and its checkpoint."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from spatialvlm_core.model import VisionConfig, create_model, load_checkpoint
from spatialvlm_core.model.composed.color import (
    N_COLOR_EXTRA,
    color_lut,
    color_names,
    color_object_features,
    named_colors,
    pixel_moments,
)
from spatialvlm_core.model.composed.features import N_OBJ
from spatialvlm_core.model.composed.relation import pair_size
from spatialvlm_core.naming import COLOR_TABLE

RED, BLUE = color_names().index("red"), color_names().index("blue")


def _pixels(img: torch.Tensor) -> torch.Tensor:
    """uint8-valued (S, S, 3) -> the model's (1, 3, S, S) input in [-1, 1]."""
    return (img.permute(2, 0, 1)[None].float() / 127.5) - 1.0


def _two_patch_image() -> torch.Tensor:
    """16x16 gray image, grid 2 (8 px per token): red in the left half of token 0 (rows 0-7, columns 0-3), blue in
    all of token 3 (rows 8-15, columns 8-15)."""
    img = torch.tensor(COLOR_TABLE["gray"]).expand(16, 16, 3).clone()
    img[0:8, 0:4] = torch.tensor(COLOR_TABLE["red"])
    img[8:16, 8:16] = torch.tensor(COLOR_TABLE["blue"])
    return img


def test_pixel_moments_are_exact_shares_and_moments_per_token() -> None:
    m = pixel_moments(_pixels(_two_patch_image()), color_lut(), grid=2)
    assert m.shape == (1, 4, len(color_names()), 5)
    assert torch.allclose(m[0, :, :, 0].sum(-1), torch.ones(4))  # every pixel is some table colour
    assert m[0, 0, RED, 0].item() == pytest.approx(0.5)
    assert m[0, 3, BLUE, 0].item() == pytest.approx(1.0)
    assert m[0, 1, RED, 0].item() == 0.0 and m[0, 0, BLUE, 0].item() == 0.0
    # Red pixel centres: x in {-15/16, ..., -9/16} (columns 0-3 of 16), mean -3/4; as a mean over the token's 64 px.
    xs = (torch.arange(4).float() + 0.5) / 16 * 2 - 1
    assert (m[0, 0, RED, 1] / m[0, 0, RED, 0]).item() == pytest.approx(float(xs.mean()))
    assert (m[0, 0, RED, 3] / m[0, 0, RED, 0]).item() == pytest.approx(float(xs.pow(2).mean()))
    with pytest.raises(ValueError, match="does not tile"):
        pixel_moments(torch.zeros(1, 3, 15, 15), color_lut(), grid=2)


def test_named_colors_reads_the_word_just_before_each_name() -> None:
    # ids: 1=the 2=red 3=floor 4=lamp 5=blue 6=bed; colour sequences: red=[2], blue=[5]; names: "floor lamp", "bed"
    ids = torch.tensor([[1, 2, 3, 4, 1, 5, 6, 1, 6]])
    hit = torch.zeros(1, 9, 2)
    hit[0, 3, 0] = 1.0  # "floor lamp" ends at 3
    hit[0, 6, 1] = 1.0  # "bed" ends at 6
    hit[0, 8, 1] = 1.0  # "the bed" without a colour
    c = named_colors(ids, hit, torch.tensor([2, 1]), [[2], [5]])
    assert c.shape == (1, 9, 2)
    assert c[0, 3].tolist() == [1.0, 0.0] and c[0, 6].tolist() == [0.0, 1.0] and c[0, 8].tolist() == [0.0, 0.0]
    assert c[0, [0, 1, 2, 4, 5, 7]].sum().item() == 0.0  # only name ends carry a colour


def test_same_class_objects_come_apart_by_their_colour() -> None:
    """Both patches are one class for the dense head (the class match covers tokens 0 and 3): without a colour word
    both names pool the same tokens; with one, each pools its own colour's pixels at pixel resolution."""
    m = pixel_moments(_pixels(_two_patch_image()), color_lut(), grid=2)
    geo = torch.tensor([[[-0.5, -0.5, 0.0, 0.1], [0.5, -0.5, 0.0, 0.1], [-0.5, 0.5, 0.0, 0.1],
                         [0.5, 0.5, 1.0, 0.3]]])  # token x, y, log depth, height
    match = torch.tensor([[[1.0, 0.0, 0.0, 1.0]]]).expand(1, 3, 4)  # three text tokens naming the same class
    colour = torch.zeros(1, 3, len(color_names()))
    colour[0, 0, RED] = 1.0
    colour[0, 1, BLUE] = 1.0  # text token 2: no colour word
    f = color_object_features(match, geo, colour, m)
    assert f.shape == (1, 3, N_COLOR_EXTRA)
    # Colour-weighted token features: red covers half of token 0 (factor 1) and none of token 3 (factor 0.1).
    w = torch.tensor([1.0, 0.1])
    assert f[0, 0, 0].item() == pytest.approx(float((w * torch.tensor([-0.5, 0.5])).sum() / w.sum()), abs=1e-5)
    assert f[0, 1, 2].item() == pytest.approx(float((torch.tensor([0.1, 1.0]) * torch.tensor([0.0, 1.0])).sum() / 1.1),
                                              abs=1e-5)  # blue: its own token's log depth dominates
    # Pixel moments: red pixels' centroid and share exactly; blue's centroid at token 3's centre.
    assert f[0, 0, 8].item() == pytest.approx(math.log(0.5), abs=1e-4)
    assert f[0, 0, 9].item() == pytest.approx(-0.75, abs=1e-5) and f[0, 0, 10].item() == pytest.approx(-0.5, abs=1e-5)
    assert f[0, 1, 9].item() == pytest.approx(0.5, abs=1e-5) and f[0, 1, 10].item() == pytest.approx(0.5, abs=1e-5)
    assert f[0, :, -1].tolist() == [1.0, 1.0, 0.0]
    # No colour word: all pixels of the matched tokens (two whole tokens, centroid between them).
    assert f[0, 2, 8].item() == pytest.approx(math.log(2.0), abs=1e-4)
    assert f[0, 2, 9].item() == pytest.approx(0.0, abs=1e-5)


def _color_micro(texts: list[str], **kw):  # type: ignore[no-untyped-def]
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                       word_grounding=True, name_match="exact", relation_head=32, relation_copy=True,
                       relation_color=True, relation_word_dropout=0.15, **kw)
    return create_model("micro", tokenizer_texts=texts, vision=vis, answer_sep="")


def test_color_preset_trains_saves_and_reloads(tmp_path, relation_fit) -> None:  # type: ignore[no-untyped-def]
    from spatialvlm_core.types import QAPair

    qs = ["Is the red sofa left of the blue sofa?", "Is the blue sofa left of the red sofa?"]
    answers = ["Yes.", "No."]
    torch.manual_seed(0)
    model = _color_micro(qs + answers)
    assert model.relation.geo_in.in_features == pair_size(True) == 3 * (N_OBJ + N_COLOR_EXTRA) + 2
    ims = [Image.new("RGB", (32, 32), COLOR_TABLE["gray"]) for _ in qs]
    for im in ims:
        im.paste(COLOR_TABLE["red"], (0, 8, 8, 24))
        im.paste(COLOR_TABLE["blue"], (24, 8, 32, 24))
    batch = model.encode(ims, qs, answers)
    rows = [QAPair(id=f"q{i}", image_id="i", qtype="left_right_predicate", category="qualitative", kind="predicate",
                   question=q, answer=a, object_ids=["a", "b"], truth_bool=(i == 0)) for i, (q, a) in
            enumerate(zip(qs, answers, strict=True))]
    batch.update(model.relation_batch(rows))
    first, last = relation_fit(model, batch)
    assert last < first
    # The two questions differ only in which colour comes first: their pair features must differ.
    ids = batch["input_ids"]
    pair, _ = model.relation_inputs(model.vision(batch["pixel_values"]), ids, pixel_values=batch["pixel_values"])
    assert not torch.allclose(pair[0, -1], pair[1, -1])
    with pytest.raises(ValueError, match="pixel_values"):
        model.relation_inputs(model.vision(batch["pixel_values"]), ids)
    model.save(tmp_path / "ck")
    again = load_checkpoint(tmp_path / "ck")
    assert again.generate(ims, qs) == model.generate(ims, qs)


def test_color_grounding_config_errors() -> None:
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                       word_grounding=True, name_match="exact", relation_color=True)
    with pytest.raises(ValueError, match=r"relation_color needs vision\.relation_head"):
        create_model("micro", tokenizer_texts=["a"], vision=vis)
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                       word_grounding=True, relation_head=8, relation_color=True)
    with pytest.raises(ValueError, match=r"name_match=.exact."):
        create_model("micro", tokenizer_texts=["a"], vision=vis)
    with pytest.raises(ValueError, match="not a multiple of grid"):
        create_model("micro", tokenizer_texts=["a"],  # a 30 px image does not tile a 4x4 grid
                     vision=VisionConfig(image_size=30, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                                         word_grounding=True, name_match="exact", relation_head=8,
                                         relation_color=True))
