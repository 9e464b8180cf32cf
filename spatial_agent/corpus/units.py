"""Lengths as people write them ("a meter and a half", "5 ft 6", "80cm", "1,200 mm"), with the metres they mean.

Each form rounds the wanted length to what a person would say in it; the metres returned are those of the
words (the truth is computed from them, never from the unrounded number). Forms are split into train and
held-out ones (``HELDOUT_FORMS``), like the frames and objects of :mod:`spatial_agent.corpus`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from spatialvlm_core.units import METERS_PER_UNIT

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
          10: "ten"}
INCH = METERS_PER_UNIT["in"]
FOOT = METERS_PER_UNIT["ft"]

Form = Callable[[float, random.Random], tuple[str, float] | None]


def _metres_decimal(m: float, r: random.Random) -> tuple[str, float]:
    v = round(m, 2)
    unit = r.choice(["m", "m", "meters", "metres", "meter"])
    return (f"{v:g}{'' if unit == 'm' and r.random() < 0.3 else ' '}{unit}", v)


def _centimetres(m: float, r: random.Random) -> tuple[str, float]:
    v = round(m * 100)
    unit = r.choice(["cm", "cm", "centimeters", "centimetres"])
    return (f"{v}{'' if unit == 'cm' and r.random() < 0.5 else ' '}{unit}", v / 100)


def _millimetres(m: float, r: random.Random) -> tuple[str, float]:
    v = int(round(m * 1000, -1))
    text = f"{v:,}" if v >= 1000 and r.random() < 0.6 else str(v)
    return (f"{text} {r.choice(['mm', 'millimeters', 'millimetres'])}", v / 1000)


def _feet_inches(m: float, r: random.Random) -> tuple[str, float] | None:
    total = round(m / INCH)
    ft, inch = divmod(total, 12)
    if ft < 1 or inch == 0:
        return None
    style = r.choice(["{f} ft {i}", "{f} ft {i} in", "{f} feet {i} inches", "{f} foot {i}", "{f}'{i}\""])
    return (style.format(f=ft, i=inch), ft * FOOT + inch * INCH)


def _inches(m: float, r: random.Random) -> tuple[str, float]:
    v = round(m / INCH)
    return (f"{v} {r.choice(['inches', 'in', 'inches'])}", v * INCH)


def _feet_decimal(m: float, r: random.Random) -> tuple[str, float]:
    v = round(m / FOOT * 2) / 2  # people say "2.5 feet", not "2.37 feet"
    v = max(v, 0.5)
    return (f"{v:g} {r.choice(['ft', 'feet'])}", v * FOOT)


def _word_metres(m: float, r: random.Random) -> tuple[str, float] | None:
    """'one metre', 'two meters', 'a meter and a half', 'one and a half meters', 'half a metre'."""
    halves = round(m * 2)
    unit_s, unit_p = r.choice([("meter", "meters"), ("metre", "metres")])
    if halves == 1:
        return (f"half a {unit_s}", 0.5)
    if halves < 1 or halves > 10:
        return None
    whole, half = divmod(halves, 2)
    if not half:
        return (f"{_WORDS[whole]} {unit_s if whole == 1 else unit_p}", float(whole))
    if whole == 1:
        return (r.choice([f"a {unit_s} and a half", f"one and a half {unit_p}"]), 1.5)
    return (f"{_WORDS[whole]} and a half {unit_p}", whole + 0.5)


def _word_feet(m: float, r: random.Random) -> tuple[str, float] | None:
    ft = round(m / FOOT)
    if not 1 <= ft <= 10:
        return None
    return (f"{_WORDS[ft]} {'foot' if ft == 1 else 'feet'}", ft * FOOT)


def _word_centimetres(m: float, r: random.Random) -> tuple[str, float] | None:
    tens = round(m * 10)
    names = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty",
             9: "ninety"}
    if tens not in names:
        return None
    return (f"{names[tens]} {r.choice(['centimeters', 'centimetres', 'cm'])}", tens / 10)


FORMS: dict[str, Form] = {
    "metres_decimal": _metres_decimal, "centimetres": _centimetres, "millimetres": _millimetres,
    "feet_inches": _feet_inches, "inches": _inches, "feet_decimal": _feet_decimal, "word_metres": _word_metres,
    "word_feet": _word_feet, "word_centimetres": _word_centimetres,
}
# Written before any planner is trained; never in the train split.
HELDOUT_FORMS = frozenset({"millimetres", "word_centimetres"})


def say_length(meters: float, r: random.Random, split: str) -> tuple[str, float]:
    """A way to write ``meters`` (of the split's forms) and the metres those words mean."""
    names = [n for n in FORMS if (n in HELDOUT_FORMS) == (split == "heldout")]
    if split == "heldout":
        names += [n for n in FORMS if n not in HELDOUT_FORMS]  # held-out questions use every form, its own twice
        names += sorted(HELDOUT_FORMS)
    for _ in range(8):
        out = FORMS[r.choice(names)](meters, r)
        if out is not None:
            return out
    return _centimetres(meters, r)
