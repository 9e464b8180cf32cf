"""RulePlanner on wordings written outside the project (issue #22): the confident errors and the declines."""

from __future__ import annotations

import numpy as np
import pytest

from spatial_agent.agent import SpatialAgent
from spatial_agent.arith import Quantity, evaluate
from spatial_agent.planners.rules import RulePlanner, extract_lengths
from spatial_agent.schema import Plan
from spatial_agent.testing import living_room
from spatial_agent.tools import GeometricTool
from spatialvlm_core.types import CameraPose, Scene3D

INCH, FOOT = 0.0254, 0.3048


def _plan(q: str) -> Plan:
    return RulePlanner().plan(q)


def _kinds(p: Plan) -> list[tuple[str, str, str | None]]:
    return [(q.kind, q.a, q.b) for q in p.subqueries]


@pytest.mark.parametrize(("text", "meters"), [
    ("a one and a half meters wide table", 1.5), ("a meter and a half", 1.5), ("a metre and a half wide", 1.5),
    ("two and a half metres", 2.5), ("5 ft 6", 5 * FOOT + 6 * INCH), ("5'6\"", 5 * FOOT + 6 * INCH),
    ("5 feet 6 inches", 5 * FOOT + 6 * INCH), ("80cm", 0.8), ("0.9 metres", 0.9), ("two feet", 2 * FOOT),
    ("1,200 mm", 1.2), ("3,060 mm long", 3.06), ("half a metre", 0.5), ("eighty cm", 0.8),
])
def test_compound_and_spelled_lengths(text: str, meters: float) -> None:
    _rest, found = extract_lengths(text)
    assert found == [pytest.approx(meters)]


@pytest.mark.parametrize("text", ["the ceiling beam", "the sofa in the corner", "is there one in the corner"])
def test_words_are_not_lengths(text: str) -> None:
    assert extract_lengths(text)[1] == []


def test_space_separating_is_the_gap_not_an_object() -> None:
    p = _plan("Is the space separating the sofa from the armchair under 27 inches?")
    assert _kinds(p) == [("gap", "the sofa", "the armchair")]
    assert evaluate(p.compute, {"g": Quantity(0.6, 1)}) is True
    assert evaluate(p.compute, {"g": Quantity(0.7, 1)}) is False  # 27 in = 0.686 m


def test_one_and_a_half_meters_through_a_door() -> None:
    p = _plan("Is the door wide enough to carry a one and a half meters wide table through?")
    assert _kinds(p) == [("width", "the door", None)]
    assert evaluate(p.compute, {"w": Quantity(1.45, 1)}) is False
    assert evaluate(p.compute, {"w": Quantity(1.55, 1)}) is True


def test_appositive_is_not_a_relation() -> None:
    p = _plan("Is the red chair, the one by the window, left of the sofa?")
    assert [(q.kind, q.a, q.b, q.relation) for q in p.subqueries] == [("relation", "the red chair", "the sofa",
                                                                        "left_of")]


def test_height_against_another_objects_width() -> None:
    p = _plan("Is the lamp higher than the sofa is wide?")
    assert _kinds(p) == [("height", "the lamp", None), ("width", "the sofa", None)]
    assert p.compute == "x > y"


@pytest.mark.parametrize(("question", "kinds", "compute_true", "compute_false"), [
    ("The sofa and the chairs: is there room for a 1 m wide robot between them?",
     [("gap", "the sofa", "the chairs")], {"g": 1.1}, {"g": 0.9}),
    ("Is the sofa more than twice as wide as the table?", [("width", "the sofa", None), ("width", "the table", None)],
     {"x": 2.1, "y": 1.0}, {"x": 1.9, "y": 1.0}),
    ("How many chairs are there?", [("exists", "chairs", None)], None, None),
])
def test_declined_wordings_now_planned(question: str, kinds: list, compute_true: dict | None,
                                       compute_false: dict | None) -> None:
    p = _plan(question)
    assert not p.refusal and _kinds(p) == kinds
    if compute_true is not None and compute_false is not None:
        assert evaluate(p.compute, {k: Quantity(v, 1) for k, v in compute_true.items()}) is True
        assert evaluate(p.compute, {k: Quantity(v, 1) for k, v in compute_false.items()}) is False


@pytest.mark.parametrize(("question", "relation", "options"), [
    ("Is the lamp closer to the camera than the sofa?", "in_front_of", None),
    ("Is the lamp farther from the camera than the sofa?", "behind", None),
    ("Which is closer to the camera, the lamp or the sofa?", "in_front_of", ["the lamp", "the sofa"]),
])
def test_camera_questions_are_front_behind(question: str, relation: str, options: list[str] | None) -> None:
    p = _plan(question)
    assert [(q.kind, q.a, q.b, q.relation) for q in p.subqueries] == [("relation", "the lamp", "the sofa", relation)]
    assert p.options == options


def _room_with_camera() -> Scene3D:
    scene = living_room()
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = (1, 0, 0), (0, 0, -1), (0, 1, 0), (1.0, -3.0, 1.4)
    return scene.model_copy(update={"camera": CameraPose.from_matrix(m)})


def test_issue_wordings_answered_on_the_living_room() -> None:
    """Exact scene (sofa 2.0 x 0.9 x 0.8, lamp 1.6 tall at y 0-0.3, table 1.5 wide at y 3-3.8, two chairs,
    door 0.9 wide, camera at y = -3 looking +y): every wording of the issue gets the true answer."""
    agent = SpatialAgent(tool=GeometricTool(scene=_room_with_camera()))
    assert agent.ask(None, "Is the space separating the sofa from the red chair under 27 inches?").decision is False
    assert agent.ask(None, "Is the door wide enough to carry a one and a half meters wide table through?"
                     ).decision is False
    assert agent.ask(None, "Is the lamp higher than the sofa is wide?").decision is False  # 1.6 vs 2.0
    assert agent.ask(None, "The sofa and the chairs: is there room for a 1 m wide robot between them?"
                     ).decision is True  # nearest chair 1.2 m away
    assert agent.ask(None, "How many chairs are there?").value == 2
    assert agent.ask(None, "Is the sofa more than twice as wide as the table?").decision is False  # 2.0 vs 1.5
    assert agent.ask(None, "Is the table farther from the camera than the sofa?").decision is True
    which = agent.ask(None, "Which is farther from the camera, the lamp or the table?")
    assert which.plan is not None and which.plan.chosen(which.decision) == "the table"


@pytest.mark.parametrize(("question", "missing"), [
    ("Can a robot fit between the sofa and the armchair?", "how big the robot is"),
    ("Can an arm reach the lamp from the sofa?", "how long the arm is"),
])
def test_missing_size_is_named(question: str, missing: str) -> None:
    p = _plan(question)
    assert p.refusal and missing in p.refusal


@pytest.mark.parametrize("question", [
    "Quick question: is the sofa taller than 1 m? I need to know before the delivery.",
    "Looking at this photo, is the sofa taller than 1 m?",
    "We're rearranging the room. Is the sofa taller than 1 m? Thanks!",
    "Is the sofa that we just bought taller than 1 m?",
    "Is the sofa, the grey one, taller than 1 m?",
])
def test_distractors_and_descriptions(question: str) -> None:
    p = _plan(question)
    assert _kinds(p) == [("height", "the sofa", None)] and p.compute == "h > 1 m"


def test_two_questions_in_one() -> None:
    p = _plan("Can a 60 cm wide robot fit between the sofa and the armchair, and is the lamp taller than 2 m?")
    assert sorted(_kinds(p)) == [("gap", "the sofa", "the armchair"), ("height", "the lamp", None)]
    env = {q.id: Quantity(1.0 if q.kind == "gap" else 2.5, 1) for q in p.subqueries}
    assert evaluate(p.compute, env) is True


def test_non_object_phrases_are_never_measured() -> None:
    """A phrase holding a comparison is not an object: the rules decline rather than measure it."""
    for q in ["Is the desk near the window less than twice as tall as the tv stand?",
              "Is the width of the red chair at least 0.57 meters?"]:
        p = _plan(q)
        for sq in p.subqueries:
            assert not any(w in f" {sq.a} {sq.b or ''} " for w in (" than ", " width of ", " twice "))


@pytest.mark.parametrize(("question", "what"), [
    ("Is the sofa heavier than the table?", "weight"), ("What colour is the sofa?", "colour"),
    ("How much does the lamp cost?", "price"), ("Is the sofa made of wood?", "material"),
])
def test_unmeasurable_property_is_named(question: str, what: str) -> None:
    p = _plan(question)
    assert p.refusal and f"not {what}" in p.refusal


def test_which_of_two_answers_name_the_winner_first() -> None:
    from spatial_agent import GeometricTool, SpatialAgent
    from spatial_agent.testing import living_room

    agent = SpatialAgent(tool=GeometricTool(scene=living_room(gap=1.2)))
    taller = agent.ask(None, "Which is taller, the lamp or the sofa?")
    shorter = agent.ask(None, "Which is shorter, the lamp or the sofa?")
    assert taller.answer.startswith("The lamp: ") and shorter.answer.startswith("The sofa: ")
    assert "1.60 m" in taller.answer  # the measurements behind the choice follow it
