"""The planner corpus: deterministic, split by frames / objects / colours, gold plans that the agent executes."""

from __future__ import annotations

import random

import pytest

from spatial_agent.agent import SpatialAgent
from spatial_agent.corpus import FAMILIES, PlanExample, corpus
from spatial_agent.corpus.scenes import TYPES
from spatial_agent.corpus.units import FORMS, HELDOUT_FORMS, say_length
from spatial_agent.schema import Plan
from spatial_agent.tools import GeometricTool
from spatialvlm_core.phrases import resolve


class _Gold:
    """A planner that answers with the example's gold plan."""

    name = "gold"

    def __init__(self, plan: Plan) -> None:
        self._plan = plan

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        return self._plan


@pytest.fixture(scope="module")
def train() -> list[PlanExample]:
    return corpus("train", 2 * len(FAMILIES) * 4, seed=0)


@pytest.fixture(scope="module")
def heldout() -> list[PlanExample]:
    return corpus("heldout", 2 * len(FAMILIES) * 4, seed=0)


def test_deterministic_and_seeded(train: list[PlanExample]) -> None:
    again = corpus("train", len(train), seed=0)
    assert [(e.question, e.plan, e.truth) for e in again] == [(e.question, e.plan, e.truth) for e in train]
    other = corpus("train", len(train), seed=1)
    assert [e.question for e in other] != [e.question for e in train]


def test_every_family_in_both_splits(train: list[PlanExample], heldout: list[PlanExample]) -> None:
    for ex in (train, heldout):
        assert {e.family for e in ex} == set(FAMILIES)


def test_heldout_frames_objects_and_forms_are_disjoint(train: list[PlanExample],
                                                      heldout: list[PlanExample]) -> None:
    for fam in FAMILIES.values():
        assert not {f.text for f in fam.train} & {f.text for f in fam.heldout}, fam.name
        assert fam.train and fam.heldout, fam.name
    train_classes = {o.name for e in train for o in e.scene.objects} - {"door"}
    held_classes = {o.name for e in heldout for o in e.scene.objects} - {"door"}
    assert train_classes <= {t.noun for t in TYPES["train"]}
    assert held_classes <= {t.noun for t in TYPES["heldout"]}
    assert not train_classes & held_classes
    assert all(e.frame.split("/")[1] == "heldout" for e in heldout)
    assert not {e.question for e in train} & {e.question for e in heldout}
    r = random.Random(0)
    for _ in range(200):  # train questions never use a held-out length form
        text, _m = say_length(r.uniform(0.2, 3.0), r, "train")
        assert "mm" not in text and "millimet" not in text
    assert set(FORMS) > HELDOUT_FORMS


def test_gold_phrases_name_their_objects(heldout: list[PlanExample]) -> None:
    for e in heldout:
        for q in e.plan.subqueries:
            for phrase in (q.a, q.b):
                if phrase is None:
                    continue
                res = resolve(e.scene, phrase)
                assert not res.relaxed and not res.ambiguous, (e.question, phrase)
                if q.kind != "exists":
                    assert len(res.objects) == 1, (e.question, phrase)


def test_truth_types(heldout: list[PlanExample]) -> None:
    for e in heldout:
        if e.family in ("fit_under", "unanswerable"):
            assert e.truth is None and e.plan.refusal
        elif e.family == "measure" or (e.family == "count" and not any(c in e.plan.compute for c in "<>")):
            assert isinstance(e.truth, float) and not isinstance(e.truth, bool)
        else:
            assert isinstance(e.truth, bool), e.question
        if e.family == "which":
            assert e.plan.options is not None and e.plan.chosen(e.truth) in e.plan.options


def test_both_answers_occur(train: list[PlanExample]) -> None:
    truths = [e.truth for e in train if isinstance(e.truth, bool)]
    assert 0.25 < sum(truths) / len(truths) < 0.75


def test_agent_runs_gold_plans_to_the_truth(heldout: list[PlanExample]) -> None:
    """The gold plans are valid for the real graph: run through the agent on the exact room, they give the truth."""
    for e in heldout[: 2 * len(FAMILIES)]:
        out = SpatialAgent(tool=GeometricTool(scene=e.scene), planner=_Gold(e.plan)).ask(None, e.question)
        if e.truth is None:
            assert out.decision is None and out.plan is not None and out.plan.refusal
        elif isinstance(e.truth, bool):
            assert out.decision is e.truth, (e.question, out.answer)
        else:
            assert out.value == pytest.approx(e.truth, abs=1e-6), (e.question, out.answer)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="split"):
        corpus("test", 3, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown families"):
        corpus("train", 3, 0, families=["nope"])
