"""Sim training data, scoring rules, in-training evaluation and vision-tower initialisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from spatialvlm_core.dataset.reader import load_qa_dataset
from spatialvlm_core.dataset.sim_splits import (
    LOCATE_QTYPE,
    SimDataConfig,
    cached_sim_dataset,
    write_sim_dataset,
)
from spatialvlm_core.dataset.toy import write_toy_dataset
from spatialvlm_core.model import create_model
from spatialvlm_core.model.evaluate import choice_correct, evaluate, score_one
from spatialvlm_core.train import TrainConfig, train
from spatialvlm_core.types import Answer, QAPair


@pytest.fixture(scope="module")
def sim_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = SimDataConfig(n_scenes=3, seed=4, width=64, height=48, qa_per_scene=10, locate_per_scene=2)
    return write_sim_dataset(tmp_path_factory.mktemp("sim"), cfg, progress=False)


def test_sim_dataset_rows_are_valid_and_grounded(sim_data: Path) -> None:
    exs = load_qa_dataset(sim_data)
    assert exs and all(e.image.is_file() for e in exs)
    qtypes = {e.qa.qtype for e in exs if e.qa}
    assert LOCATE_QTYPE in qtypes
    cfg = SimDataConfig(n_scenes=1)
    assert qtypes - {LOCATE_QTYPE} <= set(cfg.allow)
    for e in exs:
        assert e.qa is not None
        if e.qa.qtype == LOCATE_QTYPE:
            assert e.qa.provenance["aux"] is True
            x, y = (int(t) for t in e.answer.split()[1::2])
            assert 0 <= x < 8 and 0 <= y < 6
        elif e.qa.kind == "choice":
            caps = e.qa.provenance["captions"]
            assert len(caps) == 2 and e.qa.choice in caps


def test_sim_dataset_deterministic_and_cached(sim_data: Path, tmp_path: Path) -> None:
    cfg = SimDataConfig(n_scenes=3, seed=4, width=64, height=48, qa_per_scene=10, locate_per_scene=2)
    again = cached_sim_dataset(tmp_path, cfg, progress=False)
    a = [(e.question, e.answer) for e in load_qa_dataset(sim_data)]
    b = [(e.question, e.answer) for e in load_qa_dataset(again)]
    assert a == b
    assert cached_sim_dataset(tmp_path, cfg, progress=False) == again  # second call reuses the cache


def _qa(**kw: object) -> QAPair:
    base: dict[str, object] = dict(id="q", image_id="i", qtype="left_right_choice", category="qualitative",
                                   kind="choice", question="Which is more to the left?", answer="x")
    return QAPair(**{**base, **kw})


def test_choice_and_quantity_scoring() -> None:
    qa = _qa(choice="the red door", provenance={"captions": ["the red door", "the gray box"]})
    assert choice_correct(qa, "The red door is more to the left.")
    assert choice_correct(qa, "The red door, since it is left of the gray box.")
    assert not choice_correct(qa, "The gray box, left of the red door.")
    assert not choice_correct(qa, "The blue sofa.")
    pred = _qa(qtype="closer_predicate", kind="predicate", truth_bool=False)
    assert score_one(pred, Answer(text="No.", boolean=False))["ok"]
    assert not score_one(pred, Answer(text="Yes.", boolean=True))["ok"]
    dist = _qa(qtype="distance", category="quantitative", kind="quantitative", value=2.0, unit="m", truth=2.0)
    s = score_one(dist, Answer(text="2.1 m", value=2.1, unit="m", meters=2.1))
    assert s["valid"] and s["w2"] and s["w11"] and s["rel"] == pytest.approx(0.05)
    s = score_one(dist, Answer(text="3.5 m", value=3.5, unit="m", meters=3.5))
    assert s["w2"] and not s["w11"]
    assert not score_one(dist, Answer(text="far"))["valid"]
    assert score_one(_qa(qtype=LOCATE_QTYPE, provenance={"aux": True}), Answer(text="x 1 y 2")) == {}


class _Oracle:
    """A tool that answers with the reference text: every metric must be perfect."""

    def __init__(self, exs: list) -> None:  # type: ignore[type-arg]
        self.answers = {(str(e.image), e.question): e.answer for e in exs}

    def ask_batch(self, images: list[str], questions: list[str]) -> list[Answer]:
        from spatialvlm_core.model.parsing import parse_answer

        return [parse_answer(self.answers[(i, q)]) for i, q in zip(images, questions, strict=True)]


def test_evaluate_oracle_is_perfect(sim_data: Path) -> None:
    exs = load_qa_dataset(sim_data)
    s = evaluate(_Oracle(exs), exs, per_type=True)
    assert s["n_qualitative"] > 0 and s["n_quantitative"] > 0
    assert s["qualitative_accuracy"] == 1.0
    assert s["parse_rate"] == 1.0 and s["within_50_200"] == 1.0
    assert s["within_90_110"] > 0.8  # rounding ("about half a meter") can move a value past 10 %
    assert LOCATE_QTYPE not in s["per_type"]


def test_train_eval_hook_and_init_vision(tmp_path: Path) -> None:
    toy = write_toy_dataset(tmp_path / "toy", n_images=6, seed=1, size=32)
    base = dict(data=str(toy), preset="micro", steps=2, batch_size=4, warmup_steps=1, checkpoint_every=10,
                progress=False, eval_data=str(toy), eval_every=1, eval_max=8)
    train(TrainConfig(out=str(tmp_path / "a"), **base))
    rows = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval" in r]
    assert [r["step"] for r in evals] == [1, 2]
    assert 0.0 <= evals[-1]["eval"]["within_50_200"] <= 1.0

    # A fresh model whose tower starts from run a's tower, frozen: the tower must not move.
    train(TrainConfig(out=str(tmp_path / "b"), init_vision=str(tmp_path / "a"), freeze_vision=True,
                      **{**base, "eval_data": None}))
    a, b = create_model(str(tmp_path / "a")), create_model(str(tmp_path / "b"))
    for (k, va), vb in zip(a.vision.state_dict().items(), b.vision.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    with pytest.raises(FileNotFoundError, match="init_vision"):
        train(TrainConfig(out=str(tmp_path / "c"), init_vision=str(tmp_path / "nope"), **base))


@pytest.fixture(scope="module")
def dense_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = SimDataConfig(n_scenes=3, seed=5, width=64, height=48, qa_per_scene=6, dense_grid=8)
    return write_sim_dataset(tmp_path_factory.mktemp("dense-sim"), cfg, progress=False)


def _dense_micro() -> torch.nn.Module:
    from spatialvlm_core.model import VisionConfig

    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=8, dense_classes=32,
                       word_grounding=True)
    return create_model("micro", tokenizer_texts=["Where is the sofa? x 1 y 2"], vision=vis)


def test_vision_warmup_fits_the_dense_targets_and_leaves_the_lm_alone(dense_sim: Path) -> None:
    import io

    from spatialvlm_core.train.warmup_vision import vision_warmup

    torch.manual_seed(0)
    model = _dense_micro()
    paths = [e.image for e in load_qa_dataset(dense_sim)]
    lm_before = {k: v.clone() for k, v in model.lm.state_dict().items()}
    log = io.StringIO()
    first = vision_warmup(model, paths, steps=1, batch_size=3, lr=3e-3, seed=0, progress=False)
    out = vision_warmup(model, paths, steps=60, batch_size=3, lr=3e-3, seed=0, metrics=log, progress=False)
    assert out["images"] == 3  # each image once, however many QA rows name it
    assert out["final_loss"] < 0.6 * first["final_loss"]  # three images: the head must fit them
    for k, v in model.lm.state_dict().items():
        assert torch.equal(v, lm_before[k]), k
    rows = [json.loads(x) for x in log.getvalue().splitlines()]
    assert [r["warmup_step"] for r in rows] == list(range(10, 61, 10)) and all(r["step"] == 0 for r in rows)


def test_vision_warmup_errors(dense_sim: Path, tmp_path: Path) -> None:
    from spatialvlm_core.train.warmup_vision import vision_warmup

    paths = [e.image for e in load_qa_dataset(dense_sim)]
    with pytest.raises(ValueError, match="dense head"):
        vision_warmup(create_model("micro", tokenizer_texts=["a"]), paths, 1, 2, 1e-3, 0, progress=False)
    toy = write_toy_dataset(tmp_path / "toy", n_images=2, seed=1, size=32)
    with pytest.raises(ValueError, match=r"no image under .* has dense targets.*vision_warmup_steps=0"):
        vision_warmup(_dense_micro(), [e.image for e in load_qa_dataset(toy)], 1, 2, 1e-3, 0, progress=False)


def test_cli_train_from_config_file_with_warmup(dense_sim: Path, tmp_path: Path) -> None:
    import argparse

    from spatialvlm_core.train.cli import register

    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"data": str(dense_sim), "out": str(tmp_path / "run"), "preset": "micro",
                               "steps": 2, "batch_size": 2, "progress": False}))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    # No --data/--out: the config file names them. Flags given override it.
    args = parser.parse_args(["train", "--config", str(cfg), "--dense-weight", "0", "--steps", "3"])
    assert args.func(args) == 0
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["steps"] == 3 and saved["dense_weight"] == 0 and saved["preset"] == "micro"
    with pytest.raises(ValueError, match="--data and --out"):
        args = parser.parse_args(["train", "--steps", "1"])
        args.func(args)
    # The micro preset has no dense head: asking for a warm-up says so.
    with pytest.raises(ValueError, match="dense head"):
        args = parser.parse_args(["train", "--config", str(cfg), "--vision-warmup-steps", "2", "--no-resume"])
        args.func(args)


def test_train_on_chosen_question_types_only(sim_data: Path, tmp_path: Path) -> None:
    n_locate = sum(1 for e in load_qa_dataset(sim_data) if e.qa is not None and e.qa.qtype == LOCATE_QTYPE)
    base = dict(data=str(sim_data), preset="micro", steps=1, batch_size=2, progress=False)
    out = train(TrainConfig(out=str(tmp_path / "a"), qtypes=[LOCATE_QTYPE], **base))
    assert out["examples"] == n_locate > 0
    with pytest.raises(ValueError, match="no rows of question types"):
        train(TrainConfig(out=str(tmp_path / "b"), qtypes=["no_such_type"], **base))


def test_batches_are_seeded_epochs_pure_in_the_step() -> None:
    from spatialvlm_core.train.loop import batch_indices

    n, bs = 10, 4
    epoch = [i for s in range(5) for i in batch_indices(n, 7, s, 0, bs, 1)][:n]  # 20 draws: two epochs
    assert sorted(epoch) == list(range(n))  # each row once per epoch
    assert batch_indices(n, 7, 3, 1, bs, 2) == batch_indices(n, 7, 3, 1, bs, 2)  # resumable: pure in the step
    assert batch_indices(n, 7, 0, 0, bs, 1) != batch_indices(n, 8, 0, 0, bs, 1)  # the seed decides the order
    # grad accumulation walks the same stream: step s micro m of accum 2 == step 2s+m of accum 1
    assert batch_indices(n, 7, 1, 1, bs, 2) == batch_indices(n, 7, 3, 0, bs, 1)


def test_answer_sep_decides_where_the_answer_starts() -> None:
    texts = ["Is the red box left of the chair?", "Yes, it is.", "No."]
    spaced = create_model("micro", tokenizer_texts=texts)
    joined = create_model("micro", tokenizer_texts=texts, answer_sep="")
    im = [Image.new("RGB", (32, 32))]
    for m, sep in ((spaced, " "), (joined, "")):
        b = m.encode(im, [texts[0]], [texts[1]])
        n_prompt = len(m._prompt_ids(texts[0]))
        assert bool((b["labels"][0, :n_prompt] == -100).all())
        want = m.tokenizer(sep + texts[1], add_special_tokens=False).input_ids
        assert b["labels"][0, n_prompt:n_prompt + len(want)].tolist() == want
        assert m.tokenizer.decode(want) == sep + texts[1]


def test_frozen_tower_is_pretrained_by_the_warmup_then_cached(dense_sim: Path, tmp_path: Path) -> None:
    from spatialvlm_core.dataset.reader import ImageCache
    from spatialvlm_core.train.recipe_composed import TowerCache
    from spatialvlm_core.train.warmup_vision import vision_warmup

    torch.manual_seed(0)
    model = _dense_micro()
    model.vision.requires_grad_(False)  # freeze_vision
    before = {k: v.clone() for k, v in model.vision.state_dict().items()}
    paths = [e.image for e in load_qa_dataset(dense_sim)]
    vision_warmup(model, paths, steps=3, batch_size=3, lr=3e-3, seed=0, progress=False)
    assert any(not torch.equal(v, before[k]) for k, v in model.vision.state_dict().items())  # warm-up trained it
    assert not any(p.requires_grad for p in model.vision.parameters())  # and left it frozen for the VLM steps
    exs = load_qa_dataset(dense_sim)[:4]
    images = ImageCache(32)
    batch = model.encode([images(e.image) for e in exs], [e.question for e in exs], [e.answer for e in exs])
    cache = TowerCache()
    cached = {**batch, "vision_tokens": cache(model, [e.image for e in exs], batch["pixel_values"])}
    model.eval()
    assert torch.allclose(model.loss(cached), model.loss(batch), atol=1e-6)
    assert len(cache._cache) == len({e.image for e in exs})
    # Through train(): the frozen tower (served from the cache) ends the run as it was built.
    from safetensors.torch import load_file

    from spatialvlm_core.train import seed_everything

    out = tmp_path / "run"
    train(TrainConfig(data=str(dense_sim), out=str(out), preset="micro", steps=2, batch_size=2, progress=False,
                      freeze_vision=True))
    seed_everything(0)
    fresh = create_model("micro", tokenizer_texts=["a"]).vision.state_dict()
    saved = load_file(str(out / "model.safetensors"))
    assert all(torch.equal(saved[f"vision.{k}"], v) for k, v in fresh.items())
