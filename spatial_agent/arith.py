"""Safe arithmetic over named quantities with units: the agent's maths is code, never the LLM's head.

Grammar (parsed with :mod:`ast`, never ``eval``): numbers, names bound by the caller, ``+ - * /``, unary ``-``,
comparisons (chains allowed), ``and``/``or``/``not``, and the functions ``min``, ``max``, ``abs``. A number may
carry a length unit (``1.2 m``, ``80cm``, ``3 ft``, ``12 in``); it is converted to metres. Quantities track their
length dimension, so ``g > 1 m`` is fine and ``g + 2 m*m`` is an error. A bare number in a sum, comparison or
``min``/``max`` with a length is read as metres (planners often write ``g > 1.0``). Anything else raises
:class:`ArithError` naming what was refused.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from spatialvlm_core.units import METERS_PER_UNIT, UNIT_ALIASES

MAX_CHARS = 400
MAX_NODES = 200
MAX_ABS = 1e12  # keep results finite and meaningful


class ArithError(ValueError):
    """An expression the evaluator refuses or cannot compute."""


@dataclass(frozen=True)
class Quantity:
    """A number in SI (metres for lengths) with its length exponent (0 = dimensionless, 1 = length, 2 = area)."""

    value: float
    dim: int = 0
    literal: bool = False  # a bare number written in the expression (may adopt a length dimension)

    def __str__(self) -> str:
        unit = {0: "", 1: " m", 2: " m^2", 3: " m^3"}.get(self.dim, f" m^{self.dim}")
        return f"{self.value:g}{unit}"


Value = Quantity | bool

# Alphabetic unit spellings, longest first so "meters" wins over "m".
_UNITS = sorted((k for k in UNIT_ALIASES if k.isalpha()), key=len, reverse=True)
_NUM_UNIT = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*(" + "|".join(_UNITS) + r")\b")
_LITERAL_PREFIX = "__len"


def _substitute_units(expr: str) -> tuple[str, dict[str, Quantity]]:
    """Replace ``<number> <unit>`` by reserved placeholder names bound to metres."""
    bound: dict[str, Quantity] = {}

    def repl(m: re.Match[str]) -> str:
        name = f"{_LITERAL_PREFIX}{len(bound)}"
        unit = UNIT_ALIASES[m.group(2).lower()]
        number = float(m.group(0)[: m.start(2) - m.start(0)].strip())
        bound[name] = _check(Quantity(number * METERS_PER_UNIT[unit], 1))
        return f" {name} "

    return _NUM_UNIT.sub(repl, expr), bound


_CMP: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
    ast.NotEq: lambda a, b: not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}


def _as_quantity(v: Value, what: str) -> Quantity:
    if isinstance(v, bool):
        raise ArithError(f"{what} needs a number, got a yes/no value")
    return v


def _unify(a: Quantity, b: Quantity, op: str) -> tuple[Quantity, Quantity]:
    if a.dim == b.dim:
        return a, b
    if a.literal and a.dim == 0:
        return Quantity(a.value, b.dim), b
    if b.literal and b.dim == 0:
        return a, Quantity(b.value, a.dim)
    raise ArithError(f"cannot apply {op!r} to quantities of different dimensions ({a} vs {b})")


def _check(q: Quantity) -> Quantity:
    if not math.isfinite(q.value) or abs(q.value) > MAX_ABS:
        raise ArithError(f"result {q.value!r} is out of range")
    return q


class _Evaluator:
    def __init__(self, env: Mapping[str, Value]) -> None:
        self.env = env

    def eval(self, node: ast.AST) -> Value:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise ArithError(f"{type(node).__name__} is not allowed in an expression")
        return method(node)

    def _Expression(self, node: ast.Expression) -> Value:
        return self.eval(node.body)

    def _Constant(self, node: ast.Constant) -> Value:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ArithError(f"only numbers are allowed as literals, got {v!r}")
        try:
            f = float(v)
        except OverflowError:  # a huge int literal: float() raises instead of giving inf
            raise ArithError(f"number {str(v)[:20]}... is out of range") from None
        return _check(Quantity(f, 0, literal=True))

    def _Name(self, node: ast.Name) -> Value:
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id not in self.env:
            known = sorted(k for k in self.env if not k.startswith("_"))
            raise ArithError(f"unknown name {node.id!r}; known quantities: {known}")
        return self.env[node.id]

    def _UnaryOp(self, node: ast.UnaryOp) -> Value:
        v = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            if not isinstance(v, bool):
                raise ArithError("'not' needs a yes/no value")
            return not v
        q = _as_quantity(v, "unary sign")
        if isinstance(node.op, ast.USub):
            return Quantity(-q.value, q.dim, q.literal)
        if isinstance(node.op, ast.UAdd):
            return q
        raise ArithError(f"operator {type(node.op).__name__} is not allowed")

    def _BinOp(self, node: ast.BinOp) -> Value:
        a = _as_quantity(self.eval(node.left), "arithmetic")
        b = _as_quantity(self.eval(node.right), "arithmetic")
        if isinstance(node.op, ast.Add | ast.Sub):
            a, b = _unify(a, b, "+" if isinstance(node.op, ast.Add) else "-")
            v = a.value + b.value if isinstance(node.op, ast.Add) else a.value - b.value
            return _check(Quantity(v, a.dim, a.literal and b.literal))
        if isinstance(node.op, ast.Mult):
            return _check(Quantity(a.value * b.value, a.dim + b.dim, a.literal and b.literal))
        if isinstance(node.op, ast.Div):
            if b.value == 0:
                raise ArithError("division by zero")
            return _check(Quantity(a.value / b.value, a.dim - b.dim, a.literal and b.literal))
        raise ArithError(f"operator {type(node.op).__name__} is not allowed (only + - * /)")

    def _Compare(self, node: ast.Compare) -> Value:
        left = _as_quantity(self.eval(node.left), "comparison")
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            fn = _CMP.get(type(op))
            if fn is None:
                raise ArithError(f"comparison {type(op).__name__} is not allowed")
            right = _as_quantity(self.eval(right_node), "comparison")
            lq, rq = _unify(left, right, "comparison")
            if not fn(lq.value, rq.value):
                return False
            left = right
        return True

    def _BoolOp(self, node: ast.BoolOp) -> Value:
        vals = [self.eval(v) for v in node.values]
        if not all(isinstance(v, bool) for v in vals):
            raise ArithError("'and'/'or' need yes/no values on both sides")
        return all(vals) if isinstance(node.op, ast.And) else any(vals)

    def _Call(self, node: ast.Call) -> Value:
        if not isinstance(node.func, ast.Name) or node.func.id not in ("min", "max", "abs"):
            raise ArithError("only min(), max() and abs() may be called")
        if node.keywords:
            raise ArithError(f"{node.func.id}() takes no keyword arguments")
        args = [_as_quantity(self.eval(a), f"{node.func.id}()") for a in node.args]
        if node.func.id == "abs":
            if len(args) != 1:
                raise ArithError("abs() takes exactly one argument")
            return Quantity(abs(args[0].value), args[0].dim, args[0].literal)
        if not args:
            raise ArithError(f"{node.func.id}() needs at least one argument")
        dims = {a.dim for a in args if not a.literal} or {args[0].dim}
        if len(dims) > 1:
            raise ArithError(f"{node.func.id}() arguments have different dimensions")
        dim = dims.pop()
        pick = min if node.func.id == "min" else max
        best = pick(args, key=lambda q: q.value)
        return Quantity(best.value, dim, all(a.literal for a in args))


def evaluate(expr: str, env: Mapping[str, float | Quantity | bool] | None = None) -> Value:
    """Evaluate ``expr`` over ``env`` (plain floats are dimensionless; pass ``Quantity(v, 1)`` for metres)."""
    if not isinstance(expr, str):
        raise ArithError(f"expression must be a string, got {type(expr).__name__}")
    if len(expr) > MAX_CHARS:
        raise ArithError(f"expression is longer than {MAX_CHARS} characters")
    if "__" in expr:
        raise ArithError("names with double underscores are not allowed")
    names: dict[str, Value] = {}
    for k, v in (env or {}).items():
        if k.startswith("_"):
            raise ArithError(f"quantity name {k!r} must not start with an underscore")
        try:
            names[k] = v if isinstance(v, Quantity | bool) else Quantity(float(v), 0)
        except (OverflowError, TypeError, ValueError) as e:
            raise ArithError(f"quantity {k!r} is not a usable number: {e}") from None
    text, bound = _substitute_units(expr)
    names.update(bound)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ArithError(f"cannot parse expression {expr!r}: {e.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ArithError(f"expression has more than {MAX_NODES} nodes")
    return _Evaluator(names).eval(tree)


def length(meters: float) -> Quantity:
    """A length quantity in metres."""
    return Quantity(float(meters), 1)
