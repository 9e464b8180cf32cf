"""Reward shaping, smoothing, task parsing and answer parsing: exact values on hand-made sequences."""

from __future__ import annotations

import numpy as np
import pytest

from spatial_agent.reward import answer_meters, parse_task
from spatial_agent.reward_shaping import (
    SMOOTHINGS,
    bridge,
    ema,
    median_filter,
    negative_distance,
    potential,
    progress,
    savgol,
    shape,
    smooth,
)
from spatialvlm_core.types import Answer


def test_negative_distance_exact() -> None:
    assert negative_distance([1.0, 0.5, None, 0.0]) == [-1.0, -0.5, None, -0.0]


def test_progress_exact_and_starts_at_first_known() -> None:
    assert progress([1.0, 0.8, 0.5, 0.0]) == pytest.approx([0.0, 0.2, 0.5, 1.0])
    assert progress([0.5, 1.0]) == pytest.approx([0.0, -1.0])  # farther than the start: negative
    out = progress([None, 0.4, 0.1])
    assert out[0] is None and out[1:] == pytest.approx([0.0, 0.75])
    assert progress([None, None]) == [None, None]


def test_potential_exact() -> None:
    # r_t = gamma * (-d_t) - (-d_{t-1})
    r = potential([1.0, 0.8, 0.5], gamma=0.9)
    assert r == pytest.approx([0.0, 0.9 * -0.8 + 1.0, 0.9 * -0.5 + 0.8])
    assert potential([1.0, None, 0.5], gamma=1.0) == [0.0, None, None]
    assert potential([], gamma=0.9) == []
    with pytest.raises(ValueError, match="gamma"):
        potential([1.0], gamma=0.0)
    # gamma = 1 telescopes: the sum is d_0 - d_T
    d = [0.9, 0.7, 0.72, 0.3, 0.1]
    assert sum(potential(d, gamma=1.0)) == pytest.approx(d[0] - d[-1])  # type: ignore[arg-type]


def test_shape_rejects_unknown_and_non_finite() -> None:
    with pytest.raises(ValueError, match="shaping"):
        shape([1.0], "bogus")
    with pytest.raises(ValueError, match=r"distances\[1\]"):
        progress([1.0, float("nan")])


def test_monotone_approach_gives_monotone_progress() -> None:
    rng = np.random.default_rng(0)
    d = np.sort(rng.uniform(0.02, 0.6, size=25))[::-1]  # strictly approaching
    for method in SMOOTHINGS:
        sm, _ = smooth(list(d), method)
        p = np.array(progress(sm), dtype=float)
        assert np.all(np.diff(p) >= -1e-12), method
        pot = np.array(potential(sm, gamma=1.0)[1:], dtype=float)
        assert np.all(pot >= -1e-12), method  # each step closer pays a non-negative shaped reward
    p_raw = np.array(progress(list(d)), dtype=float)
    assert np.all(np.diff(p_raw) > 0) and p_raw[0] == 0.0


def test_bridge_interpolates_and_flags() -> None:
    x, flags = bridge([None, 1.0, None, 3.0, None])
    assert x is not None and list(x) == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert flags == [True, False, True, False, True]
    assert bridge([None, None]) == (None, [True, True])


def test_median_removes_a_spike_and_ema_is_exact() -> None:
    x = np.array([0.5, 0.5, 5.0, 0.5, 0.5])
    assert list(median_filter(x, 3)) == [0.5] * 5
    with pytest.raises(ValueError, match="odd"):
        median_filter(x, 4)
    assert list(ema(np.array([1.0, 0.0, 0.0]), 0.5)) == [1.0, 0.5, 0.25]


def test_savgol_keeps_a_quadratic_exactly() -> None:
    t = np.arange(9, dtype=float)
    q = 0.01 * t**2 - 0.1 * t + 1.0
    assert savgol(q, 5, 2) == pytest.approx(q)
    with pytest.raises(ValueError, match="savgol"):
        savgol(q, 4, 2)


def test_smooth_keeps_missing_flagged_and_all_missing_is_none() -> None:
    vals = [0.5, 0.4, None, 0.2, 0.1]
    sm, bridged = smooth(vals, "median_ema")
    assert bridged == [False, False, True, False, False]
    assert all(v is not None for v in sm)
    assert smooth([None, None, None], "median_savgol") == ([None] * 3, [True] * 3)
    with pytest.raises(ValueError, match="smoothing"):
        smooth(vals, "kalman")
    sm_none, _ = smooth([0.5, 9.0, 0.5], "none")
    assert sm_none == [0.5, 9.0, 0.5]  # "none" only bridges


@pytest.mark.parametrize(
    ("task", "target"),
    [
        ("pick up the mug", "the mug"),
        ("Pick up the red mug from the table.", "the red mug"),
        ("please pick the bottle up", "the bottle"),
        ("move the mug to the plate", "the mug"),
        ("put the bowl in the sink", "the bowl"),
        ("reach for the bottle", "the bottle"),
        ("grasp the box", "the box"),
        ("lift the bowl carefully", "the bowl"),
        ("mug", "the mug"),
    ],
)
def test_parse_task(task: str, target: str) -> None:
    assert parse_task(task) == target


def test_parse_task_errors() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        parse_task("  ")
    with pytest.raises(ValueError, match="cannot find the object"):
        parse_task("do a little dance while the music plays")


def test_answer_meters_units_and_missing() -> None:
    assert answer_meters(Answer(text="35 cm", value=35.0, unit="cm")) == pytest.approx(0.35)
    assert answer_meters(Answer(text="0.2 m", value=0.2, unit="m", meters=0.2)) == 0.2
    assert answer_meters(Answer(text="I cannot find a mug in the image")) is None
    assert answer_meters(Answer(text="3", value=3.0)) is None  # a number without a unit is not a length
    assert answer_meters(Answer(text="-1 m", value=-1.0, unit="m", meters=-1.0)) is None
    assert answer_meters(Answer(text="2 parsecs", value=2.0, unit="parsec")) is None
