"""The relation head (model/composed/relation.py): exact pooled features, targets from QA rows, and the XOR it must learn."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from spatialvlm_core.model import VisionConfig, create_model, load_checkpoint
from spatialvlm_core.model.composed.features import N_OBJ, N_PAIR, object_features, pair_features
from spatialvlm_core.model.composed.relation import RelationHead, caption_contrast, relation_targets
from spatialvlm_core.types import QAPair


def _qa(**kw):  # type: ignore[no-untyped-def]
    base = dict(id="q", image_id="i", qtype="left_right_predicate", category="qualitative", kind="predicate",
                question="Is the sofa left of the lamp?", answer="Yes.", object_ids=["a", "b"])
    base.update(kw)
    return QAPair(**base)


def test_object_features_pool_the_matched_tokens_exactly() -> None:
    geo = torch.tensor([[[-1.0, 0.0, 0.5, 0.2], [1.0, 0.0, 1.5, 0.4], [0.0, 1.0, 0.0, 0.0]]])  # (1, 3 tokens, 4)
    match = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])  # text token 0 names image tokens 0 and 1
    f = object_features(match, geo)
    assert f.shape == (1, 2, N_OBJ)
    assert torch.allclose(f[0, 0, :4], torch.tensor([0.0, 0.0, 1.0, 0.3]))
    assert f[0, 0, 4].item() == pytest.approx(math.log1p(2.0))
    assert f[0, 0, 5].item() == pytest.approx(math.log(math.sqrt(1.0 + 0.0025)), abs=1e-5)  # x spread 1
    assert f[0, 0, 6].item() == pytest.approx(math.log(0.05), abs=1e-5)  # no y spread: the floor


def test_pair_features_carry_the_first_and_latest_named_object_forward() -> None:
    obj = torch.arange(4 * N_OBJ, dtype=torch.float32).reshape(1, 4, N_OBJ)
    named = torch.tensor([[False, True, False, True]])
    p = pair_features(obj, named)
    assert p.shape == (1, 4, N_PAIR)
    assert torch.equal(p[0, 0], torch.zeros(N_PAIR))  # nothing named yet
    a, b = obj[0, 1], obj[0, 3]
    assert torch.equal(p[0, 2, :N_OBJ], a) and torch.equal(p[0, 2, N_OBJ:2 * N_OBJ], a)  # one named: first = latest
    assert torch.equal(p[0, 3], torch.cat([a, b, b - a, torch.tensor([1.0, 1.0])]))
    assert p[0, 2, -2:].tolist() == [1.0, 0.0]


def test_relation_targets_from_predicates_choices_and_metric_rows() -> None:
    caps = ["the gray sofa", "the black lamp"]
    rows = [
        _qa(truth_bool=False),
        _qa(kind="choice", qtype="left_right_choice", question="Which is more to the left, the gray sofa or the "
            "black lamp?", choice="the black lamp", provenance={"captions": caps}),
        _qa(kind="choice", qtype="left_right_choice", question="Of the black lamp and the gray sofa, which is more to "
            "the left?", choice="the black lamp", provenance={"captions": caps}),
        _qa(category="quantitative", kind="quantitative", qtype="distance", question="How far?", answer="2 m", value=2.0,
            unit="m", truth=2.3),
        _qa(category="quantitative", kind="quantitative", qtype="width", question="How wide?", answer="50 cm",
            value=50.0, unit="cm"),
        _qa(qtype="locate", kind="choice", choice="x 1 y 2", provenance={"aux": True}),
        None,
    ]
    t = relation_targets(rows)
    d, v = t["rel_decision"].tolist(), t["rel_log_value"].tolist()
    assert d[:3] == [0.0, 0.0, 1.0]  # no; the second-named; the first-named
    assert all(math.isnan(x) for x in d[3:])
    assert v[3] == pytest.approx(math.log(2.3))  # the exact truth in metres, not the rounded 2 m
    assert v[4] == pytest.approx(math.log(0.5))  # no truth: the stated 50 cm
    assert all(math.isnan(x) for x in v[:3] + v[5:])


def test_the_head_learns_the_word_times_geometry_xor() -> None:
    """'left' vs 'right' flips the answer for the same x difference: the head must learn the product."""
    torch.manual_seed(0)
    head = RelationHead(vocab_size=4, lm_dim=8, hidden=32)
    opt = torch.optim.Adam(head.parameters(), 3e-3)
    n = 256
    for _ in range(300):
        dx = torch.randn(n)
        word = torch.randint(2, 4, (n,))  # token 2: "left", 3: "right"
        pair = torch.zeros(n, 1, N_PAIR)
        pair[:, 0, 2 * N_OBJ] = dx  # the x difference (latest minus first)
        truth = ((dx > 0) == (word == 2)).float()
        out = head(pair, word[:, None], torch.ones(n, 1, dtype=torch.bool))[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], truth)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert ((out[:, 0] > 0).float() == truth).float().mean() > 0.95


def _relation_micro():  # type: ignore[no-untyped-def]
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                       word_grounding=True, name_match="exact", relation_head=32)
    texts = ["Is the gray sofa left of the black table?", "Is the gray sofa right of the black table?", "Yes.",
             "No, it is right of it."]
    return create_model("micro", tokenizer_texts=texts, vision=vis, answer_sep="")


def test_relation_loss_joins_the_answer_loss_and_the_checkpoint_round_trips(tmp_path, relation_fit) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = _relation_micro()
    qs = ["Is the gray sofa left of the black table?", "Is the gray sofa right of the black table?"]
    ims = [Image.new("RGB", (40, 30), (200, 10 * i, 0)) for i in range(2)]
    batch = model.encode(ims, qs, ["Yes.", "No, it is right of it."])
    batch.update(model.relation_batch([_qa(question=qs[0], truth_bool=True), _qa(question=qs[1], truth_bool=False)]))
    first, last = relation_fit(model, batch)
    assert last < first
    model.save(tmp_path / "ck")
    again = load_checkpoint(tmp_path / "ck")
    assert again.generate(ims, qs) == model.generate(ims, qs)


@pytest.fixture(scope="module")
def dense_sim(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from spatialvlm_core.dataset.sim_splits import SimDataConfig, write_sim_dataset

    cfg = SimDataConfig(n_scenes=3, seed=5, width=64, height=48, qa_per_scene=12, dense_grid=8)
    return write_sim_dataset(tmp_path_factory.mktemp("rel-sim"), cfg, progress=False)


def _frozen_relation_micro(examples):  # type: ignore[no-untyped-def]
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=8, dense_classes=32,
                       word_grounding=True, name_match="exact", relation_head=64)
    return create_model("micro", tokenizer_texts=[t for e in examples for t in (e.question, e.answer)],
                        vision=vis, freeze_vision=True, answer_sep="")


def test_relation_warmup_fits_the_rows_and_trains_the_head_only(dense_sim) -> None:  # type: ignore[no-untyped-def]
    import io
    import json

    from spatialvlm_core.dataset.reader import load_qa_dataset
    from spatialvlm_core.train.warmup_relation import relation_warmup

    torch.manual_seed(0)
    examples = load_qa_dataset(dense_sim)
    model = _frozen_relation_micro(examples)
    rest = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("relation.")}
    log = io.StringIO()
    out = relation_warmup(model, examples, epochs=60, lr=3e-3, seed=0, batch_size=16, metrics=log, progress=False)
    n_targets = sum(1 for e in examples if e.qa.category in ("qualitative", "quantitative")
                    and not e.qa.provenance.get("aux"))
    assert out["rows"] == n_targets
    assert out["decision_accuracy"] > 0.9  # a few dozen rows: the head must fit them
    for k, v in model.state_dict().items():
        if k in rest:
            assert torch.equal(v, rest[k]), k
    assert [json.loads(x)["relation_warmup_epoch"] for x in log.getvalue().splitlines()] == list(range(1, 61))


def test_relation_warmup_errors(dense_sim) -> None:  # type: ignore[no-untyped-def]
    from spatialvlm_core.dataset.reader import load_qa_dataset
    from spatialvlm_core.train.warmup_relation import relation_warmup

    examples = load_qa_dataset(dense_sim)
    with pytest.raises(ValueError, match="relation head"):
        relation_warmup(create_model("micro", tokenizer_texts=["a"]), examples, 1, 1e-3, 0, progress=False)
    with pytest.raises(ValueError, match="frozen vision tower"):
        relation_warmup(_relation_micro(), examples, 1, 1e-3, 0, progress=False)


def test_relation_head_check_scores_the_head_on_its_own(dense_sim) -> None:  # type: ignore[no-untyped-def]
    from spatialvlm_core.dataset.reader import load_qa_dataset
    from spatialvlm_core.model.evaluate import relation_head_check
    from spatialvlm_core.train.warmup_relation import relation_warmup

    torch.manual_seed(0)
    examples = load_qa_dataset(dense_sim)
    model = _frozen_relation_micro(examples)
    assert relation_head_check(create_model("micro", tokenizer_texts=["a"]), examples) is None
    before = relation_head_check(model.eval(), examples)
    relation_warmup(model, examples, epochs=60, lr=3e-3, seed=0, batch_size=16, progress=False)
    after = relation_head_check(model.eval(), examples)
    assert before is not None and after is not None
    n_scored = [e for e in examples if not e.qa.provenance.get("aux")]
    assert after["n_decisions"] + after["n_values"] == len(n_scored)
    # Scored in the generation layout (left padding): what it fitted in the warm-up, it must decide here too.
    assert after["decision_accuracy"] > 0.9 and after["value_within_50_200"] > before["value_within_50_200"]


def test_caption_contrast_signs_the_two_captions_and_cancels_shared_tokens(tmp_path) -> None:  # type: ignore[no-untyped-def]
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                       word_grounding=True, name_match="exact", relation_head=32, relation_copy=True)
    q = "Which is more to the left, the gray sofa or the black bed?"
    model = create_model("micro", tokenizer_texts=[q, "The gray sofa."], vision=vis, answer_sep="")
    tok = model.tokenizer
    ids = torch.tensor([model._prompt_ids(q)])
    named = model.grounding.exact_names(ids).sum(-1) > 0
    c = caption_contrast(ids, named, len(tok), window=2)[0]
    plus = {tok.decode([i]).strip() for i in torch.nonzero(c > 0)[:, 0].tolist()}
    minus = {tok.decode([i]).strip() for i in torch.nonzero(c < 0)[:, 0].tolist()}
    assert {"gray", "sofa"} <= plus and {"black", "bed"} <= minus
    assert not plus & minus  # a token in both windows cancels
    one = caption_contrast(ids, named & (torch.arange(ids.shape[1]) < int(torch.nonzero(named[0])[0, 0]) + 1), len(tok))
    assert torch.equal(one, torch.zeros_like(one))  # one object named: nothing to contrast
    # The copy term trains, saves and reloads like the rest.
    ims = [Image.new("RGB", (40, 30), (200, 0, 0))]
    batch = model.encode(ims, [q], ["The gray sofa."])
    batch.update(model.relation_batch([_qa(question=q, kind="choice", qtype="left_right_choice",
                                           choice="the gray sofa", provenance={"captions": ["the gray sofa",
                                                                                            "the black bed"]})]))
    model.train()
    model.loss(batch).backward()
    assert model.relation.copy_gate.weight.grad is not None
    model.eval()
    model.save(tmp_path / "ck")
    assert load_checkpoint(tmp_path / "ck").generate(ims, [q]) == model.generate(ims, [q])
