"""evals/planner.py: plan equivalence, outcome classes, the bar, planner loading and a small scored run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from evals.planner import (
    FamilyScore,
    PlannerScore,
    bar,
    load_planner,
    outcome,
    plans_equivalent,
    score_planner,
)
from spatial_agent.corpus import FAMILIES, corpus
from spatial_agent.planners.rules import RulePlanner
from spatial_agent.schema import Plan, SubQuery
from spatial_agent.testing import living_room

SCENE = living_room()


def _gap(a: str = "the sofa", b: str = "the red chair", sid: str = "g") -> SubQuery:
    return SubQuery(id=sid, kind="gap", a=a, b=b)


def test_equivalent_up_to_ids_order_articles_and_written_form() -> None:
    gold = Plan(subqueries=[_gap()], compute="g >= 0.9 m")
    assert plans_equivalent(Plan(subqueries=[_gap("sofa", "red chair", "q")], compute="q >= 90 cm"), gold, SCENE)
    assert plans_equivalent(Plan(subqueries=[_gap("the red chair", "the sofa")], compute="not (g < 0.9)"), gold, SCENE)
    assert plans_equivalent(Plan(subqueries=[_gap("the couch", "the red chair")], compute="g >= 0.9"), gold, SCENE)


@pytest.mark.parametrize("got", [
    Plan(subqueries=[_gap()], compute="g >= 1.0 m"),  # another threshold
    Plan(subqueries=[_gap()], compute="g > 0.9 m or g < 0.2 m"),  # another function
    Plan(subqueries=[_gap("the sofa", "the blue chair")], compute="g >= 0.9 m"),  # another object
    Plan(subqueries=[SubQuery(id="g", kind="closest", a="the sofa", b="the red chair")], compute="g >= 0.9 m"),
    Plan(subqueries=[SubQuery(id="g", kind="height", a="the space between the sofa and the red chair")],
         compute="g >= 0.9 m"),
    Plan(refusal="no"),
    None,
])
def test_not_equivalent(got: Plan | None) -> None:
    assert not plans_equivalent(got, Plan(subqueries=[_gap()], compute="g >= 0.9 m"), SCENE)


def test_relations_up_to_their_converse_and_options_up_to_order() -> None:
    gold = Plan(subqueries=[SubQuery(id="r", kind="relation", a="the lamp", b="the sofa", relation="in_front_of")],
                compute="r", options=["the lamp", "the sofa"])
    conv = SubQuery(id="r", kind="relation", a="the sofa", b="the lamp", relation="behind")
    assert plans_equivalent(Plan(subqueries=[conv], compute="r", options=["the lamp", "the sofa"]), gold, SCENE)
    # Options listed the other way round: the compute must say True for the sofa now.
    assert plans_equivalent(Plan(subqueries=[conv], compute="not r", options=["the sofa", "the lamp"]), gold, SCENE)
    assert not plans_equivalent(Plan(subqueries=[conv], compute="r", options=["the sofa", "the lamp"]), gold, SCENE)
    assert not plans_equivalent(Plan(subqueries=[conv], compute="r"), gold, SCENE)  # no options: a yes/no


def test_refusal_matches_refusal() -> None:
    assert plans_equivalent(Plan(refusal="a"), Plan(refusal="b"), SCENE)


def _example(truth: bool | float | None, options: list[str] | None = None) -> SimpleNamespace:
    plan = Plan(refusal="x") if truth is None else Plan(subqueries=[_gap()], compute="g", options=options)
    return SimpleNamespace(truth=truth, plan=plan, scene=SCENE)


def _out(decision: bool | None = None, value: float | None = None, plan: Plan | None = None) -> SimpleNamespace:
    return SimpleNamespace(decision=decision, value=value, plan=plan or Plan(subqueries=[_gap()], compute="g"))


def test_outcome_classes() -> None:
    assert outcome(_example(True), _out(True)) == "correct"  # type: ignore[arg-type]
    assert outcome(_example(True), _out(False)) == "wrong"  # type: ignore[arg-type]
    assert outcome(_example(True), _out(None)) == "refused"  # type: ignore[arg-type]
    assert outcome(_example(True), _out(value=1.0)) == "wrong"  # type: ignore[arg-type]
    assert outcome(_example(2.0), _out(value=2.0)) == "correct"  # type: ignore[arg-type]
    assert outcome(_example(2.0), _out(value=3.0)) == "wrong"  # type: ignore[arg-type]
    assert outcome(_example(None), _out(plan=Plan(refusal="x"))) == "correct"  # type: ignore[arg-type]
    assert outcome(_example(None), _out(True)) == "wrong"  # type: ignore[arg-type]
    assert outcome(_example(None), _out(None)) == "refused"  # type: ignore[arg-type]
    which = _example(True, ["the sofa", "the lamp"])
    flipped = Plan(subqueries=[_gap()], compute="g", options=["the lamp", "the sofa"])
    assert outcome(which, _out(False, plan=flipped)) == "correct"  # type: ignore[arg-type]
    assert outcome(which, _out(True, plan=flipped)) == "wrong"  # type: ignore[arg-type]


def test_bar() -> None:
    ref = PlannerScore(name="rules", total=FamilyScore(n=100, correct=90, refused=10),
                       families={"a": FamilyScore(n=10, correct=10)})
    good = PlannerScore(name="llm", total=FamilyScore(n=1000, correct=980, refused=17, wrong=3),
                        families={"a": FamilyScore(n=10, correct=10)})
    assert bar(good, ref) == []
    bad = PlannerScore(name="llm", total=FamilyScore(n=1000, correct=960, refused=30, wrong=10),
                       families={"a": FamilyScore(n=10, correct=9)})
    why = bar(bad, ref)
    assert len(why) == 3 and any(w.startswith("a:") for w in why)


def test_load_planner() -> None:
    assert isinstance(load_planner("rules"), RulePlanner)
    assert isinstance(load_planner("spatial_agent.planners.rules:RulePlanner"), RulePlanner)
    with pytest.raises(ValueError, match="--planner"):
        load_planner("nonsense")
    with pytest.raises(ValueError, match="cannot import"):
        load_planner("no_such_module:Planner")


def test_scored_run_of_the_rules() -> None:
    examples = corpus("heldout", len(FAMILIES), seed=3)
    score = score_planner(RulePlanner(), examples)
    t = score.total
    assert t.n == len(examples) == t.correct + t.refused + t.wrong
    assert set(score.families) == set(FAMILIES)
    assert all(c >= 1 for c in score.calls) and len(score.latencies) == t.n
    assert t.wrong == 0  # the rules decline rather than guess (measured: 0 wrong on 760 held-out questions)
    assert t.correct >= t.n // 2
