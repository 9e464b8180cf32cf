"""Sim training data, scoring rules, in-training evaluation and vision-tower initialisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from spatialvlm_core.data import load_qa_dataset
from spatialvlm_core.model import create_model
from spatialvlm_core.model.evaluate import choice_correct, evaluate, score_one
from spatialvlm_core.model.simdata import LOCATE_QTYPE, SimDataConfig, cached_sim_dataset, write_sim_dataset
from spatialvlm_core.model.toydata import write_toy_dataset
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
