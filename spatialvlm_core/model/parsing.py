"""Answer text -> ``Answer``: uses ``spatialvlm_core.questions.quantities.parse_answer`` when the
questions package provides it, else the minimal fallback below (numbers + length units + yes/no)."""

from __future__ import annotations

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
