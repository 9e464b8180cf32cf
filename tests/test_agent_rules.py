"""RulePlanner: question families, phrasings and units."""

from __future__ import annotations

import pytest

from spatial_agent.planners.rules import REFUSAL, RulePlanner, extract_lengths

P = RulePlanner()


@pytest.mark.parametrize(("text", "meters"), [
    ("a 1 m wide robot", 1.0), ("an 80 cm cart", 0.8), ("a 3 ft box", 0.9144), ("12 inches", 0.3048),
    ("5 ft 6 in", 1.6764), ("one metre", 1.0), ("half a metre", 0.5), ("a 1.2-metre-wide robot", 1.2),
    ("750mm", 0.75), ("2 feet", 0.6096), ("1.5 meters", 1.5),
])
def test_extract_lengths(text: str, meters: float) -> None:
    out, found = extract_lengths(text)
    assert found == [pytest.approx(meters)]
    assert "<L>" in out


def _one(q: str) -> tuple[str, str, str | None, str]:
    plan = P.plan(q)
    assert plan.refusal is None, q
    assert len(plan.subqueries) == 1, q
    s = plan.subqueries[0]
    return s.kind, s.a, s.b, plan.compute


@pytest.mark.parametrize(("q", "kind", "a", "b", "compute"), [
    # fit between
    ("Can a 1 m wide robot fit between the sofa and the chairs?", "gap", "the sofa", "the chairs", "g >= 1 m"),
    ("Could a half-metre-wide robot squeeze between the couch and the red chair?", "gap", "the couch",
     "the red chair", "g >= 0.5 m"),
    ("Is there enough room for an 80 cm wide cart to pass between the table and the lamp?", "gap", "the table",
     "the lamp", "g >= 0.8 m"),
    ("Will a robot 3 ft across get between the sofa and the armchair without touching them?", "gap", "the sofa",
     "the armchair", "g >= 0.9144 m"),
    # clearance
    ("Is there at least 90 cm between the sofa and the armchair?", "gap", "the sofa", "the armchair", "g >= 0.9 m"),
    ("Is the gap between the bed and the wardrobe more than 2 ft?", "gap", "the bed", "the wardrobe",
     "g > 0.6096 m"),
    ("Is the space between the desk and the wall less than 50 cm?", "gap", "the desk", "the wall", "g < 0.5 m"),
    # reach
    ("Can an arm of 1.5 m reach the lamp from the sofa?", "closest", "the lamp", "the sofa", "d <= 1.5 m"),
    ("Is the lamp within 2 ft of the table?", "closest", "the lamp", "the table", "d <= 0.6096 m"),
    ("Would a robot standing next to the sofa with an arm of 1.2 m be able to reach the lamp?", "closest",
     "the lamp", "the sofa", "d <= 1.2 m"),
    ("From the table, can a 70 cm arm touch the blue chair?", "closest", "the blue chair", "the table",
     "d <= 0.7 m"),
    ("Could a gripper with 90 inches of reach grab the lamp from the door?", "closest", "the lamp", "the door",
     "d <= 2.286 m"),
    ("Are the sofa and the table more than 2 m apart?", "closest", "the sofa", "the table", "d > 2 m"),
    # fit on / under / through
    ("Is the table wide enough for an object of 1.2 m?", "width", "the table", None, "w >= 1.2 m"),
    ("Can a 1.4 m long board lie on the table?", "width", "the table", None, "w >= 1.4 m"),
    ("Can a 0.8 m wide cart go through the door?", "width", "the door", None, "w >= 0.8 m"),
    ("Is the doorway wide enough for a 75 cm wheelchair?", "width", "the doorway", None, "w >= 0.75 m"),
    # taller/shorter than a stated size
    ("Is the lamp taller than 5 ft 6 in?", "height", "the lamp", None, "h > 1.6764 m"),
    ("Is the sofa shorter than one metre?", "height", "the sofa", None, "h < 1 m"),
    ("Is the bookshelf more than 180 cm tall?", "height", "the bookshelf", None, "h > 1.8 m"),
    ("Does the fridge exceed 2 m in height?", "height", "the fridge", None, "h > 2 m"),
    ("Is the table wider than 1 m?", "width", "the table", None, "w > 1 m"),
    ("Is the wall shelf more than 1 m above the floor?", "elevation", "the wall shelf", None, "e > 1 m"),
])
def test_families(q: str, kind: str, a: str, b: str | None, compute: str) -> None:
    assert _one(q) == (kind, a, b, compute)


def test_value_questions_and_comparisons() -> None:
    assert _one("What is the free-space gap between the sofa and the armchair?")[:3] == ("gap", "the sofa",
                                                                                         "the armchair")
    assert _one("How far is the lamp from the sofa?")[:3] == ("distance", "the lamp", "the sofa")
    assert _one("How tall is the lamp?")[:2] == ("height", "the lamp")
    assert _one("How high above the floor is the shelf?")[:2] == ("elevation", "the shelf")
    assert _one("Is the sofa bigger than the armchair?") == ("size_compare", "the sofa", "the armchair", "s > 1")
    plan = P.plan("Is the bookshelf taller than the door?")
    assert [s.kind for s in plan.subqueries] == ["height", "height"] and plan.compute == "x > y"
    assert _one("Is there a piano in the image?") == ("exists", "piano", None, "n >= 1")


@pytest.mark.parametrize("q", ["What is the capital of France?", "Write me a poem about chairs.",
                               "How are you today?", "Translate 'table' into French."])
def test_not_spatial_is_refused(q: str) -> None:
    plan = P.plan(q)
    assert plan.refusal == REFUSAL and not plan.subqueries


def test_empty_question_is_an_error() -> None:
    with pytest.raises(ValueError, match="question"):
        P.plan("   ")


def test_existential_phrasing_names_the_object() -> None:
    from spatial_agent.planners.rules import clean_phrase

    assert clean_phrase("there a piano") == "a piano"
    assert clean_phrase("there is a lamp") == "a lamp"
