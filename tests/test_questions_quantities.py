"""Human-aligned rounding and free-text parsing (spatialvlm_core.questions.quantities)."""

from __future__ import annotations

import math
import random

import pytest

from spatialvlm_core.questions.quantities import format_length, parse_answer


@pytest.mark.parametrize(
    ("text", "value", "unit", "meters"),
    [
        ("1.5 m", 1.5, "m", 1.5),
        ("about 45 cm", 45.0, "cm", 0.45),
        ("3 feet", 3.0, "ft", 0.9144),
        ("2 ft 6 in", 2.5, "ft", 0.762),
        ("half a meter", 0.5, "m", 0.5),
        ("a meter and a half", 1.5, "m", 1.5),
        ("one and a half meters", 1.5, "m", 1.5),
        ("roughly 2.3 metres", 2.3, "m", 2.3),
        ("5'6\"", 5.5, "ft", 1.6764),
        ("120 centimetres", 120.0, "cm", 1.2),
        ("twenty-five centimeters", 25.0, "cm", 0.25),
        ("seventy inches", 70.0, "in", 1.778),
        ("It is about a foot tall.", 1.0, "ft", 0.3048),
        ("two point five meters", 2.5, "m", 2.5),
        ("It is 1,5 m away", 1.5, "m", 1.5),
        ("1,200 mm", 1200.0, "mm", 1.2),
        ("between 1 and 2 meters", 1.5, "m", 1.5),
        ("1-2 m", 1.5, "m", 1.5),
        ("two and a half feet", 2.5, "ft", 0.762),
        ("The chair is 3 meters from 2 tables", 3.0, "m", 3.0),
        ("nineteen feet", 19.0, "ft", 5.7912),
        ("a quarter of a meter", 0.25, "m", 0.25),
        # metre + centimetre compounds are one length, like feet + inches
        ("3 meters and 20 centimeters", 3.2, "m", 3.2),
        ("1 m 50 cm", 1.5, "m", 1.5),
        ("about 2 metres and 5 cm apart", 2.05, "m", 2.05),
        ("one meter and forty centimetres", 1.4, "m", 1.4),
        # hedged openings with "not" still carry the number
        ("Not sure, maybe 3 m", 3.0, "m", 3.0),
        ("not quite 2m", 2.0, "m", 2.0),
    ],
)
def test_parse_lengths(text: str, value: float, unit: str, meters: float) -> None:
    a = parse_answer(text)
    assert a.value == pytest.approx(value)
    assert a.unit == unit
    assert a.meters == pytest.approx(meters)
    assert a.text == text


@pytest.mark.parametrize(
    ("text", "value", "unit", "boolean"),
    [
        ("Yes, it is.", None, None, True),
        ("No.", None, None, False),
        ("Correct, the mug is on the table.", None, None, True),
        ("Incorrect, it is behind it.", None, None, False),
        ("the red one", None, None, None),
        ("I have no idea", None, None, None),
        ("", None, None, None),
        ("at 2 o'clock", 2.0, "o'clock", None),
        ("about 45 degrees to the left", 45.0, "deg", None),
        ("There are 3 in the room", 3.0, None, None),
        ("I count five.", 5.0, None, None),
        ("From the red chair, the table is at 9 o'clock.", 9.0, "o'clock", None),
        # "not" is a no only on its own; hedges are not denials
        ("Not sure, maybe 3", 3.0, None, None),
        ("not quite", None, None, None),
        ("Not.", None, None, False),
        ("Not, it is behind the sofa.", None, None, False),
        ("Not really.", None, None, False),
        ("No, it is not.", None, None, False),
        # "right"/"left" name a side in left/right answers, they are not yes/no
        ("Right, the chair", None, None, None),
        ("Right.", None, None, None),
        ("Left, the lamp.", None, None, None),
        ("Yes, to the right.", None, None, True),
    ],
)
def test_parse_other(text: str, value: float | None, unit: str | None, boolean: bool | None) -> None:
    a = parse_answer(text, source="unit-test")
    assert a.value == value
    assert a.unit == unit
    assert a.boolean == boolean
    assert a.meters is None
    assert a.source == "unit-test"


def test_parse_rejects_non_text() -> None:
    with pytest.raises(ValueError, match="text must be a str"):
        parse_answer(3.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("meters", "system", "allowed"),
    [
        (0.07, "metric", {("7 centimeters", 7.0, "cm")}),
        (0.334, "metric", {("35 centimeters", 35.0, "cm")}),
        (0.01, "metric", {("1 centimeter", 1.0, "cm")}),
        (4.26, "metric", {("4.3 meters", 4.3, "m")}),
        (12.4, "metric", {("12 meters", 12.0, "m")}),
        (1.52, "metric", {("1.5 meters", 1.5, "m"), ("150 centimeters", 150.0, "cm"),
                          ("a meter and a half", 1.5, "m"), ("one and a half meters", 1.5, "m")}),
        (0.5, "metric", {("50 centimeters", 50.0, "cm"), ("half a meter", 0.5, "m")}),
        (0.05, "imperial", {("2 inches", 2.0, "in")}),
        (0.2, "imperial", {("8 inches", 8.0, "in")}),
        (5.0, "imperial", {("16 feet", 16.0, "ft")}),
        (0.762, "imperial", {("2 feet 6 inches", 2.5, "ft")}),
        (1.2, "imperial", {("3 feet 11 inches", 3.0 + 11.0 / 12, "ft"), ("4 feet", 4.0, "ft")}),
        (0.3048, "imperial", {("1 foot", 1.0, "ft"), ("a foot", 1.0, "ft")}),
    ],
)
def test_format_rounding_table(meters: float, system: str, allowed: set[tuple[str, float, str]]) -> None:
    for seed in range(20):
        got = format_length(meters, random.Random(seed), system, hedge=False)  # type: ignore[arg-type]
        assert got in allowed, got


def test_format_auto_mixes_units_and_hedges() -> None:
    rng = random.Random(0)
    units = [format_length(2.0, rng, "auto")[2] for _ in range(2000)]
    imperial = sum(u in ("ft", "in") for u in units) / len(units)
    assert 0.17 < imperial < 0.23
    texts = {format_length(2.0, rng, "metric")[0] for _ in range(200)}
    assert any(t.startswith("about ") for t in texts) and "2 meters" in texts


def test_format_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="meters must be >= 0"):
        format_length(-1.0, random.Random(0))
    with pytest.raises(ValueError, match="finite"):
        format_length(math.nan, random.Random(0))
    with pytest.raises(ValueError, match="system"):
        format_length(1.0, random.Random(0), "cubits")  # type: ignore[arg-type]


def test_round_trip_format_then_parse() -> None:
    """Whatever format_length says, parse_answer reads back exactly the stated value and unit."""
    rng = random.Random(42)
    for _ in range(3000):
        meters = math.exp(rng.uniform(math.log(0.005), math.log(40.0)))
        system = rng.choice(["metric", "imperial", "auto"])
        text, value, unit = format_length(meters, rng, system)  # type: ignore[arg-type]
        a = parse_answer(f"It is {text} away.")
        assert (a.value, a.unit) == (value, unit), text
        # the stated value is a human rounding of the truth: within 12.5% (5 cm steps from 20 cm) or 1.3 cm
        assert a.meters is not None and abs(a.meters - meters) <= max(0.125 * meters, 0.013), (text, meters)
