"""The reconstruction eval's own machinery: depth corruption and metrics on analytic scenes."""

from __future__ import annotations

import numpy as np
import pytest

from evals.reconstruction import _summary, corrupt_depth, evaluate, samples


def test_corrupt_depth_scale_noise_and_flying_pixels() -> None:
    rng = np.random.default_rng(0)
    d = np.full((40, 40), 2.0, np.float32)
    d[:, 20:] = 4.0
    d[0, 0] = 0.0
    scaled = corrupt_depth(d, rng, scale=0.1)
    assert scaled[5, 5] == pytest.approx(2.2) and scaled[0, 0] == 0
    noisy = corrupt_depth(d, rng, noise_k=0.01)
    # sigma = k d^2: 0.04 m at 2 m, 0.16 m at 4 m.
    assert np.std(noisy[:, 2:18] - 2.0) == pytest.approx(0.04, rel=0.15)
    assert np.std(noisy[:, 22:38] - 4.0) == pytest.approx(0.16, rel=0.15)
    fly = corrupt_depth(d, rng, flying=1.0)
    between = (fly > 2.0 + 1e-3) & (fly < 4.0 - 1e-3)
    assert between.any() and between[:, [19, 20]].sum() == between.sum()  # only at the depth edge


def test_evaluate_on_analytic_scenes_meets_the_bars() -> None:
    errs = [evaluate(s) for s in samples("analytic", 3)]
    summ = _summary(errs)
    assert summ["objects"] >= 6
    assert summ["centroid_med_cm"] < 0.5
    assert summ["pair_rel_med_pct"] < 0.5
    assert summ["gravity_within_2deg_pct"] == 100.0
    # A 10 % depth scale error shows up as a 10 % pairwise-distance error.
    s = next(iter(samples("analytic", 1)))
    e = evaluate(s, depth=corrupt_depth(s.frame.depth, np.random.default_rng(0), scale=0.1))
    assert np.median(e.pair_rel) == pytest.approx(0.1, abs=0.01)
