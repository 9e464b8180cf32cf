"""Intervals over training seeds: Student t for one arm's mean, Welch t for the difference of two arms.

With two or three seeds per arm the t quantile is large (12.7 at 1 degree of freedom, 4.3 at 2): the intervals
are wide by construction, and an effect is called outside the noise only when its interval excludes zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int

    def excludes_zero(self) -> bool:
        return self.n >= 2 and math.isfinite(self.lo) and (self.lo > 0 or self.hi < 0)

    def fmt(self, digits: int = 3) -> str:
        if not math.isfinite(self.mean):
            return "n/a"
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            return f"{self.mean:.{digits}f} (n={self.n}, no interval)"
        return f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def _t(df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + LEVEL / 2, df))


def _clean(xs: list[float]) -> np.ndarray:
    a = np.asarray([x for x in xs if x is not None and math.isfinite(x)], dtype=np.float64)
    return a


def mean_interval(xs: list[float]) -> Interval:
    """Mean and its ``LEVEL`` t-interval over the finite values of ``xs`` (no interval below two values)."""
    a = _clean(xs)
    if a.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    m = float(a.mean())
    if a.size < 2:
        return Interval(m, math.nan, math.nan, int(a.size))
    half = _t(a.size - 1) * float(a.std(ddof=1)) / math.sqrt(a.size)
    return Interval(m, m - half, m + half, int(a.size))


def diff_interval(a_xs: list[float], b_xs: list[float]) -> Interval:
    """mean(a) - mean(b) with a Welch t-interval (unequal variances, Welch-Satterthwaite degrees of freedom);
    ``n`` is the smaller arm's seed count."""
    a, b = _clean(a_xs), _clean(b_xs)
    if a.size == 0 or b.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    d = float(a.mean() - b.mean())
    n = int(min(a.size, b.size))
    if n < 2:
        return Interval(d, math.nan, math.nan, n)
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    se = math.sqrt(va + vb)
    if se == 0:  # identical seeds in both arms: no spread to scale an interval by
        return Interval(d, d, d, n)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = _t(df) * se
    return Interval(d, d - half, d + half, n)
