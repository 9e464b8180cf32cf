"""Safe arithmetic over named quantities with units: the agent's maths is code, never the LLM's head.

Grammar (parsed with :mod:`ast`, never ``eval``): numbers, names bound by the caller, ``+ - * /``, unary ``-``,
comparisons (chains allowed), ``and``/``or``/``not``, and the functions ``min``, ``max``, ``abs``. A number may
carry a length unit (``1.2 m``, ``80cm``, ``3 ft``, ``12 in``); it is converted to metres. Quantities track their
length dimension, so ``g > 1 m`` is fine and ``g + 2 m*m`` is an error. A bare number in a sum, comparison or
``min``/``max`` with a length is read as metres (planners often write ``g > 1.0``). Anything else raises
:class:`ArithError` naming what was refused.

Quantities carry an interval ``[lo, hi]`` around their value (a measurement's stated range; literals are exact) and
the operators propagate it by interval arithmetic. Comparisons are three-valued: True when every value in the
intervals satisfies them, False when none does, otherwise ``None`` (unknown); ``and``/``or``/``not`` follow
Kleene's logic, so an expression may evaluate to ``None`` ("can't tell").
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from spatialvlm_core.units import METERS_PER_UNIT, UNIT_ALIASES

MAX_CHARS = 400
MAX_NODES = 200
MAX_ABS = 1e12  # keep results finite and meaningful


class ArithError(ValueError):
    """An expression the evaluator refuses or cannot compute."""


@dataclass(frozen=True)
class Quantity:
    """A number in SI (metres for lengths) with its length exponent (0 = dimensionless, 1 = length, 2 = area).

    ``lo``/``hi``: the interval the true value lies in (None: exact, i.e. ``value``); bounds may be infinite.
    """

    value: float
    dim: int = 0
    literal: bool = False  # a bare number written in the expression (may adopt a length dimension)
    lo: float | None = None
    hi: float | None = None

    def __post_init__(self) -> None:
        lo, hi = self.low, self.high
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise ArithError(f"bad interval [{lo}, {hi}] for {self.value!r}")
        # The value lies inside its interval: a stated range that misses it (rounding, a loose tool) is widened.
        if not lo <= self.value <= hi:
            object.__setattr__(self, "lo", min(lo, self.value))
            object.__setattr__(self, "hi", max(hi, self.value))
            lo, hi = self.low, self.high
        if lo == self.value == hi:  # exact: one canonical form, so equal quantities compare equal
            object.__setattr__(self, "lo", None)
            object.__setattr__(self, "hi", None)

    @property
    def low(self) -> float:
        return self.value if self.lo is None else float(self.lo)

    @property
    def high(self) -> float:
        return self.value if self.hi is None else float(self.hi)

    @property
    def exact(self) -> bool:
        return self.lo is None and self.hi is None

    def __str__(self) -> str:
        unit = {0: "", 1: " m", 2: " m^2", 3: " m^3"}.get(self.dim, f" m^{self.dim}")
        if self.exact:
            return f"{self.value:g}{unit}"
        return f"{self.value:g}{unit} [{self.low:g}, {self.high:g}]"


Value = Quantity | bool | None  # None: a comparison the intervals cannot settle


def _q(value: float, lo: float, hi: float, dim: int, literal: bool = False) -> Quantity:
    return Quantity(value, dim, literal, lo, hi)

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


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


_CMP: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: _close, ast.NotEq: lambda a, b: not _close(a, b),
}


def compare(op: str, a: Quantity, b: Quantity) -> bool | None:
    """Three-valued ``a op b`` over intervals: True when it holds for every pair of values in them, False when for
    none, else None. ``op`` is one of ``< <= > >= == !=``."""
    lo_a, hi_a, lo_b, hi_b = a.low, a.high, b.low, b.high
    if op in ("<", "<="):
        strict = op == "<"
        if (hi_a < lo_b) if strict else (hi_a <= lo_b):
            return True
        return False if ((lo_a >= hi_b) if strict else (lo_a > hi_b)) else None
    if op in (">", ">="):
        return compare("<" if op == ">" else "<=", b, a)
    if op in ("==", "!="):
        if a.exact and b.exact:
            eq = _close(a.value, b.value)
        elif hi_a < lo_b or hi_b < lo_a:
            eq = False
        else:
            return None
        return eq if op == "==" else not eq
    raise ArithError(f"unknown comparison {op!r}")


_OP_SYMBOL: dict[type, str] = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
                               ast.NotEq: "!="}


def kleene_and(values: list[bool | None]) -> bool | None:
    """False if any is False, True if all are True, else None."""
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


def kleene_or(values: list[bool | None]) -> bool | None:
    """True if any is True, False if all are False, else None."""
    if any(v is True for v in values):
        return True
    return False if all(v is False for v in values) else None


def _as_quantity(v: Value, what: str) -> Quantity:
    if isinstance(v, bool) or v is None:
        raise ArithError(f"{what} needs a number, got a yes/no value")
    return v


def _is_truth(v: Value) -> bool:
    return v is None or isinstance(v, bool)


def _unify(a: Quantity, b: Quantity, op: str) -> tuple[Quantity, Quantity]:
    if a.dim == b.dim:
        return a, b
    if a.literal and a.dim == 0:
        return replace(a, dim=b.dim, literal=False), b
    if b.literal and b.dim == 0:
        return a, replace(b, dim=a.dim, literal=False)
    raise ArithError(f"cannot apply {op!r} to quantities of different dimensions ({a} vs {b})")


def _check(q: Quantity) -> Quantity:
    if not math.isfinite(q.value) or abs(q.value) > MAX_ABS:
        raise ArithError(f"result {q.value!r} is out of range")
    return q


def _products(a: Quantity, b: Quantity) -> list[float]:
    out = []
    for x in (a.low, a.high):
        for y in (b.low, b.high):
            p = x * y
            out.append(0.0 if math.isnan(p) else p)  # 0 * inf: the zero end is exact
    return out


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
            if not _is_truth(v):
                raise ArithError("'not' needs a yes/no value")
            return None if v is None else not v
        q = _as_quantity(v, "unary sign")
        if isinstance(node.op, ast.USub):
            return _q(-q.value, -q.high, -q.low, q.dim, q.literal)
        if isinstance(node.op, ast.UAdd):
            return q
        raise ArithError(f"operator {type(node.op).__name__} is not allowed")

    def _BinOp(self, node: ast.BinOp) -> Value:
        a = _as_quantity(self.eval(node.left), "arithmetic")
        b = _as_quantity(self.eval(node.right), "arithmetic")
        lit = a.literal and b.literal
        if isinstance(node.op, ast.Add):
            a, b = _unify(a, b, "+")
            return _check(_q(a.value + b.value, a.low + b.low, a.high + b.high, a.dim, lit))
        if isinstance(node.op, ast.Sub):
            a, b = _unify(a, b, "-")
            return _check(_q(a.value - b.value, a.low - b.high, a.high - b.low, a.dim, lit))
        if isinstance(node.op, ast.Mult):
            p = _products(a, b)
            return _check(_q(a.value * b.value, min(p), max(p), a.dim + b.dim, lit))
        if isinstance(node.op, ast.Div):
            if b.value == 0:
                raise ArithError("division by zero")
            if b.low <= 0 <= b.high:  # the divisor may be zero: the quotient is unbounded
                return _check(_q(a.value / b.value, -math.inf, math.inf, a.dim - b.dim, lit))
            p = _products(a, Quantity(1.0 / b.value, 0, False, 1.0 / b.high, 1.0 / b.low))
            return _check(_q(a.value / b.value, min(p), max(p), a.dim - b.dim, lit))
        raise ArithError(f"operator {type(node.op).__name__} is not allowed (only + - * /)")

    def _Compare(self, node: ast.Compare) -> Value:
        left = _as_quantity(self.eval(node.left), "comparison")
        results: list[bool | None] = []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _CMP:
                raise ArithError(f"comparison {type(op).__name__} is not allowed")
            right = _as_quantity(self.eval(right_node), "comparison")
            lq, rq = _unify(left, right, "comparison")
            results.append(compare(_OP_SYMBOL[type(op)], lq, rq))
            if results[-1] is False:
                return False
            left = right
        return kleene_and(results)

    def _BoolOp(self, node: ast.BoolOp) -> Value:
        vals = [self.eval(v) for v in node.values]
        if not all(_is_truth(v) for v in vals):
            raise ArithError("'and'/'or' need yes/no values on both sides")
        truths: list[bool | None] = [v for v in vals if not isinstance(v, Quantity)]
        return kleene_and(truths) if isinstance(node.op, ast.And) else kleene_or(truths)

    def _Call(self, node: ast.Call) -> Value:
        if not isinstance(node.func, ast.Name) or node.func.id not in ("min", "max", "abs"):
            raise ArithError("only min(), max() and abs() may be called")
        if node.keywords:
            raise ArithError(f"{node.func.id}() takes no keyword arguments")
        args = [_as_quantity(self.eval(a), f"{node.func.id}()") for a in node.args]
        if node.func.id == "abs":
            if len(args) != 1:
                raise ArithError("abs() takes exactly one argument")
            q = args[0]
            if q.low >= 0:
                lo, hi = q.low, q.high
            elif q.high <= 0:
                lo, hi = -q.high, -q.low
            else:  # the interval straddles zero
                lo, hi = 0.0, max(-q.low, q.high)
            return _q(abs(q.value), lo, hi, q.dim, q.literal)
        if not args:
            raise ArithError(f"{node.func.id}() needs at least one argument")
        dims = {a.dim for a in args if not a.literal} or {args[0].dim}
        if len(dims) > 1:
            raise ArithError(f"{node.func.id}() arguments have different dimensions")
        dim = dims.pop()
        pick = min if node.func.id == "min" else max
        # Interval min/max: bound by bound (the smallest value can be no lower than the lowest low, etc.).
        return _q(pick(a.value for a in args), pick(a.low for a in args), pick(a.high for a in args), dim,
                  all(a.literal for a in args))


def evaluate(expr: str, env: Mapping[str, float | Quantity | bool | None] | None = None) -> Value:
    """Evaluate ``expr`` over ``env`` (plain floats are dimensionless; pass ``Quantity(v, 1)`` for metres).

    Returns a Quantity, a bool, or None when a comparison's intervals straddle its threshold (unknown)."""
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
            names[k] = v if (v is None or isinstance(v, Quantity | bool)) else Quantity(float(v), 0)
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


def length(meters: float, interval: tuple[float, float] | None = None) -> Quantity:
    """A length quantity in metres, with the interval its true value lies in (None: exact)."""
    if interval is None:
        return Quantity(float(meters), 1)
    return Quantity(float(meters), 1, False, float(interval[0]), float(interval[1]))
