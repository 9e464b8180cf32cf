"""QA metrics on hand-made predictions with exact expected numbers."""

from __future__ import annotations

import pytest

from evals.qa_metrics import MRA_THRESHOLDS, choice_correct, mra, score_prediction, summarize
from spatialvlm_core.questions import parse_answer
from spatialvlm_core.types import QAPair


def _pred(truth_bool: bool, id: str = "p") -> QAPair:
    return QAPair(id=id, image_id="i", qtype="left_right_predicate", category="qualitative", kind="predicate",
                  question="Is the red box to the left of the blue table?", answer="Yes." if truth_bool else "No.",
                  truth_bool=truth_bool)


def _choice(id: str = "c") -> QAPair:
    return QAPair(id=id, image_id="i", qtype="taller_choice", category="qualitative", kind="choice",
                  question="Which is taller, the red chair or the larger red chair?", answer="The red chair.",
                  choice="the red chair", object_ids=["a", "b"])


def _length(truth: float, id: str = "q", qtype: str = "distance") -> QAPair:
    return QAPair(id=id, image_id="i", qtype=qtype, category="quantitative", kind="quantitative",
                  question="How far is the red box from the blue table?", answer="2 meters.", value=round(truth, 1),
                  unit="m", truth=truth)


def _clock(hour: float, truth: float, id: str = "k") -> QAPair:
    return QAPair(id=id, image_id="i", qtype="clock_direction", category="quantitative", kind="quantitative",
                  question="At what clock position is the red box relative to the camera?",
                  answer=f"{int(hour)} o'clock.", value=hour, unit="o'clock", truth=truth)


def test_thresholds_and_mra() -> None:
    assert MRA_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    assert mra(2.0, 2.0) == 1.0
    assert mra(1.5, 2.0) == 0.5  # rel 0.25 < 1 - t for t in 0.50..0.70
    assert mra(2.02, 2.0) == 1.0  # rel 0.01
    assert mra(5.0, 2.0) == 0.0
    assert mra(1.0, 2.0) == 0.0  # rel 0.5 is not < 0.5


def test_predicates() -> None:
    assert score_prediction(_pred(True), parse_answer("Yes, it is.")).correct is True
    assert score_prediction(_pred(True), parse_answer("No.")).correct is False
    assert score_prediction(_pred(False), parse_answer("No, it is to the right.")).correct is True
    assert score_prediction(_pred(True), parse_answer("Maybe.")).correct is False  # no yes/no: wrong


def test_choices() -> None:
    cands = ["the red chair", "the larger red chair"]
    qa = _choice()
    assert score_prediction(qa, parse_answer("The red chair is taller."), cands).correct is True
    assert score_prediction(qa, parse_answer("red chair."), cands).correct is True  # article optional
    # The longer caption contains the shorter one: naming it is not naming the right object.
    assert score_prediction(qa, parse_answer("The larger red chair."), cands).correct is False
    # The other named after the right one is fine ("X is taller than Y"), before it is not.
    assert choice_correct("The red chair is taller than the larger red chair.", "the red chair", cands)
    assert not choice_correct("The larger red chair is shorter than the red chair.", "the red chair", cands)
    assert not choice_correct("I don't know.", "the red chair", cands)


def test_lengths() -> None:
    qa = _length(2.0)
    s = score_prediction(qa, parse_answer("About 1.5 meters."))
    assert (s.valid, s.pred, s.rel_error, s.within_2x, s.within_10pct, s.mra) == (True, 1.5, 0.25, True, False, 0.5)
    s = score_prediction(qa, parse_answer("202 cm"))
    assert s.pred == pytest.approx(2.02) and s.within_10pct and s.mra == 1.0
    s = score_prediction(qa, parse_answer("6 feet 6 inches"))
    assert s.pred == pytest.approx(1.9812) and s.within_10pct is True
    s = score_prediction(qa, parse_answer("5 meters"))
    assert (s.within_2x, s.within_10pct, s.mra) == (False, False, 0.0)
    s = score_prediction(qa, parse_answer("3"))  # bare number: read as metres
    assert s.valid and s.pred == 3.0 and s.within_2x and not s.within_10pct
    s = score_prediction(qa, parse_answer("They are far apart."))
    assert (s.valid, s.pred, s.within_2x, s.mra) == (False, None, False, 0.0)
    assert score_prediction(qa, parse_answer("30 degrees")).valid is False  # wrong kind of unit


def test_clock() -> None:
    qa = _clock(3, 2.8)
    s = score_prediction(qa, parse_answer("At 3 o'clock."))
    assert (s.truth, s.rel_error, s.within_10pct, s.within_2x, s.mra) == (3.0, 0.0, True, True, 1.0)
    s = score_prediction(qa, parse_answer("4 o'clock"))
    assert (s.within_10pct, s.within_2x, s.mra) == (False, True, 0.7)  # 1/6 < 1 - t for t <= 0.80
    s = score_prediction(_clock(12, 0.7), parse_answer("1 o'clock"))  # circular: 12 -> 1 is one hour
    assert s.within_2x and s.rel_error == pytest.approx(1 / 6)
    assert score_prediction(qa, parse_answer("9 o'clock")).within_2x is False


def test_summary_exact() -> None:
    scores = [
        score_prediction(_pred(True, "p1"), parse_answer("Yes.")),
        score_prediction(_pred(False, "p2"), parse_answer("Yes.")),
        score_prediction(_choice("c1"), parse_answer("The red chair."), ["the red chair", "the larger red chair"]),
        score_prediction(_length(2.0, "q1"), parse_answer("1.5 m")),  # mra 0.5, within 2x
        score_prediction(_length(2.0, "q2"), parse_answer("2 m")),  # mra 1, within 10 %
        score_prediction(_length(1.0, "q3", "width"), parse_answer("no idea")),  # invalid
        score_prediction(_length(1.0, "q4", "width"), parse_answer("3 m")),  # rel 2
    ]
    s = summarize(scores)
    assert (s.overall.n, s.overall.n_qualitative, s.overall.n_quantitative) == (7, 3, 4)
    assert s.overall.accuracy == pytest.approx(2 / 3)
    assert s.predicate.accuracy == 0.5 and s.choice.accuracy == 1.0
    q = s.quantitative
    assert (q.valid_rate, q.within_2x, q.within_10pct, q.mra) == (0.75, 0.5, 0.25, 0.375)
    assert q.median_rel_error == 0.25  # of 0.25, 0.0, 2.0
    assert s.by_type["width"].valid_rate == 0.5 and s.by_type["width"].mra == 0.0
    assert s.by_type["distance"].mra == 0.75
    assert s.by_type["left_right_predicate"].accuracy == 0.5 and s.by_type["left_right_predicate"].mra is None


def test_bad_pairs() -> None:
    bad = _choice().model_copy(update={"choice": None})
    with pytest.raises(ValueError, match="no 'choice'"):
        score_prediction(bad, parse_answer("the red chair"))
    bad = _length(1.0).model_copy(update={"truth": None})
    with pytest.raises(ValueError, match="no 'truth'"):
        score_prediction(bad, parse_answer("1 m"))
