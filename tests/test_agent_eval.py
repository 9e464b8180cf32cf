"""The affordance eval harness on a few procedural scenes (exact truth)."""

from __future__ import annotations

import pytest

from evals.affordance import make_cases, make_items, run_row
from spatial_agent import GeometricTool, SpatialAgent
from spatialvlm_core import geometry


def test_affordance_eval_small() -> None:
    cases, source = make_cases(4, 123_456, "procedural")
    assert source == "procedural"
    sc = cases[0].scene
    assert geometry.footprint_gap(sc.get("sofa"), sc.get("armchair")) == pytest.approx(
        sc.provenance["gap"]["gap_m"], abs=1e-9)
    items = make_items(cases, 123_456)
    assert len(items) >= 4 * 7 and {it.truth for it in items} == {True, False, None}
    # Reach truth is the minimal box-to-box distance, the same definition the agent's "closest" kind uses.
    assert all(it.kinds == ["closest"] for it in items if it.family == "reach")
    assert all(it.truth is None and it.kinds == [] for it in items if it.family == "fit_under")
    row = run_row("t", items, cases, lambda c: SpatialAgent(tool=GeometricTool(scene=c.scene)), lambda c: None)
    assert row.n == len(items) and row.correct == row.n and row.planner_calls == row.n
