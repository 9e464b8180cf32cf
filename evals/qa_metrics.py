"""Scoring of spatial-QA predictions for the benchmark evals: the library's one scorer,
``spatialvlm_core.model.scoring`` (its docstring says what each metric means), re-exported under the names the
evals and their tests use. ``spatialvlm_core.model.evaluate`` scores the shipped model with the same functions.
"""

from __future__ import annotations

from spatialvlm_core.model.scoring import (
    LENGTH_UNITS,
    MRA_THRESHOLDS,
    GroupSummary,
    PairScore,
    Summary,
    choice_correct,
    clock_error,
    mra,
    predicted_value,
    relative_error,
    score_prediction,
    summarize,
    summarize_group,
)

__all__ = [
    "LENGTH_UNITS", "MRA_THRESHOLDS", "GroupSummary", "PairScore", "Summary", "choice_correct", "clock_error", "mra",
    "predicted_value", "relative_error", "score_prediction", "summarize", "summarize_group",
]
