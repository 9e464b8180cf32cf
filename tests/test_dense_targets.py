"""Dense per-token vision targets: exact values on hand-made arrays, agreement with a render, and the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatialvlm_core.dataset.dense_labels import (
    IGNORE,
    DenseCache,
    dense_path,
    dense_targets,
    save_dense,
    sim_dense_targets,
)
from spatialvlm_core.model import VisionConfig, create_model
from spatialvlm_core.model.composed.features import N_OBJ, object_features, pair_features
from spatialvlm_core.model.composed.grounding import NameGrounding
from spatialvlm_core.model.dense_classes import DENSE_CLASSES, EXTRA_CLASSES, class_names
from spatialvlm_core.sim.catalog import CATEGORIES


def test_the_frozen_class_list_is_background_the_sorted_sim_catalogue_and_the_extras() -> None:
    # The model's copy (model/dense_classes.py) must not drift from the simulator it was labelled with.
    assert ["background", *sorted(CATEGORIES), *EXTRA_CLASSES] == DENSE_CLASSES
    assert class_names(32) == DENSE_CLASSES[:32]
    with pytest.raises(ValueError, match="dense_classes=1"):
        class_names(1)


def test_dense_targets_exact_on_a_two_by_two_grid() -> None:
    inst = np.zeros((4, 4), np.int32)
    inst[:2, :2] = 7  # top-left cell fully covered by object 7
    inst[2, 2] = 9  # bottom-right cell: 1 pixel of 4 = 25% >= 15% -> labelled
    depth = np.full((4, 4), 2.0, np.float32)
    depth[:2, 2:] = 4.0
    depth[3, 0] = 0.0  # invalid pixel is ignored
    z = np.arange(16, dtype=np.float64).reshape(4, 4)
    t = dense_targets(inst, depth, z, {7: "sofa", 9: "mug"}, grid=2)
    assert t["cls"].tolist() == [DENSE_CLASSES.index("sofa"), 0, 0, DENSE_CLASSES.index("mug")]
    np.testing.assert_allclose(np.exp(t["log_depth"]), [2.0, 4.0, 2.0, 2.0], rtol=1e-6)
    assert t["height"][0] == pytest.approx(np.median([0, 1, 4, 5]))
    assert t["height"][2] == pytest.approx(np.median([8, 9, 12]))  # pixel (3, 0) had no depth


def test_dense_targets_unknown_category_is_ignored_and_shapes_checked() -> None:
    inst = np.ones((4, 4), np.int32)
    t = dense_targets(inst, np.ones((4, 4)), np.zeros((4, 4)), {1: "spaceship"}, grid=2)
    assert (t["cls"] == IGNORE).all()
    with pytest.raises(ValueError, match="differ"):
        dense_targets(inst, np.ones((3, 4)), np.zeros((4, 4)), {}, grid=2)


def test_sim_dense_targets_agree_with_the_render(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from spatialvlm_core.sim import SimConfig, generate_scene

    sim = generate_scene(3, SimConfig(width=128, height=96))
    t = sim_dense_targets(sim, 8)
    assert t["cls"].shape == (64,) and t["cls"].max() < len(DENSE_CLASSES)
    names = {DENSE_CLASSES[c] for c in t["cls"] if c > 0}
    assert names and names <= {o.name for o in sim.scene.objects}
    # The bottom row sees the floor: height ~0. Depth is the median of the exact depth map.
    assert np.abs(t["height"][-8:]).max() < 0.05
    np.testing.assert_allclose(np.exp(t["log_depth"][0]), np.median(sim.depth[:12, :16]), rtol=1e-5)
    f = dense_path(tmp_path / "images" / "000001.png")
    assert f.name == "000001.dense.npz"
    f.parent.mkdir()
    save_dense(f, t)
    got = DenseCache()(tmp_path / "images" / "000001.png")
    assert got is not None and (got["cls"] == t["cls"]).all()
    assert DenseCache()(tmp_path / "images" / "other.png") is None


def test_dense_loss_trains_the_tower_and_checks_the_grid() -> None:
    from PIL import Image


    torch.manual_seed(0)
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=len(DENSE_CLASSES))
    model = create_model("micro", tokenizer_texts=["how far", "1 m"], vision=vis)
    rng = np.random.default_rng(0)
    cls = rng.integers(0, 3, 16)
    target = {"cls": cls, "log_depth": np.log(1 + cls).astype(np.float32), "height": cls.astype(np.float32) * 0.3}
    images = [Image.fromarray((np.kron(cls.reshape(4, 4), np.ones((8, 8)))[..., None] * 100).repeat(3, -1).astype(np.uint8))]
    batch = model.encode(images * 4, ["how far"] * 4, ["1 m"] * 4)
    batch.update(model.dense_batch([target, target, target, None]))
    assert batch["dense_cls"][3].eq(IGNORE).all()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        parts = model.loss_parts(batch)
        first = first if first is not None else float(parts["dense"])
        opt.zero_grad()
        sum(parts.values()).backward()
        opt.step()
    assert float(parts["dense"]) < 0.5 * first
    with pytest.raises(ValueError, match="grid mismatch"):
        model.dense_batch([{k: v[:9] for k, v in target.items()}])
    # A dataset without dense targets adds nothing to the batch.
    assert model.dense_batch([None, None]) == {}


def _grounded_micro():  # type: ignore[no-untyped-def]

    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4,
                       dense_classes=len(DENSE_CLASSES), word_grounding=True)
    texts = ["Where is the armchair?", "x 1 y 2", "How far is the coffee table from the sofa?", "1.5 m"]
    return create_model("micro", tokenizer_texts=texts, vision=vis)


def test_word_grounding_adds_the_class_name_embedding() -> None:
    torch.manual_seed(0)
    model = _grounded_micro()
    k = len(DENSE_CLASSES)
    assert model.grounding.class_word_ids.shape[0] == k and model.grounding.class_word_mask[0].sum() == 0  # background: no word
    # Force the head to see "sofa" everywhere: each image token must gain the mean embedding of " sofa".
    head = model.vision.dense_head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[DENSE_CLASSES.index("sofa")] = 50.0
    tokens = model.vision(torch.zeros(1, 3, 32, 32))
    probs, words = model.grounding.class_probs_and_words(head(tokens), model.lm.get_input_embeddings())
    got = (probs @ words)[0, 0]
    ids = model.tokenizer(" sofa", add_special_tokens=False).input_ids
    want = model.lm.get_input_embeddings()(torch.tensor(ids)).mean(0)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_word_grounding_model_saves_and_reloads_identically(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from spatialvlm_core.model import load_checkpoint

    torch.manual_seed(0)
    model = _grounded_micro().eval()
    img = [Image.fromarray(np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8))]
    before = model.generate(img, ["Where is the armchair?"], max_new_tokens=6)
    model.save(tmp_path / "ck")
    again = load_checkpoint(tmp_path / "ck").eval()
    assert again.preset.vision.word_grounding
    assert again.generate(img, ["Where is the armchair?"], max_new_tokens=6) == before


def test_word_grounding_needs_a_dense_head() -> None:

    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, word_grounding=True)
    with pytest.raises(ValueError, match="needs a dense head"):
        create_model("micro", tokenizer_texts=["a"], vision=vis)


def test_name_pointer_pools_the_named_class_into_the_question_word() -> None:
    k, d = 4, 8
    words = torch.zeros(k, d)
    words[1, 0] = 1.0  # class 1 ("sofa") name embedding along e0
    words[2, 1] = 1.0  # class 2 along e1
    txt = torch.zeros(1, 3, d)
    txt[0, 0, 0] = 0.3  # the word "sofa": same direction as class 1
    txt[0, 1, 1] = 0.3  # class 2's word
    txt[0, 2, 5] = 0.3  # an unrelated word
    probs = torch.zeros(1, 3, k)
    probs[0, 0, 1] = probs[0, 1, 1] = 1.0  # image tokens 0 and 1 show class 1
    probs[0, 2, 0] = 1.0  # token 2: background
    img = torch.arange(3 * d, dtype=torch.float32).reshape(1, 3, d)
    out = NameGrounding.name_pointer(NameGrounding.word_match(txt, probs, words), img)
    torch.testing.assert_close(out[0, 0], img[0, :2].mean(0))  # mean of the two sofa tokens
    assert out[0, 1].abs().sum() == 0  # class 2 named but not in view: nothing
    assert out[0, 2].abs().sum() == 0  # unrelated word: nothing


def test_name_pointer_reaches_question_tokens_only_in_training() -> None:
    torch.manual_seed(0)
    from PIL import Image

    model = _grounded_micro()
    img = [Image.fromarray(np.full((32, 32, 3), 90, dtype=np.uint8))]
    batch = model.encode(img, ["Where is the sofa?"], ["x 1 y 2"])
    # The answer tokens must embed as plain words (generation feeds them one by one, without the pointer).
    mask = batch["labels"] == -100
    with torch.no_grad():
        emb = model.embed(batch["pixel_values"], batch["input_ids"], prompt_mask=mask)[0]
        plain = model.lm.get_input_embeddings()(batch["input_ids"])
    n_img = emb.shape[1] - batch["input_ids"].shape[1]
    answer = ~mask[0]
    torch.testing.assert_close(emb[0, n_img:][answer], plain[0][answer])


def _exact_micro():  # type: ignore[no-untyped-def]
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4,
                       dense_classes=len(DENSE_CLASSES), word_grounding=True, name_match="exact")
    texts = ["Is the gray side table left of the beige table lamp, the bookshelf, the book or the sofa? Yes"]
    return create_model("micro", tokenizer_texts=texts, vision=vis)


def test_exact_names_mark_the_last_token_of_each_class_name_longest_first() -> None:
    model = _exact_micro()
    tok = model.tokenizer
    q = "Is the gray side table left of the beige table lamp, the bookshelf, the book or the sofa?"
    ids = torch.tensor([tok(q, add_special_tokens=False).input_ids])
    hit = model.grounding.exact_names(ids)
    found = [(tok.decode(ids[0, : int(p) + 1]).rstrip(), DENSE_CLASSES[int(c) + 1])
             for p, c in zip(*torch.nonzero(hit[0], as_tuple=True), strict=True)]
    assert [c for _, c in found] == ["side table", "table lamp", "bookshelf", "book", "sofa"]
    assert all(text.endswith(name) for text, name in found)  # at the name's last token
    # A class name made of other names' tokens ("bookshelf" may tokenise as "book" + "shelf") is one object only.
    for inner, outer, gap in model.grounding.nested:
        assert model.grounding.class_seqs[inner] != model.grounding.class_seqs[outer] and gap >= 0
    pad = torch.full((1, 4), tok.pad_token_id)
    torch.testing.assert_close(model.grounding.exact_names(torch.cat([pad, ids], 1))[:, 4:], hit)  # left padding: same


def test_exact_names_drop_a_shorter_name_inside_a_longer_one() -> None:
    model = _exact_micro()
    # Two made-up classes whose token sequences nest: class 0 = [7], class 1 = [5, 7].
    model.grounding.class_seqs = [[7], [5, 7], [9]]
    model.grounding.nested = [(0, 1, 0)]
    ids = torch.tensor([[1, 5, 7, 2, 7, 9]])
    hit = model.grounding.exact_names(ids)
    assert hit[0, 2].tolist() == [0.0, 1.0, 0.0]  # "5 7": the longer name only
    assert hit[0, 4].tolist() == [1.0, 0.0, 0.0]  # a lone 7 is class 0
    assert hit[0, 5].tolist() == [0.0, 0.0, 1.0]
    assert hit.sum() == 3


def test_exact_names_count_an_object_the_head_barely_sees() -> None:
    """With exact names a named object is one even where the head gives it little mass (the embedding match drops
    it below 0.5), so the pair geometry is not silently zero for small objects."""
    geo = torch.tensor([[[-1.0, 0.0, 0.5, 0.2], [1.0, 0.5, 1.5, 1.0]]])
    match = torch.zeros(1, 4, 2)
    match[0, 1, 0] = 1.0
    match[0, 3, 1] = 0.2  # B: a small object, 0.2 of one token
    obj = object_features(match, geo)
    assert pair_features(obj, match.sum(-1) > 0.5)[0, 3, -1] == 0  # the embedding match's mass rule: B unnamed
    out = pair_features(obj, torch.tensor([[False, True, False, True]]))
    assert out[0, 3, -1] == 1  # two objects named
    torch.testing.assert_close(out[0, 3, 2 * N_OBJ:2 * N_OBJ + 4], geo[0, 1] - geo[0, 0])  # B - A


def test_exact_name_model_trains_saves_and_reloads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from spatialvlm_core.model import load_checkpoint

    torch.manual_seed(0)
    model = _exact_micro()
    img = [Image.fromarray(np.full((32, 32, 3), 90, dtype=np.uint8))]
    q = ["Is the gray side table left of the sofa?"]
    loss = model.loss(model.encode(img, q, ["Yes"]))
    loss.backward()
    assert model.geo_proj.weight.grad is not None and model.geo_proj.weight.grad.abs().sum() > 0
    model.eval()
    model.save(tmp_path / "m")
    again = load_checkpoint(tmp_path / "m")
    assert again.preset.vision.name_match == "exact"
    assert again.generate(img, q) == model.generate(img, q)
    with pytest.raises(ValueError, match="name_match"):
        create_model("micro", tokenizer_texts=["a"], vision=VisionConfig(
            image_size=32, channels=(16, 32), grid=4, dense_classes=len(DENSE_CLASSES), word_grounding=True,
            name_match="fuzzy"))  # type: ignore[arg-type]


def test_an_object_smaller_than_a_token_still_gets_the_cell_it_covers_most() -> None:
    from spatialvlm_core.dataset.dense_labels import dense_targets

    inst = np.zeros((16, 16), dtype=np.int64)
    inst[:, :8] = 1  # a large object: the left half
    inst[9:11, 13:15] = 2  # 4 pixels of a small one in the bottom-right cell (6% of its 64 pixels)
    inst[0, 15] = 3  # 1 pixel: under MIN_SMALL_SHARE, stays unlabelled
    depth = np.ones((16, 16))
    cats = {1: "sofa", 2: "mug", 3: "book"}
    out = dense_targets(inst, depth, np.zeros((16, 16)), cats, grid=2)
    sofa, mug = DENSE_CLASSES.index("sofa"), DENSE_CLASSES.index("mug")
    assert out["cls"].tolist() == [sofa, 0, sofa, mug]
