"""Length units: one table, used by rounding, parsing, the agent and the evals."""

from __future__ import annotations

# Canonical unit symbol -> metres.
METERS_PER_UNIT: dict[str, float] = {
    "m": 1.0,
    "cm": 0.01,
    "mm": 0.001,
    "km": 1000.0,
    "in": 0.0254,
    "ft": 0.3048,
    "yd": 0.9144,
}

# Spellings seen in free text -> canonical symbol (lower-case keys).
UNIT_ALIASES: dict[str, str] = {
    "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m", "mtr": "m", "mtrs": "m",
    "cm": "cm", "centimeter": "cm", "centimeters": "cm", "centimetre": "cm", "centimetres": "cm", "cms": "cm",
    "mm": "mm", "millimeter": "mm", "millimeters": "mm", "millimetre": "mm", "millimetres": "mm",
    "km": "km", "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km",
    "in": "in", "inch": "in", "inches": "in", '"': "in",
    "ft": "ft", "foot": "ft", "feet": "ft", "'": "ft",
    "yd": "yd", "yard": "yd", "yards": "yd",
}

# Canonical symbol -> (singular, plural) word, as answers spell a length out ("1 meter", "2 feet").
UNIT_WORDS: dict[str, tuple[str, str]] = {
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "km": ("kilometer", "kilometers"),
    "in": ("inch", "inches"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
}

METRIC = ("m", "cm", "mm", "km")
IMPERIAL = ("in", "ft", "yd")


def canonical_unit(unit: str) -> str:
    """Canonical symbol for a unit spelling; raises ValueError naming the unit when unknown."""
    key = unit.strip().lower().rstrip(".")
    if key not in UNIT_ALIASES:
        raise ValueError(f"unknown length unit {unit!r}; known: {sorted(METERS_PER_UNIT)}")
    return UNIT_ALIASES[key]


def to_meters(value: float, unit: str) -> float:
    return float(value) * METERS_PER_UNIT[canonical_unit(unit)]


def from_meters(meters: float, unit: str) -> float:
    return float(meters) / METERS_PER_UNIT[canonical_unit(unit)]
