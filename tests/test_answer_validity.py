"""An answer is a measurement only if it answers the question (``parsing.rejection``), in the tool and in both
scorers; questions the model cannot answer are refused."""

from __future__ import annotations

import pytest

from evals.qa_metrics import score_prediction
from spatialvlm_core.model.evaluate import score_one
from spatialvlm_core.model.parsing import (
    QTYPE_QUANTITY,
    asked_quantity,
    checked_answer,
    is_declined,
    is_spatial,
    parse_answer,
    rejection,
    ungroundable,
)
from spatialvlm_core.questions import templates as t
from spatialvlm_core.types import QAPair

DIST_Q = "How far is the night stand from the dresser mirror?"
MUG = "The bottom of the blue mug is roughly 74 centimeters off the ground."


def _distance_pair(question: str) -> QAPair:
    return QAPair(id="q", image_id="i", qtype="distance", category="quantitative", kind="quantitative",
                  question=question, answer="1.2 meters", value=1.2, unit="m", truth=1.2)


def test_a_sentence_about_another_object_and_quantity_is_rejected() -> None:
    why = rejection(DIST_Q, MUG)
    assert why is not None and "mug" in why and "height above the floor" in why
    ans = checked_answer(DIST_Q, parse_answer(MUG, source="vlm:x"))
    assert ans.value is None and ans.meters is None and is_declined(ans)
    assert "rejected" in ans.text and "74 centimeters" in ans.text  # quoted, not restated
    assert checked_answer(DIST_Q, ans) == ans  # a rejection is not rejected again


def test_a_correct_sentence_is_kept() -> None:
    q = "How far is the gray sofa from the black table?"
    for text in ("The gray sofa is 1.2 meters from the black table.", "They are 1.2 meters apart.", "About 1.2 m."):
        ans = checked_answer(q, parse_answer(text))
        assert rejection(q, text) is None and ans.meters == pytest.approx(1.2)
    assert "the red sofa" in (rejection(q, "The red sofa is 1.2 meters from the black table.") or "")
    # The tiny model's slip: the first object's class copied into the second's slot, with the asked colours.
    assert rejection(q, "The gray sofa is 1.2 meters from the black sofa.") is None
    assert "width" in (rejection(q, "The gray sofa is 1.2 meters wide.") or "")


def test_every_trained_answer_wording_fits_its_own_question() -> None:
    """No false rejections on the QA data's own wordings: each metric type's answers pass for its questions."""
    for qtype, quantity in QTYPE_QUANTITY.items():
        for qt in t.quant_questions(qtype):
            q = t.render(qt, A="the taller red bookshelf", B="the farther gray sofa")
            assert asked_quantity(q) == quantity, q
            for at in t.quant_answers(qtype):
                a = t.render(at, A="the taller red bookshelf", B="the farther gray sofa", value="1.2 meters")
                assert rejection(q, a) is None, (q, a)


def test_both_scorers_count_the_rejected_sentence_invalid() -> None:
    pair = _distance_pair("How far is the nightstand from the wardrobe?")
    bad = parse_answer("The bottom of the blue mug is roughly 1.2 meters off the ground.")
    good = parse_answer("The nightstand is 1.2 meters from the wardrobe.")
    assert bad.meters == pytest.approx(1.2)  # the number alone would have scored as a perfect answer
    assert score_prediction(pair, bad).valid is False and score_prediction(pair, good).within_10pct is True
    assert score_one(pair, bad)["valid"] is False and score_one(pair, good)["w11"] is True


def test_non_spatial_and_ungroundable_questions() -> None:
    assert not is_spatial("What is the capital of France?")
    assert not is_spatial("What colour is the sofa?")
    assert is_spatial("Is the lamp to the left of the sofa?") and is_spatial("How tall is the bookshelf?")
    classes = ("sofa", "nightstand", "dining chair", "mug")
    assert ungroundable("How far is the piano from the sofa?", classes) == ["the piano"]
    assert ungroundable(DIST_Q, classes) == ["the dresser mirror"]  # "night stand" is the catalogue's nightstand
    assert ungroundable("Can a 1 m wide robot fit between the sofa and the chairs?", classes) == []
