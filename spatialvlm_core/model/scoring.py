"""The one QA scorer: spatial-QA predictions (one ``Answer`` per ``QAPair``), per pair and by question type.

Qualitative:
- predicate: the parsed yes/no (``Answer.boolean``) equals ``QAPair.truth_bool``; no yes/no is wrong.
- choice: the text names the right caption and no other candidate before it (answers such as "X is to the
  left of Y" name the other object after the chosen one). Candidates are the captions the question offers
  (binary choice) or the scene's other objects (open choice); captions match without their article.

Quantitative (against ``QAPair.truth``, the exact value in SI):
- valid: a number was parsed in a usable unit (lengths: a length unit, converted to metres; a bare number is
  read as metres; degrees/clock/counts: that unit or none), from a sentence that answers the question: one naming
  other objects or stating another quantity is invalid (``spatialvlm_core.model.parsing.rejection``, the check
  the SpatialVLM tool applies).
- within 2x: pred in [0.5 truth, 2 truth]; within 10 %: pred in [0.9 truth, 1.1 truth].
- MRA (mean relative accuracy, as in VSI-Bench): mean over t in {0.50, 0.55, ..., 0.95} of
  1[|pred - truth| / truth < 1 - t].
- clock types are circular and already discrete: they compare the predicted hour with the stated (rounded)
  hour ``QAPair.value``; the "relative error" is the circular hour difference / 6, within 10 % means the
  right hour and within 2x means at most one hour off.
Invalid or missing numbers count as misses in every share (denominators are all quantitative pairs).

Used by ``model.evaluate`` (the training/shipping eval) and ``evals.qa_metrics`` (the benchmark eval). It
lives in ``model`` because the answer check it applies (``model.parsing.rejection``) does; ``questions`` must
not import ``model``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.model.parsing import rejection
from spatialvlm_core.types import Answer, QAPair
from spatialvlm_core.units import METERS_PER_UNIT

MRA_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
LENGTH_UNITS = frozenset(METERS_PER_UNIT)


class PairScore(BaseModel):
    """The score of one prediction."""

    model_config = ConfigDict(extra="forbid")

    id: str
    qtype: str
    kind: str
    category: str
    correct: bool | None = None  # qualitative only
    valid: bool | None = None  # quantitative only
    pred: float | None = None  # prediction in the truth's unit (SI / count / deg / clock hour)
    truth: float | None = None
    rel_error: float | None = None
    within_2x: bool | None = None
    within_10pct: bool | None = None
    mra: float | None = None
    unit: str | None = None  # unit family: "m", "count", "deg", "o'clock"


class GroupSummary(BaseModel):
    """Aggregate over a set of pairs (all, one question type, one kind)."""

    model_config = ConfigDict(extra="forbid")

    n: int = 0
    n_qualitative: int = 0
    n_quantitative: int = 0
    accuracy: float | None = None  # qualitative
    valid_rate: float | None = None  # quantitative from here on
    within_2x: float | None = None
    within_10pct: float | None = None
    mra: float | None = None
    median_rel_error: float | None = None  # over valid predictions


class Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overall: GroupSummary
    predicate: GroupSummary
    choice: GroupSummary
    quantitative: GroupSummary
    by_type: dict[str, GroupSummary] = Field(default_factory=dict)


# --------------------------------------------------------------------------- single predictions
def _value_family(pair: QAPair) -> str:
    unit = pair.unit or "m"
    return "m" if unit in LENGTH_UNITS else unit


def predicted_value(pair: QAPair, answer: Answer) -> float | None:
    """The prediction in the truth's unit, or None when no usable number was given."""
    if answer.value is None or not math.isfinite(answer.value):
        return None
    family = _value_family(pair)
    if family == "m":
        if answer.meters is not None:
            return float(answer.meters)
        return float(answer.value) if answer.unit is None else None
    accepted = {"count": ("count",), "deg": ("deg",), "o'clock": ("o'clock",)}.get(family, (family,))
    if answer.unit is not None and answer.unit not in accepted:
        return None
    return abs(float(answer.value)) if family == "deg" else float(answer.value)


def mra(pred: float, truth: float, thresholds: Sequence[float] = MRA_THRESHOLDS) -> float:
    """Mean relative accuracy of one prediction."""
    rel = relative_error(pred, truth)
    return sum(rel < 1 - t for t in thresholds) / len(thresholds)


def relative_error(pred: float, truth: float) -> float:
    if truth == 0:
        return 0.0 if pred == 0 else math.inf
    return abs(pred - truth) / abs(truth)


def clock_error(pred_hour: float, truth_hour: float) -> float:
    """Circular difference of two clock hours (0..6)."""
    d = abs(pred_hour - truth_hour) % 12
    return min(d, 12 - d)


def _caption_spans(text: str, captions: Sequence[str]) -> dict[str, list[int]]:
    """Start offsets of each caption in ``text`` (article-free, whole words); a shorter caption inside a
    longer one's match ("red chair" in "larger red chair") does not count."""
    low = text.lower()
    claimed: list[tuple[int, int]] = []
    out: dict[str, list[int]] = {}
    for cap in sorted(set(captions), key=len, reverse=True):
        core = re.sub(r"^(the|a|an)\s+", "", cap.strip().lower())
        if not core:
            continue
        starts = []
        for m in re.finditer(rf"(?<![\w]){re.escape(core)}(?![\w])", low):
            if any(a <= m.start() < b or a < m.end() <= b for a, b in claimed):
                continue
            claimed.append((m.start(), m.end()))
            starts.append(m.start())
        out[cap] = starts
    return out


def choice_correct(text: str, right: str, candidates: Iterable[str] = ()) -> bool:
    """The right caption is named, and no other candidate is named before it."""
    others = [c for c in candidates if c.strip().lower() != right.strip().lower()]
    spans = _caption_spans(text, [right, *others])
    if not spans.get(right):
        return False
    first_right = min(spans[right])
    return all(not spans.get(o) or min(spans[o]) > first_right for o in others)


def score_prediction(pair: QAPair, answer: Answer, candidates: Sequence[str] | None = None) -> PairScore:
    """Score one prediction. ``candidates``: captions a choice answer could name (see the module doc)."""
    base = PairScore(id=pair.id, qtype=pair.qtype, kind=pair.kind, category=pair.category)
    if pair.kind == "predicate":
        base.correct = answer.boolean is not None and answer.boolean == pair.truth_bool
        return base
    if pair.kind == "choice":
        if pair.choice is None:
            raise ValueError(f"choice QA {pair.id} has no 'choice' (the right caption)")
        base.correct = choice_correct(answer.text, pair.choice, candidates or ())
        return base
    family = _value_family(pair)
    truth = pair.value if family == "o'clock" else pair.truth
    if truth is None:
        raise ValueError(f"quantitative QA {pair.id} has no 'truth'")
    base.truth, base.unit = float(truth), family
    # A sentence about other objects or another quantity is no measurement of this one (the tool's own check).
    pred = predicted_value(pair, answer) if rejection(pair.question, answer.text) is None else None
    base.valid = pred is not None
    if pred is None:
        base.within_2x = base.within_10pct = False
        base.mra = 0.0
        return base
    base.pred = pred
    if family == "o'clock":
        err = clock_error(pred, float(truth))
        base.rel_error = err / 6.0
        base.within_10pct = err < 0.5
        base.within_2x = err <= 1.0
        base.mra = sum(base.rel_error < 1 - t for t in MRA_THRESHOLDS) / len(MRA_THRESHOLDS)
        return base
    base.rel_error = relative_error(pred, float(truth))
    t = float(truth)
    lo, hi = sorted((0.5 * t, 2.0 * t))
    base.within_2x = lo <= pred <= hi
    lo, hi = sorted((0.9 * t, 1.1 * t))
    base.within_10pct = lo <= pred <= hi
    base.mra = mra(pred, t)
    return base


# --------------------------------------------------------------------------- aggregates
def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def summarize_group(scores: Sequence[PairScore]) -> GroupSummary:
    qual = [s for s in scores if s.kind != "quantitative"]
    quant = [s for s in scores if s.kind == "quantitative"]
    rel = sorted(s.rel_error for s in quant if s.valid and s.rel_error is not None)
    return GroupSummary(
        n=len(scores),
        n_qualitative=len(qual),
        n_quantitative=len(quant),
        accuracy=_mean([float(bool(s.correct)) for s in qual]),
        valid_rate=_mean([float(bool(s.valid)) for s in quant]),
        within_2x=_mean([float(bool(s.within_2x)) for s in quant]),
        within_10pct=_mean([float(bool(s.within_10pct)) for s in quant]),
        mra=_mean([float(s.mra or 0.0) for s in quant]),
        median_rel_error=(rel[len(rel) // 2] if len(rel) % 2 else (rel[len(rel) // 2 - 1] + rel[len(rel) // 2]) / 2)
        if rel else None,
    )


def summarize(scores: Sequence[PairScore]) -> Summary:
    by_type: dict[str, list[PairScore]] = defaultdict(list)
    for s in scores:
        by_type[s.qtype].append(s)
    return Summary(
        overall=summarize_group(scores),
        predicate=summarize_group([s for s in scores if s.kind == "predicate"]),
        choice=summarize_group([s for s in scores if s.kind == "choice"]),
        quantitative=summarize_group([s for s in scores if s.kind == "quantitative"]),
        by_type={k: summarize_group(v) for k, v in sorted(by_type.items())},
    )
