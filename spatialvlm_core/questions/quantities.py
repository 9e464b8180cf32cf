"""Human-aligned length rounding and robust parsing of quantities from free text.

``format_length`` turns an exact length into what a person would say ("about 45 centimeters",
"1.5 meters", "2 feet 6 inches", "about half a meter") and returns the *stated* value and unit, so a
dataset keeps both the rounded number and the exact truth. ``parse_answer`` is its inverse for free text
(model outputs, human answers): numbers, spelled-out numbers, fractions, feet-and-inches, ranges, degrees,
clock positions and yes/no. It never raises on free text: no number means ``value=None``.
"""

from __future__ import annotations

import math
import random
import re
from typing import Literal

from spatialvlm_core.types import Answer
from spatialvlm_core.units import METERS_PER_UNIT, UNIT_ALIASES, UNIT_WORDS, canonical_unit, to_meters

UnitSystem = Literal["metric", "imperial", "auto"]

IMPERIAL_SHARE = 0.2  # "auto": share of imperial answers (the paper mixes units)

_HEDGES = ("", "", "about ", "roughly ", "around ", "approximately ")

_UNIT_WORDS = UNIT_WORDS


# --------------------------------------------------------------------------- formatting
def _num(v: float) -> str:
    """Shortest text for a rounded number: 2 -> "2", 1.5 -> "1.5"."""
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def _unit_text(value: float, unit: str) -> str:
    one, many = _UNIT_WORDS[unit]
    return f"{_num(value)} {one if value == 1 else many}"


def _format_metric(m: float, rng: random.Random) -> tuple[str, float, str]:
    if 0.45 <= m < 0.55 and rng.random() < 0.3:
        return "half a meter", 0.5, "m"
    if m < 0.2:
        cm = float(round(m * 100))
        return _unit_text(cm, "cm"), cm, "cm"
    if m < 0.975:
        cm = float(5 * round(m * 20))
        return _unit_text(cm, "cm"), cm, "cm"
    if m < 3.0 and rng.random() < 0.15:  # people also say "120 centimeters"
        cm = float(10 * round(m * 10))
        return _unit_text(cm, "cm"), cm, "cm"
    if m < 10.0:
        v = round(m, 1)
        if v == 1.5 and rng.random() < 0.3:
            return rng.choice(("a meter and a half", "one and a half meters")), 1.5, "m"
        if v == 1.0 and rng.random() < 0.3:
            return "a meter", 1.0, "m"
        return _unit_text(v, "m"), v, "m"
    v = float(round(m))
    return _unit_text(v, "m"), v, "m"


def _format_imperial(m: float, rng: random.Random) -> tuple[str, float, str]:
    inches_exact = m / METERS_PER_UNIT["in"]
    if inches_exact < 2.75:
        v = round(inches_exact * 2) / 2
        return _unit_text(v, "in"), v, "in"
    if inches_exact < 11.5:
        v = float(round(inches_exact))
        return _unit_text(v, "in"), v, "in"
    feet_exact = m / METERS_PER_UNIT["ft"]
    if feet_exact < 10.0:
        # Below 3 feet half-foot steps are too coarse (1.17 ft -> "1 foot" is 15% off): use feet and inches.
        if feet_exact < 3.0 or rng.random() < 0.5:
            total_in = round(inches_exact)
            ft, inch = divmod(total_in, 12)
            if inch == 0:
                if ft == 1 and rng.random() < 0.3:
                    return "a foot", 1.0, "ft"
                return _unit_text(float(ft), "ft"), float(ft), "ft"
            # Same arithmetic as parse_answer so the stated value round-trips exactly.
            value = float(ft) + float(inch) / 12
            return f"{_unit_text(float(ft), 'ft')} {_unit_text(float(inch), 'in')}", value, "ft"
        v = round(feet_exact * 2) / 2
        return _unit_text(v, "ft"), v, "ft"
    v = float(round(feet_exact))
    return _unit_text(v, "ft"), v, "ft"


def format_length(
    meters: float, rng: random.Random, system: UnitSystem = "auto", hedge: bool = True
) -> tuple[str, float, str]:
    """Say a length the way a person would.

    Returns ``(text, stated_value, unit)`` where ``unit`` is a canonical symbol from ``units.py``
    ("m", "cm", "ft", "in") and ``stated_value`` the rounded number the text states in that unit
    ("2 feet 6 inches" -> 2.5, "ft"). ``system="auto"`` picks imperial with probability 0.2.
    ``hedge`` lets the rng prefix "about"/"roughly"/... (never changes the number).
    """
    if not isinstance(meters, (int, float)) or not math.isfinite(meters):
        raise ValueError(f"format_length: meters must be a finite number, got {meters!r}")
    if meters < 0:
        raise ValueError(f"format_length: meters must be >= 0, got {meters}")
    if system == "auto":
        system = "imperial" if rng.random() < IMPERIAL_SHARE else "metric"
    if system == "metric":
        text, value, unit = _format_metric(float(meters), rng)
    elif system == "imperial":
        text, value, unit = _format_imperial(float(meters), rng)
    else:
        raise ValueError(f"format_length: system must be 'metric', 'imperial' or 'auto', got {system!r}")
    if hedge:
        text = rng.choice(_HEDGES) + text
    return text, value, unit


# --------------------------------------------------------------------------- parsing
_ONES = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_ONES_RE = "|".join(sorted(_ONES, key=len, reverse=True))
_TENS_RE = "|".join(_TENS)

# Unit words that can follow "a"/"half a" (not bare symbols: "a m" is not English).
_UNIT_WORD_RE = (
    r"(?:meters?|metres?|centimeters?|centimetres?|millimeters?|millimetres?|kilometers?|kilometres?|"
    r"feet|foot|inch(?:es)?|yards?)"
)
_LENGTH_RE = "|".join(sorted((re.escape(u) for u in UNIT_ALIASES), key=len, reverse=True))
_OTHER_UNITS = {
    "o'clock": "o'clock", "o clock": "o'clock", "oclock": "o'clock",
    "degrees": "deg", "degree": "deg", "deg": "deg", "°": "deg",
}
_OTHER_RE = "|".join(sorted((re.escape(u) for u in _OTHER_UNITS), key=len, reverse=True))
_NUM = r"\d+(?:\.\d+)?"

_TENS_ONES = re.compile(rf"\b({_TENS_RE})[\s-]+({_ONES_RE})\b")
_WORD_NUM = re.compile(rf"\b({_ONES_RE}|{_TENS_RE})\b")
_HUNDRED = re.compile(r"\b(\d+)\s+hundred(?:\s+and)?(?:\s+(\d+)\b)?")
_POINT = re.compile(r"\b(\d+)\s+point\s+(\d+)\b")
# "one" is also a pronoun ("the red one"): only read it as a number before a unit or fraction word.
_ONE_AS_NUMBER = re.compile(
    rf"\bone\b(?=\s+(?:{_UNIT_WORD_RE}|and a half|hundred|point|o'?\s?clock|degrees?)\b)"
)
_FEET_INCHES = re.compile(
    rf"(?<![\w.])({_NUM})\s*(?:feet|foot|ft\.?|')\s*(?:and\s+)?({_NUM})\s*(?:inches|inch|in\.?|\"|'')(?![a-z])"
)
# "3 meters and 20 centimeters" / "1 m 50 cm": one length, reported in metres.
_METERS_CM = re.compile(
    rf"(?<![\w.])({_NUM})\s*(?:meters?|m)\s*(?:,\s*)?(?:and\s+)?({_NUM})\s*(?:centimeters?|cms?)(?![a-z])"
)
_QUANTITY = re.compile(
    rf"(?<![\w.])(-?{_NUM})(?:\s*(?:-|–|to|or)\s*({_NUM}))?\s*({_OTHER_RE}|{_LENGTH_RE})?(?![a-z])"
)
# "3 in the room" is not three inches.
_IN_NOT_UNIT = re.compile(r"\s+(?:the|a|an|this|that|front|total|my|your|its|their|all)\b")
# "right"/"left" are not yes/no words: "Right, the chair" answers a left/right choice. A bare "not" counts
# as no only when it stands alone ("Not.", "not, it is behind") or as "not really"/"not at all"; "Not sure,
# maybe 3 m" and "not quite 2m" are hedges, not denials.
_YES = re.compile(r"^\W*(yes|yeah|yep|yup|correct|true|indeed|affirmative)\b")
_NO = re.compile(r"^\W*(?:(no|nope|false|incorrect|negative|wrong)\b|not(?:\s+(?:really|at\s+all))?\s*(?:[,.;!]|$))")


def _normalise(text: str) -> str:
    t = text.lower()
    t = t.replace("’", "'").replace("‘", "'").replace("′", "'").replace("″", '"').replace("“", '"')
    t = t.replace("”", '"').replace("metres", "meters").replace("metre", "meter")
    t = t.replace("centimetres", "centimeters").replace("centimetre", "centimeter")
    # Thousands separators ("1,200 mm"), then decimal commas ("1,5 m").
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)
    t = re.sub(r"(?<=\d),(?=\d)", ".", t)
    return t


def _spelled_to_digits(t: str) -> str:
    t = _TENS_ONES.sub(lambda m: str(_TENS[m.group(1)] + _ONES[m.group(2)]), t)
    t = _ONE_AS_NUMBER.sub("1", t)
    t = _WORD_NUM.sub(lambda m: m.group(1) if m.group(1) == "one" else str({**_ONES, **_TENS}[m.group(1)]), t)
    # ... or where nothing but a count can be meant: "One.", "One in total", "I count one".
    t = re.sub(r"^(\W*)one\b(?!\s+(?:of|is|was|that|which)\b)", r"\g<1>1", t)
    t = re.sub(r"\b(count|counted|about|roughly|around|approximately|exactly|only|just|see|say|are|be|is|was)\s+one\b"
               r"(?!\s+(?:of|another)\b)", r"\1 1", t)
    t = _HUNDRED.sub(lambda m: str(int(m.group(1)) * 100 + int(m.group(2) or 0)), t)
    t = _POINT.sub(r"\1.\2", t)
    return t


def _fractions(t: str) -> str:
    # Order matters: "N and a half" before "half a", and "a meter" -> "1 meter" before "1 meter and a half".
    t = re.sub(rf"({_NUM})\s+and\s+a\s+half\b", lambda m: f"{float(m.group(1)) + 0.5:g}", t)
    t = re.sub(rf"(?<!and )\b(?:a\s+)?half\s+(?:of\s+)?(?:a\s+|an\s+)?(?={_UNIT_WORD_RE}\b)", "0.5 ", t)
    t = re.sub(rf"\b(?:a\s+)?quarter\s+(?:of\s+)?(?:a\s+|an\s+)?(?={_UNIT_WORD_RE}\b)", "0.25 ", t)
    t = re.sub(rf"\b(?:a|an)\s+(?={_UNIT_WORD_RE}\b)", "1 ", t)
    t = re.sub(r"\ba\s+couple\s+(?:of\s+)?", "2 ", t)
    t = re.sub(rf"({_NUM})\s+({_UNIT_WORD_RE})\s+and\s+a\s+half\b",
               lambda m: f"{float(m.group(1)) + 0.5:g} {m.group(2)}", t)
    # "between 1 and 2 meters" is a range like "1-2 meters".
    t = re.sub(rf"\bbetween\s+({_NUM})\s+and\s+({_NUM})", r"\1-\2", t)
    return t


def parse_answer(text: str, source: str = "") -> Answer:
    """Parse free text into an ``Answer``: the first quantity (length units preferred) and yes/no.

    ``value``/``unit`` are as stated ("45 cm" -> 45, "cm"; "2 ft 6 in" -> 2.5, "ft"; a range "1-2 m" -> its
    midpoint), ``meters`` is filled for lengths, ``unit`` is "deg" or "o'clock" for angles and clock
    positions, None for a bare number. ``boolean`` comes from a leading yes/no. Never raises on free text.
    """
    if not isinstance(text, str):
        raise ValueError(f"parse_answer: text must be a str, got {type(text).__name__}")
    t = _normalise(text)
    boolean = True if _YES.search(t) else False if _NO.search(t) else None
    t = _fractions(_spelled_to_digits(t))

    candidates: list[tuple[int, float, str | None]] = []  # (start, value, unit)
    for m in _FEET_INCHES.finditer(t):
        candidates.append((m.start(), float(m.group(1)) + float(m.group(2)) / 12, "ft"))
    covered = [(m.start(), m.end()) for m in _FEET_INCHES.finditer(t)]
    for m in _METERS_CM.finditer(t):
        candidates.append((m.start(), float(m.group(1)) + float(m.group(2)) / 100, "m"))
        covered.append((m.start(), m.end()))
    for m in _QUANTITY.finditer(t):
        if any(a <= m.start() < b for a, b in covered):
            continue
        value = float(m.group(1))
        if m.group(2) is not None:  # a range: take its midpoint
            value = (value + float(m.group(2))) / 2
        raw = m.group(3)
        unit: str | None = None
        if raw is not None:
            if raw in _OTHER_UNITS:
                unit = _OTHER_UNITS[raw]
            elif raw == "in" and _IN_NOT_UNIT.match(t, m.end()):
                unit = None
            else:
                unit = canonical_unit(raw)
        candidates.append((m.start(), value, unit))
    candidates.sort(key=lambda c: c[0])

    chosen = next((c for c in candidates if c[2] in _LENGTH_UNITS), None)
    if chosen is None:
        chosen = next((c for c in candidates if c[2] is not None), None)
    if chosen is None and candidates:
        chosen = candidates[0]
    value = unit = meters = None
    if chosen is not None:
        _, value, unit = chosen
        if unit in _LENGTH_UNITS:
            meters = to_meters(value, unit)
    return Answer(text=text, value=value, unit=unit, meters=meters, boolean=boolean, source=source)


_LENGTH_UNITS = frozenset(UNIT_ALIASES.values())
