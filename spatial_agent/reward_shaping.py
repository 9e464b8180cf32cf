"""Reward shaping and smoothing of per-frame gripper-object distances (pure numpy; metres in, rewards out).

A missing frame is ``None`` in every input sequence. Shaping functions keep ``None`` where a distance is
missing (they never invent a number); ``smooth`` bridges gaps by linear interpolation and returns a flag per
frame saying which values were bridged, so callers can keep them marked.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

Shaping = Literal["negative_distance", "progress", "potential"]
Smoothing = Literal["none", "median", "median_ema", "median_savgol"]
SHAPINGS: tuple[str, ...] = ("negative_distance", "progress", "potential")
SMOOTHINGS: tuple[str, ...] = ("none", "median", "median_ema", "median_savgol")

MaybeFloats = Sequence[float | None]


def _check(values: MaybeFloats, name: str = "distances") -> None:
    for i, v in enumerate(values):
        if v is not None and not math.isfinite(v):
            raise ValueError(f"{name}[{i}] must be finite or None, got {v!r}")


def negative_distance(distances: MaybeFloats) -> list[float | None]:
    """r_t = -d_t."""
    _check(distances)
    return [None if d is None else -float(d) for d in distances]


def progress(distances: MaybeFloats, eps: float = 1e-6) -> list[float | None]:
    """r_t = (d_0 - d_t) / d_0 with d_0 the first known distance: 0 at the start, 1 on contact, < 0 when farther."""
    _check(distances)
    d0 = next((float(d) for d in distances if d is not None), None)
    if d0 is None:
        return [None] * len(distances)
    scale = max(d0, eps)
    return [None if d is None else (d0 - float(d)) / scale for d in distances]


def potential(distances: MaybeFloats, gamma: float = 0.99) -> list[float | None]:
    """Potential-based shaping (Ng et al. 1999) with phi = -d: r_t = gamma * phi(s_t) - phi(s_{t-1}).

    r_0 = 0 (no transition into the first frame); None where either end of the transition is missing.
    """
    _check(distances)
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    if not distances:
        return []
    out: list[float | None] = [0.0 if distances[0] is not None else None]
    for prev, cur in itertools.pairwise(distances):
        out.append(None if prev is None or cur is None else gamma * -float(cur) + float(prev))
    return out


def shape(distances: MaybeFloats, shaping: str, gamma: float = 0.99) -> list[float | None]:
    if shaping == "negative_distance":
        return negative_distance(distances)
    if shaping == "progress":
        return progress(distances)
    if shaping == "potential":
        return potential(distances, gamma)
    raise ValueError(f"shaping must be one of {SHAPINGS}, got {shaping!r}")


# --------------------------------------------------------------------------- smoothing
def bridge(values: MaybeFloats) -> tuple[np.ndarray | None, list[bool]]:
    """Fill missing values by linear interpolation (constant beyond the ends); None when nothing is known."""
    _check(values, "values")
    known = np.array([v is not None for v in values], dtype=bool)
    if not known.any():
        return None, [True] * len(values)
    idx = np.arange(len(values))
    ys = np.array([float(v) for v in values if v is not None])
    return np.interp(idx, idx[known], ys), [not k for k in known]


def median_filter(x: np.ndarray, window: int) -> np.ndarray:
    """Running median with edge replication; removes single-frame outliers without shifting the curve."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"median window must be a positive odd number, got {window}")
    if window == 1 or len(x) < 2:
        return x.copy()
    h = window // 2
    padded = np.pad(x, h, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)


def ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """Causal exponential moving average s_t = alpha x_t + (1 - alpha) s_{t-1}, s_0 = x_0."""
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"ema alpha must be in (0, 1], got {alpha}")
    out = np.empty_like(x, dtype=float)
    if len(x) == 0:
        return out
    out[0] = x[0]
    for t in range(1, len(x)):
        out[t] = alpha * x[t] + (1 - alpha) * out[t - 1]
    return out


def savgol(x: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay smoothing (scipy); sequences shorter than the window are returned unchanged."""
    if window < 3 or window % 2 == 0 or order >= window:
        raise ValueError(f"savgol needs an odd window >= 3 and order < window, got window={window}, order={order}")
    if len(x) < window:
        return x.copy()
    from scipy.signal import savgol_filter  # scipy.signal: only for savgol smoothing

    return np.asarray(savgol_filter(x, window, order, mode="interp"), dtype=float)


def smooth(
    values: MaybeFloats,
    method: str = "median_ema",
    *,
    median_window: int = 3,
    ema_alpha: float = 0.6,
    savgol_window: int = 5,
    savgol_order: int = 2,
) -> tuple[list[float | None], list[bool]]:
    """Smoothed curve and per-frame ``bridged`` flags (True where the input was missing and got interpolated).

    Distances stay non-negative (Savitzky-Golay can undershoot near contact). All missing -> all None.
    """
    if method not in SMOOTHINGS:
        raise ValueError(f"smoothing must be one of {SMOOTHINGS}, got {method!r}")
    x, bridged = bridge(values)
    if x is None:
        return [None] * len(values), bridged
    if method != "none":
        x = median_filter(x, median_window)
    if method == "median_ema":
        x = ema(x, ema_alpha)
    elif method == "median_savgol":
        x = np.maximum(savgol(x, savgol_window, savgol_order), 0.0)
    return [float(v) for v in x], bridged
