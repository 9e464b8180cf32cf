"""Regression tests for reviewed agent bugs: existence, head-noun resolution, several conditions, fit under,
closest distance, negations/clauses, arithmetic overflow, JSON escapes and an unreachable planner in the CLI."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest

from spatial_agent import GeometricTool, SpatialAgent, SubQuery, render_question
from spatial_agent.arith import ArithError, evaluate
from spatial_agent.planners.rules import RulePlanner
from spatial_agent.schema import Plan
from spatial_agent.testing import box_object, living_room
from spatialvlm_core.phrases import resolve
from spatialvlm_core.types import Scene3D

P = RulePlanner()


def _room() -> Scene3D:
    """A grey sofa and a table 0.5 m apart edge to edge (centres 2.5 m apart), a chair, a white table lamp."""
    return Scene3D(scene_id="fix", canonical=True, objects=[
        box_object("sofa", "sofa", (0.0, 0.0), (2.0, 1.0), (0.0, 0.8), "the grey sofa"),
        box_object("table", "table", (2.5, 0.0), (3.5, 1.0), (0.0, 0.7)),
        box_object("chair", "chair", (0.0, 3.0), (0.6, 3.6), (0.0, 0.9), "the wooden chair"),
        box_object("lamp", "table lamp", (2.8, 0.3), (3.0, 0.5), (0.7, 1.1), "the white table lamp"),
    ])


# 1. existence counts strict matches only; relations are not part of the object
@pytest.mark.parametrize(("q", "expected"), [
    ("Is there a red mug on the table?", False), ("Is there a blue sofa?", False), ("Is there a grey sofa?", True),
    ("Is there a chair next to the sofa?", False), ("Is there a chair within 2.5 m of the sofa?", True),
    ("Is there a piano?", False),
])
def test_existence_is_strict(q: str, expected: bool) -> None:
    r = SpatialAgent(tool=GeometricTool(scene=_room())).ask(None, q)
    assert r.decision is expected, r.answer


def test_existence_plan_strips_relations() -> None:
    plan = P.plan("Is there a red mug on the table?")
    assert [(s.kind, s.a, s.b, s.relation) for s in plan.subqueries] == [("relation", "a red mug", "the table", "on")]
    ans = GeometricTool(scene=_room()).measure(None, SubQuery(kind="exists", a="blue sofa"))
    assert ans.boolean is False and ans.value == 0 and "grey sofa" in ans.text


# 2. the phrase's head noun must be the object's head noun
def test_head_noun_resolution() -> None:
    scene = _room()
    assert [o.id for o in resolve(scene, "the table").objects] == ["table"]  # not the table lamp
    assert not resolve(scene, "the table").ambiguous
    assert [o.id for o in resolve(scene, "the lamp").objects] == ["lamp"]
    assert [o.id for o in resolve(scene, "the white lamp").objects] == ["lamp"]
    with_desk = scene.model_copy(update={"objects": [*scene.objects, box_object("desk", "desk", (5, 5), (6, 6))]})
    assert [o.id for o in resolve(with_desk, "the desk").objects] == ["desk"]  # no clash with the table
    assert [o.id for o in resolve(scene, "the desk").objects] == ["table"]  # fallback when no desk exists
    armchair = Scene3D(scene_id="a", canonical=True, objects=[box_object("a", "armchair", (0, 0), (1, 1))])
    assert [o.id for o in resolve(armchair, "the chair").objects] == ["a"]  # compound head


# 3. several conditions: all of them, joined with and/or
@pytest.mark.parametrize(("q", "expected"), [
    ("Is the sofa wider than 1 m and taller than 1 m?", False),  # 2.0 wide, 0.8 tall
    ("Is the sofa wider than 1 m and taller than 50 cm?", True),
    ("Is the sofa wider than 3 m or taller than 50 cm?", True),
    ("Is the sofa wider than 3 m or taller than 1 m?", False),
])
def test_two_conditions(q: str, expected: bool) -> None:
    plan = P.plan(q)
    assert [s.kind for s in plan.subqueries] == ["width", "height"]
    r = SpatialAgent(tool=GeometricTool(scene=living_room())).ask(None, q)
    assert r.decision is expected and r.error is None, r.answer


def test_unsplittable_lengths_are_refused_not_half_answered() -> None:
    plan = P.plan("Can a 1 m wide and 2 m tall robot fit between the sofa and the table?")
    assert plan.refusal and "one condition at a time" in plan.refusal


# 4. fit under: boxes cannot see the clearance
@pytest.mark.parametrize("q", ["Can a box of 40 cm fit under the sofa?", "Will a 2 ft tall box fit beneath the desk?",
                               "Is there room under the table for a 30 cm robot?"])
def test_fit_under_is_an_honest_refusal(q: str) -> None:
    plan = P.plan(q)
    assert not plan.subqueries and plan.refusal and "can't measure the clearance under" in plan.refusal
    r = SpatialAgent(tool=GeometricTool(scene=_room())).ask(None, q)
    assert r.decision is None and r.answer == plan.refusal


# 5. within / at least from / reach use the closest distance; "how far" stays centre to centre
def test_within_uses_closest_distance() -> None:
    agent = SpatialAgent(tool=GeometricTool(scene=_room()))
    r = agent.ask(None, "Is the sofa within 1 m of the table?")
    assert r.decision is True and r.sub_answers["d"].meters == pytest.approx(0.5)
    assert agent.ask(None, "Is the sofa at least 1 m from the table?").decision is False
    assert agent.ask(None, "Can an arm of 0.6 m reach the table from the sofa?").decision is True
    far = agent.ask(None, "How far is the sofa from the table?")
    assert far.plan is not None and far.plan.subqueries[0].kind == "distance"
    assert far.value == pytest.approx(math.dist((1.0, 0.5, 0.4), (3.0, 0.5, 0.35)))
    assert render_question(SubQuery(kind="closest", a="sofa", b="the table")) == \
        "How close do the sofa and the table come to each other at their nearest points?"
    with pytest.raises(ValueError, match="second object"):
        SubQuery(kind="closest", a="sofa")


def test_planner_prompt_documents_closest() -> None:
    from spatial_agent.prompts import planner_system_prompt

    text = planner_system_prompt()
    assert "- closest:" in text and '"closest"' in text  # the kind and the schema's enum


# 6. negations and trailing clauses are not part of object names
def test_negation_flips_the_decision() -> None:
    plan = P.plan("Is the table not wider than 1.5 m?")
    assert [(s.kind, s.a) for s in plan.subqueries] == [("width", "the table")] and plan.compute == "w <= 1.5 m"
    agent = SpatialAgent(tool=GeometricTool(scene=living_room()))  # table 1.5 m wide, lamp 1.6 m tall
    assert agent.ask(None, "Is the table not wider than 1.5 m?").decision is True
    assert agent.ask(None, "Is the lamp not taller than 1 m?").decision is False
    assert agent.ask(None, "Is the table not more than 2 m wide?").decision is True  # a comparator, not a negation


@pytest.mark.parametrize(("q", "kind", "a"), [
    ("Is the shelf mounted more than 1.5 m above the floor?", "elevation", "the shelf"),
    ("What's the height of the shelf above the floor?", "elevation", "the shelf"),
    ("What is the width of the table placed by the window?", "width", "the table"),
])
def test_clauses_are_cut(q: str, kind: str, a: str) -> None:
    plan = P.plan(q)
    assert [(s.kind, s.a) for s in plan.subqueries] == [(kind, a)]


# 8. huge numbers are arithmetic errors, and the agent reports them
def test_arith_overflow_is_an_arith_error() -> None:
    with pytest.raises(ArithError, match="out of range"):
        evaluate("9" * 330)
    with pytest.raises(ArithError, match="out of range"):
        evaluate("g > 1e999 m", {"g": 1.0})

    class Huge:
        name = "huge"

        def plan(self, question: str, feedback: str | None = None) -> Plan:
            return Plan(subqueries=[SubQuery(id="g", kind="gap", a="sofa", b="red chair")], compute="g > " + "9" * 330)

    r = SpatialAgent(tool=GeometricTool(scene=living_room()), planner=Huge()).ask(None, "anything")
    assert r.decision is None and "out of range" in r.answer


# 9. escaped quotes inside JSON strings
def test_extract_json_object_escapes() -> None:
    from spatial_agent.planners.openai_planner import extract_json_object

    assert extract_json_object('say {"a": "x\\"}y"} ok') == {"a": 'x"}y'}
    assert extract_json_object('{"a": "back\\\\"} tail') == {"a": "back\\"}


# 10. an unreachable planner endpoint is one line and exit code 2
def test_cli_unreachable_planner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from spatial_agent.cli import main
    from spatial_agent.planners import openai_planner

    with socket.socket() as s:  # a free port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SPATIAL_AGENT_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("SPATIAL_AGENT_MODEL", "planner")
    fast = openai_planner.RetryPolicy(attempts=2, initial_s=0.0, max_s=0.0)
    monkeypatch.setattr(openai_planner, "RetryPolicy", lambda: fast)
    scene = tmp_path / "scene.json"
    scene.write_text(living_room().model_dump_json())
    image = tmp_path / "img.png"
    image.write_bytes(b"not used with --scene")
    rc = main(["ask", str(image), "How tall is the lamp?", "--scene", str(scene), "--planner", "openai"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("spatial-agent: error: planner endpoint") and err.count("\n") == 1
    assert "Traceback" not in err


def test_relaxed_match_prefers_the_object_agreeing_with_more_words() -> None:
    scene = Scene3D(scene_id="t", canonical=True, objects=[
        box_object("side", "side table", (0, 0), (1, 1), caption="the red side table"),
        box_object("coffee", "coffee table", (2, 0), (3, 1), caption="the gray coffee table"),
    ])
    r = resolve(scene, "the white coffee table")  # colour misperceived; "coffee" still singles it out
    assert r.relaxed and [o.id for o in r.objects] == ["coffee"]
    assert not resolve(scene, "the white table").found  # a tie: no guessing
    ans = GeometricTool(scene=scene).measure(None, SubQuery(kind="exists", a="white coffee table"))
    assert ans.boolean is False  # existence never uses the relaxed match
