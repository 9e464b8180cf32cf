"""Safe arithmetic: units, dimensions, and hostile inputs."""

from __future__ import annotations

import pytest

from spatial_agent.arith import ArithError, Quantity, evaluate, length


def test_units_convert_to_metres() -> None:
    env = {"g": length(1.2)}
    assert evaluate("g >= 1.0 m", env) is True
    assert evaluate("g >= 120 cm", env) is True
    assert evaluate("g > 4 ft", env) is False  # 4 ft = 1.2192 m
    assert evaluate("g > 47 in", env) is True  # 1.1938 m
    q = evaluate("g - 80cm", env)
    assert isinstance(q, Quantity) and q.dim == 1 and q.value == pytest.approx(0.4)
    q = evaluate("5 ft + 6 in")
    assert isinstance(q, Quantity) and q.value == pytest.approx(1.6764)


def test_min_max_abs_bool_and_chains() -> None:
    env = {"a": length(1.0), "b": length(2.5), "h": length(0.7)}
    assert evaluate("min(a, b) > 0.5 m and h < 1 m", env) is True
    assert evaluate("max(a, b) <= 2 m or not (h > 0.5 m)", env) is False
    assert evaluate("abs(a - b)", env) == Quantity(1.5, 1)
    assert evaluate("0.5 m < a < b", env) is True
    assert evaluate("a / b", env) == Quantity(0.4, 0)
    area = evaluate("a * b", env)
    assert isinstance(area, Quantity) and area.dim == 2
    assert evaluate("a > 0.9", env) is True  # bare literal compared with a length is read as metres
    assert evaluate("-a < 0", env) is True


@pytest.mark.parametrize("expr", [
    "__import__('os').system('echo hi')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "g.real",
    "g ** 2",
    "g // 2",
    "g % 2",
    "[g]",
    "{'a': 1}",
    "lambda: 1",
    "'text'",
    "exec('1')",
    "eval('1')",
    "g if g else g",
    "(x := 3)",
    "g[0]",
    "f'{g}'",
    "g == 1 m; import os",
    "1 m +",
    "9" * 500,
    "print(g)",
    "min(g, key=abs)",
    "_private",
    "g + g*g",  # adding an area to a length
    "1 / 0",
    "1e308 * 1e308",
    "unknown > 1 m",
    "g and True",
    "abs()",
])
def test_hostile_and_invalid_inputs_raise_arith_error(expr: str) -> None:
    with pytest.raises(ArithError):
        evaluate(expr, {"g": length(1.0)})


def test_non_string_and_bad_env() -> None:
    with pytest.raises(ArithError):
        evaluate(42)  # type: ignore[arg-type]
    with pytest.raises(ArithError, match="underscore"):
        evaluate("1", {"_x": 1.0})
    assert evaluate("n >= 1", {"n": 2.0}) is True
