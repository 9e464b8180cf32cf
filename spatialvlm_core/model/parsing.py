"""Answer text -> ``Answer``: uses ``spatialvlm_core.questions.quantities.parse_answer`` when the
questions package provides it, else the minimal fallback below (numbers + length units + yes/no)."""

from __future__ import annotations

import math
import re

from spatialvlm_core.types import Answer
from spatialvlm_core.units import UNIT_ALIASES, canonical_unit, to_meters

_UNIT_RE = "|".join(sorted((re.escape(u) for u in UNIT_ALIASES), key=len, reverse=True))
_NUM_RE = re.compile(rf"(-?\d+(?:[.,]\d+)?)\s*({_UNIT_RE})?(?![a-z])", re.IGNORECASE)
_YES = re.compile(r"^\W*(yes|yeah|correct|true|indeed)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(no|not|nope|false|incorrect)\b", re.IGNORECASE)


def fallback_parse_answer(text: str) -> Answer:
    """FALLBACK parser (used only when questions.quantities is absent): first number + unit, yes/no."""
    boolean = True if _YES.search(text) else False if _NO.search(text) else None
    value = unit = meters = None
    m = _NUM_RE.search(text)
    if m:
        value = float(m.group(1).replace(",", "."))
        if m.group(2):
            unit = canonical_unit(m.group(2))
            meters = to_meters(value, unit)
    return Answer(text=text, value=value, unit=unit, meters=meters, boolean=boolean)


def parse_answer(text: str, source: str = "") -> Answer:
    try:
        from spatialvlm_core.questions.quantities import parse_answer as shared_parse
    except ImportError:
        shared_parse = None
    ans = shared_parse(text) if shared_parse is not None else fallback_parse_answer(text)
    if source and not ans.source:
        ans = ans.model_copy(update={"source": source})
    return ans


# A length as a model states it: "1.1 meters", "30 cm", "2 feet 6 inches", "half a meter".
_LENGTH_WORDS = {"meters": "m", "meter": "m", "metres": "m", "metre": "m", "m": "m", "centimeters": "cm",
                 "centimeter": "cm", "centimetres": "cm", "centimetre": "cm", "cm": "cm", "feet": "ft", "foot": "ft",
                 "ft": "ft", "inches": "in", "inch": "in", "in": "in"}
_WORDS_RE = "|".join(sorted(_LENGTH_WORDS, key=len, reverse=True))
_STATED_LENGTH = re.compile(
    rf"(?<![\w.])(?:\d+(?:\.\d+)?\s*(?:feet|foot|ft)\s*(?:and\s+)?\d+(?:\.\d+)?\s*(?P<in>inches|inch|in)"
    rf"|half\s+a\s+(?P<half>meter|metre)|\d+(?:\.\d+)?\s*(?P<unit>{_WORDS_RE}))(?![a-z])",
    re.IGNORECASE,
)


def _in_unit(meters: float, unit: str) -> str:
    """The number for ``meters`` in ``unit``, as precise as a person who measured would say it."""
    v = meters / to_meters(1.0, unit)
    if unit == "m" and v < 10:
        return f"{v:.2g}" if v >= 0.1 else f"{v:.2f}"
    if unit == "ft" and v < 10:
        return f"{v:.1f}"
    return str(round(v))


def restate_length(text: str, meters: float) -> str | None:
    """``text`` with its first stated length replaced by ``meters`` in the same unit words ("There is a roughly
    1.1 meters gap" -> "There is a roughly 0.68 meters gap"); "2 feet 6 inches" becomes "2.3 feet" and "half a
    meter" "0.42 meters". None when the text states no length this can find."""
    m = _STATED_LENGTH.search(text)
    if m is None or not (meters > 0 and math.isfinite(meters)):
        return None
    if m.group("in"):
        phrase = f"{_in_unit(meters, 'ft')} feet"
    elif m.group("half"):
        phrase = f"{_in_unit(meters, 'm')} {m.group('half')}s"
    else:
        word = m.group("unit")
        unit = _LENGTH_WORDS[word.lower()]
        phrase = f"{_in_unit(meters, unit)} {word}"
    return text[:m.start()] + phrase + text[m.end():]
