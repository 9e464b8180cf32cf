"""Report helpers shared by the evals: markdown tables, number formatting and matplotlib plots (Agg)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def fmt(value: float | None, pct: bool = False, digits: int = 1) -> str:
    """A table cell: "-" for missing, percentages for shares."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.{digits}f}" if pct else f"{value:.{digits + 2}g}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    """A GitHub markdown table; ``align`` per column is "l" or "r" (default: first left, rest right)."""
    if any(len(r) != len(headers) for r in rows):
        raise ValueError(f"markdown_table: every row needs {len(headers)} cells")
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    sep = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(map(str, headers)) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A fixed-width table for the terminal."""
    cells = [list(map(str, headers))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for j, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_log_error_histograms(errors: Mapping[str, Sequence[float]], path: str | Path,
                              title: str = "log(pred / truth), quantitative answers") -> Path:
    """One histogram panel per model of natural-log ratios (0 = exact; ±0.69 = a factor of 2)."""
    plt = _pyplot()
    names = list(errors)
    if not names:
        raise ValueError("plot_log_error_histograms: nothing to plot")
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False, sharey=True)
    bins = [-2.0 + 0.1 * i for i in range(41)]
    for ax, name in zip(axes[0], names, strict=True):
        vals = [max(-2.0, min(2.0, v)) for v in errors[name] if math.isfinite(v)]
        ax.hist(vals, bins=bins, color="tab:blue", alpha=0.8)
        for x in (-math.log(2), -math.log(1.1), math.log(1.1), math.log(2)):
            ax.axvline(x, color="gray", ls=":" if abs(x) > 0.5 else "--", lw=1)
        ax.set_title(f"{name} (n={len(vals)})", fontsize=9)
        ax.set_xlabel("log(pred / truth), clipped to ±2")
    axes[0][0].set_ylabel("answers")
    return save_figure(fig, path, suptitle=title)


def plot_pred_vs_true(points: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path,
                      title: str = "predicted vs true length (m)") -> Path:
    """Log-log scatter of (truth, prediction) per model, with the y = x, 2x and 0.5x lines."""
    plt = _pyplot()
    names = list(points)
    if not names:
        raise ValueError("plot_pred_vs_true: nothing to plot")
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        truth, pred = points[name]
        xy = [(t, p) for t, p in zip(truth, pred, strict=True) if t > 0 and p > 0]
        lo, hi = 0.01, 20.0
        if xy:
            ax.scatter([t for t, _ in xy], [p for _, p in xy], s=6, alpha=0.5)
            lo = min(lo, *(min(t, p) for t, p in xy))
            hi = max(hi, *(max(t, p) for t, p in xy))
        for k, style in ((1.0, "-"), (2.0, ":"), (0.5, ":")):
            ax.plot([lo, hi], [k * lo, k * hi], color="gray", ls=style, lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_title(f"{name} (n={len(xy)})", fontsize=9)
        ax.set_xlabel("true")
    axes[0][0].set_ylabel("predicted")
    return save_figure(fig, path, suptitle=title)


def plot_bars_by_type(values: Mapping[str, Mapping[str, float | None]], path: str | Path, ylabel: str,
                      title: str) -> Path:
    """Grouped bars: one group per question type, one bar per model."""
    plt = _pyplot()
    models = list(values)
    types = sorted({t for v in values.values() for t in v})
    if not models or not types:
        raise ValueError("plot_bars_by_type: nothing to plot")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(types) * max(1, len(models)) / 2 + 2), 3.8))
    w = 0.8 / len(models)
    for i, m in enumerate(models):
        ys = [values[m].get(t) for t in types]
        ax.bar([j + i * w for j in range(len(types))], [0.0 if y is None else y for y in ys], width=w, label=m)
    ax.set_xticks([j + 0.4 - w / 2 for j in range(len(types))])
    ax.set_xticklabels(types, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | Path, suptitle: str | None = None, dpi: int = 100) -> Path:
    """Lay out (under ``suptitle`` when given), write the figure and close it."""
    import matplotlib.pyplot as plt

    if suptitle is not None:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    plt.close(fig)
    return p
