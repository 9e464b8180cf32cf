"""A compact, one-line plan form for a small LLM, and its conversion to and from :class:`Plan`.

A 135M model writes ~15 tokens of this instead of ~100 of JSON, and a grammar small enough to constrain its
decoding token by token (``spatial_agent.planners.embedded``)::

    closest(the mug|the table) <= 1.2 m;          a decision: minimal distance vs a length stated in the question
    height(the sofa) > height(the chair);         object vs object
    size_compare(the sofa|the chair) > 1;
    distance(the lamp|the sofa);                  a value
    on(a mug|the table);                          a relation (its name is the head), ``not on(...)`` negated
    next_to(a chair|the sofa|30 cm);              next_to with a stated distance
    width(the sofa) > 1 m and height(the sofa) > 1 m;
    refuse;

Object phrases are spans of the question and lengths are the question's own text ("80 cm", "5 ft 6 in"): the
model copies, code converts units (``rules.extract_lengths``). Answer templates are written here, not by the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import get_args

from spatial_agent.planners.rules import _LENGTH, _WORD_NUMBERS, REFUSAL, extract_lengths
from spatial_agent.schema import PAIR_KINDS, RELATIONS, Plan, SubQuery, SubQueryKind

KINDS: tuple[str, ...] = tuple(k for k in get_args(SubQueryKind) if k != "relation")
HEADS: tuple[str, ...] = (*KINDS, *RELATIONS)  # a relation sub-query is written with its relation as the head
CMPS: tuple[str, ...] = (">=", "<=", ">", "<")
CONJS: tuple[str, ...] = ("and", "or")
ONE = "1"  # a bare number always allowed (size_compare > 1, exists >= 1); others are spans of the question
WHICH = "which"  # prefix of a "which of two" plan: one comparison of two atoms, its options their phrases
END = ";"
REFUSE = "refuse"
MAX_TERMS = 3
MAX_SPAN_WORDS = 8


class CompactError(ValueError):
    """A plan or a compact string the compact form cannot express, or a malformed compact string."""


@dataclass(frozen=True)
class Atom:
    head: str  # a sub-query kind, or a relation name (kind "relation")
    a: str
    b: str | None = None
    within: str | None = None  # a length span of the question (next_to only)


@dataclass(frozen=True)
class Term:
    left: Atom
    neg: bool = False
    op: str | None = None
    right: Atom | str | None = None  # an atom, a length or number span of the question, or ONE
    factor: str | None = None  # a number span scaling an atom on the right ("x > 3 * y": "three", "twice")


@dataclass
class Compact:
    terms: list[Term] = field(default_factory=list)
    conj: str = "and"  # one connective for the whole expression (mixing and/or is not expressible)
    refuse: bool = False
    which: bool = False


# --------------------------------------------------------------------------- question text
def normalise_question(question: str) -> str:
    """Lower case, plain quotes, one space: the text the model reads and copies spans from."""
    q = question.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", q).strip()


def phrase_spans(question: str, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """Every run of 1..``max_words`` consecutive words of the normalised question that is a substring of it
    (runs never cross punctuation; a word's trailing full stop is dropped)."""
    seen: dict[str, None] = {}
    q = normalise_question(question)
    for segment in re.split(r"[,;:?!()\[\]\"|]+", q):
        words = [w for w in (x.rstrip(".") for x in segment.split(" ")) if w]
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + max_words) + 1):
                span = " ".join(words[i:j])
                if span in q:
                    seen.setdefault(span, None)
    return list(seen)


def length_spans(question: str) -> list[str]:
    """The stated lengths of the question as written ("1.2 m", "5 ft 6 in"), each parseable by :func:`meters`."""
    out: dict[str, None] = {}
    for m in _LENGTH.finditer(normalise_question(question)):
        span = m.group(0).strip(" -")
        try:
            meters(span)
        except CompactError:
            continue
        out.setdefault(span, None)
    return list(out)


_NUMBER_WORDS: dict[str, float] = {
    **{w: float(v) for w, v in _WORD_NUMBERS.items() if w not in ("a", "an", "half a", "a quarter")},
    "twice": 2.0, "thrice": 3.0, "double": 2.0, "triple": 3.0, "two and a half": 2.5, "a third": 1 / 3,
    "a quarter": 0.25,
}
_NUMBER = re.compile(r"(?<![\w.])(?:\d+(?:\.\d+)?|" + "|".join(
    sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + r")(?![\w.])")


def number_spans(question: str) -> list[str]:
    """Numbers the question states ("3", "three", "twice", "one and a half", "half")."""
    return list(dict.fromkeys(m.group(0) for m in _NUMBER.finditer(normalise_question(question))))


def number(span: str) -> float:
    """A number span's value; CompactError when it is not a number."""
    t = span.strip().lower()
    if t in _NUMBER_WORDS:
        return _NUMBER_WORDS[t]
    try:
        return float(t)
    except ValueError:
        raise CompactError(f"{span!r} is not a number") from None


def meters(span: str) -> float:
    """A length span in metres; CompactError when it is not exactly one length."""
    rest, found = extract_lengths(span.lower())
    if len(found) != 1 or rest.strip() != "<L>":
        raise CompactError(f"{span!r} is not one length")
    return found[0]


# --------------------------------------------------------------------------- text form
def _atom_text(x: Atom) -> str:
    args = [x.a] + ([x.b] if x.b is not None else []) + ([x.within] if x.within is not None else [])
    return f"{x.head}({'|'.join(args)})"


def pieces(c: Compact) -> list[str]:
    """The compact string cut at its grammar's choice points; ``"".join(pieces(c)) == to_text(c)``.

    The decoder picks one piece at a time from a finite option set and training tokenises piece by piece, so
    both see the same token ids. Every piece carries its terminator, which keeps each option set prefix-free.
    """
    if c.refuse:
        return [REFUSE + END]
    out: list[str] = [WHICH] if c.which else []

    def atom(x: Atom, lead: str) -> None:
        out.append(f"{lead}{x.head}(")
        args = [x.a] + ([x.b] if x.b is not None else [])
        for i, s in enumerate(args):
            last = i == len(args) - 1 and x.within is None
            out.append(s + (")" if last else "|"))
        if x.within is not None:
            out.append(x.within + ")")

    for i, t in enumerate(c.terms):
        tail = END if i == len(c.terms) - 1 else f" {c.conj}"
        lead = "" if i == 0 and not c.which else " "
        if t.neg:
            out.append(f"{lead}not")
            lead = " "
        atom(t.left, lead)
        if t.op is None:
            out.append(tail)
            continue
        if isinstance(t.right, Atom):  # the comparison travels with the first piece of its right-hand side
            atom(t.right, f" {t.op} {t.factor} * " if t.factor else f" {t.op} ")
            out.append(tail)
        else:
            out.append(f" {t.op} {t.right}{tail}")
    return out


def to_text(c: Compact) -> str:
    return "".join(pieces(c))


_ATOM = re.compile(r"\s*(?P<head>[a-z_]+)\((?P<args>[^()|;]+(?:\|[^()|;]+)*)\)")


def parse(text: str) -> Compact:
    """The :class:`Compact` a compact string spells; CompactError naming what is wrong."""
    s = text.strip()
    if not s.endswith(END):
        raise CompactError(f"compact plan must end with {END!r}: {text!r}")
    s = s[:-1].strip()
    if s == REFUSE:
        return Compact(refuse=True)
    pos, terms, conjs = 0, [], []
    which = s.startswith(WHICH + " ")
    if which:
        pos = len(WHICH)

    def atom() -> Atom:
        nonlocal pos
        m = _ATOM.match(s, pos)
        if not m or m.group("head") not in HEADS:
            raise CompactError(f"expected head(args) at {s[pos:pos + 30]!r}")
        pos = m.end()
        args = m.group("args").split("|")
        head = m.group("head")
        pair = head in RELATIONS or head in PAIR_KINDS
        if head == "next_to" and len(args) == 3:
            return Atom(head, args[0], args[1], args[2])
        if len(args) != (2 if pair else 1):
            raise CompactError(f"{head} takes {2 if pair else 1} object(s), got {args}")
        return Atom(head, args[0], args[1] if pair else None)

    while True:
        neg = False
        m = re.compile(r"\s*not\s").match(s, pos)
        if m:
            neg, pos = True, m.end()
        left = atom()
        m = re.compile(r"\s*(>=|<=|>|<)").match(s, pos)
        op: str | None = None
        right: Atom | str | None = None
        factor: str | None = None
        if m:
            op, pos = m.group(1), m.end()
            mf = re.compile(r"\s*([^*()|;]+?)\s\*\s").match(s, pos)
            if mf:
                factor, pos = mf.group(1).strip(), mf.end()
            if _ATOM.match(s, pos):
                right = atom()
            else:
                m2 = re.compile(r"\s*(.+?)(?=\s+(?:and|or)\s+(?:not\s+)?[a-z_]+\(|$)").match(s, pos)
                if not m2:
                    raise CompactError(f"expected a length or an object after {op!r}")
                right, pos = m2.group(1).strip(), m2.end()
        terms.append(Term(left=left, neg=neg, op=op, right=right, factor=factor))
        m = re.compile(r"\s+(and|or)\s").match(s, pos)
        if not m:
            break
        conjs.append(m.group(1))
        pos = m.end() - 1
    if s[pos:].strip():
        raise CompactError(f"unexpected text {s[pos:]!r} in compact plan {text!r}")
    if len(set(conjs)) > 1:
        raise CompactError("a compact plan uses one connective (all 'and' or all 'or')")
    c = Compact(terms=terms, conj=conjs[0] if conjs else "and", which=which)
    if which:
        which_options(c)
    return c


def which_options(c: Compact) -> list[str]:
    """The two options of a "which of two" compact plan: a comparison of two atoms, or one relation."""
    t = c.terms[0] if c.terms else None
    if t is not None and len(c.terms) == 1 and not t.neg and t.factor is None:
        if isinstance(t.right, Atom) and t.op is not None:
            return [t.left.a, t.right.a]
        if t.op is None and t.left.head in RELATIONS and t.left.b is not None:
            return [t.left.a, t.left.b]
    raise CompactError("a 'which' plan compares two objects in one term, or states one relation between them")


# --------------------------------------------------------------------------- compact -> Plan
def _the(p: str) -> str:
    return p if re.match(r"^(?:the|a|an|this|that|these|those|my|our|any|some)\s", p) else f"the {p}"


_WHAT = {
    "distance": "the distance between {a} and {b} is {v}", "closest": "{a} and {b} are {v} apart at the closest points",
    "gap": "the free-space gap between {a} and {b} is {v}", "width": "{a} is {v} wide",
    "height": "{a} is {v} tall", "depth": "{a} is {v} deep", "elevation": "{a} is {v} above the floor",
    "size_compare": "{a} is {v} times the size of {b}", "exists": "I found {v} matching {a0}",
}


def _subquery(x: Atom, sid: str) -> SubQuery:
    if x.head in RELATIONS:
        within = meters(x.within) if x.within is not None else None
        return SubQuery(id=sid, kind="relation", a=x.a, b=x.b, relation=x.head, within=within)  # type: ignore[arg-type]
    if x.within is not None:
        raise CompactError(f"{x.head} takes no distance")
    return SubQuery(id=sid, kind=x.head, a=x.a, b=x.b)  # type: ignore[arg-type]


def to_plan(c: Compact, refusal: str = REFUSAL) -> Plan:
    """The :class:`Plan` of a compact form (ids ``q1``, ``q2``, ...; a repeated atom is measured once)."""
    if c.refuse:
        return Plan(refusal=refusal)
    if not c.terms:
        raise CompactError("compact plan has no terms")
    ids: dict[Atom, str] = {}
    subs: list[SubQuery] = []

    def ref(x: Atom) -> str:
        if x not in ids:
            ids[x] = f"q{len(ids) + 1}"
            subs.append(_subquery(x, ids[x]))
        return ids[x]

    exprs, clauses = [], []
    for t in c.terms:
        left = ref(t.left)
        expr = left
        if t.op is not None:
            if isinstance(t.right, Atom):
                rhs = ref(t.right)
                if t.factor is not None:
                    rhs = f"{number(t.factor):.6g} * {rhs}"
            elif t.right == ONE:
                rhs = ONE
            elif isinstance(t.right, str):
                try:
                    rhs = f"{meters(t.right):.6g} m"
                except CompactError:
                    rhs = f"{number(t.right):.6g}"
            else:
                raise CompactError(f"comparison {t.op!r} has nothing on its right")
            expr = f"{left} {t.op} {rhs}"
        exprs.append(f"not {expr}" if t.neg else expr)
        clauses.extend(_clause(x, ids[x]) for x in (t.left, t.right) if isinstance(x, Atom))
    compute = exprs[0] if len(exprs) == 1 else f" {c.conj} ".join(f"({e})" for e in exprs)
    decision = len(exprs) > 1 or c.terms[0].op is not None or c.terms[0].neg or c.terms[0].left.head in RELATIONS
    body = "; ".join(dict.fromkeys(clauses))
    if c.which:
        # The graph names the chosen option (Plan.chosen); a yes/no template would answer "Yes" to "which".
        return Plan(subqueries=subs, compute=compute, options=which_options(c))
    if decision:
        tpl = f"{{decision}}: {body}."
    else:
        tpl = f"{body[0].upper()}{body[1:]}."
    return Plan(subqueries=subs, compute=compute, answer_template=tpl)


def _clause(x: Atom, sid: str) -> str:
    if x.head in RELATIONS:
        return f"{{{sid}.text}}"
    what = _WHAT.get(x.head, "the " + x.head + " of {a} is {v}")
    return what.format(a=_the(x.a), b=_the(x.b or ""), a0=x.a, v=f"{{{sid}}}")


# --------------------------------------------------------------------------- Plan -> compact
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?|\.\d+)(?:\s*(?P<unit>mm|cm|km|m|in|ft|yd)\b)?|"
                    r"(?P<word>[A-Za-z_]\w*)|(?P<op>>=|<=|>|<|\(|\)|\*))")


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise CompactError(f"compute {expr!r}: cannot read {expr[pos:]!r}")
        pos = m.end()
        if m.group("num") is not None:
            unit = m.group("unit")
            out.append(("num", f"{m.group('num')} {unit}" if unit else m.group("num")))
        elif m.group("word") is not None:
            out.append(("word", m.group("word")))
        else:
            out.append(("op", m.group("op")))
    return out


def from_plan(plan: Plan, question: str) -> Compact:
    """The compact form of ``plan`` for ``question``; CompactError when the form cannot express it exactly
    (a phrase that is not a span of the question, a length the question does not state, mixed and/or, ...)."""
    if plan.refusal:
        return Compact(refuse=True)
    spans = set(phrase_spans(question))
    lens = {s: meters(s) for s in length_spans(question)}
    nums = {s: number(s) for s in number_spans(question)}
    by_id = {q.id: q for q in plan.subqueries}

    def atom(sid: str) -> Atom:
        q = by_id.get(sid)
        if q is None:
            raise CompactError(f"compute names {sid!r}, which is no sub-query")
        for p in (q.a, q.b):
            if p is not None and p.lower() not in spans:
                raise CompactError(f"object phrase {p!r} is not a span of the question")
        within = None
        if q.within is not None:
            within = _length_span(q.within, lens)
        head = q.relation if q.kind == "relation" else q.kind
        x = Atom(head or "", q.a.lower(), q.b.lower() if q.b else None, within)
        back = _subquery(x, q.id)
        if back.model_dump() != q.model_copy(update={"a": x.a, "b": x.b}).model_dump():
            raise CompactError(f"sub-query {q.id!r} has fields the compact form does not carry")
        return x

    toks = _tokens(plan.compute)
    pos = 0

    def peek(k: int = 0) -> tuple[str, str] | None:
        return toks[pos + k] if pos + k < len(toks) else None

    def term() -> Term:
        nonlocal pos
        neg = False
        if peek() == ("word", "not"):
            neg, pos = True, pos + 1
        if peek() == ("op", "("):
            pos += 1
            inner = term()
            if peek() != ("op", ")"):
                raise CompactError(f"compute {plan.compute!r}: unbalanced parentheses")
            pos += 1
            if neg and inner.neg:
                raise CompactError("double negation")
            return Term(inner.left, neg or inner.neg, inner.op, inner.right)
        t = peek()
        if t is None or t[0] != "word" or t[1] in ("and", "or", "not"):
            raise CompactError(f"compute {plan.compute!r}: expected a sub-query id")
        pos += 1
        left = atom(t[1])
        nxt = peek()
        if nxt is None or nxt[0] != "op" or nxt[1] not in CMPS:
            return Term(left, neg)
        pos += 1
        r = peek()
        if r is None:
            raise CompactError(f"compute {plan.compute!r} ends after {nxt[1]!r}")
        pos += 1
        right: Atom | str
        factor = None
        if r[0] == "num" and peek() == ("op", "*"):
            factor = _match(float(r[1]), nums, "number")
            pos += 1
            r = peek()
            if r is None or r[0] != "word":
                raise CompactError(f"compute {plan.compute!r}: expected a sub-query after '*'")
            pos += 1
        if r[0] == "word":
            right = atom(r[1])
        elif r[0] == "num":
            right = _number(r[1], lens, nums)
        else:
            raise CompactError(f"compute {plan.compute!r}: unexpected {r[1]!r}")
        return Term(left, neg, nxt[1], right, factor)

    terms, conjs = [term()], []
    while peek() is not None:
        t = peek()
        if t not in (("word", "and"), ("word", "or")):
            raise CompactError(f"compute {plan.compute!r}: unexpected {t[1]!r}")  # type: ignore[index]
        conjs.append(t[1])  # type: ignore[index]
        pos += 1
        terms.append(term())
    if len(set(conjs)) > 1:
        raise CompactError(f"compute {plan.compute!r} mixes 'and' and 'or'")
    if len(terms) > MAX_TERMS:
        raise CompactError(f"compute {plan.compute!r} has more than {MAX_TERMS} terms")
    used = {x for t in terms for x in (t.left, t.right) if isinstance(x, Atom)}
    if len(used) < len({q.key() for q in plan.subqueries}):
        raise CompactError("plan measures a sub-query its compute does not use")
    c = Compact(terms=terms, conj=conjs[0] if conjs else "and", which=plan.options is not None)
    if c.which and [o.lower() for o in plan.options or []] != which_options(c):
        raise CompactError(f"options {plan.options} are not the objects the plan compares")
    return c


def _match(value: float, spans: dict[str, float], what: str) -> str:
    for s, v in spans.items():
        if abs(v - value) <= 1e-6 * max(1.0, abs(value)):
            return s
    raise CompactError(f"{what} {value:.6g} is not stated in the question")


def _length_span(m: float, lens: dict[str, float]) -> str:
    for s, v in lens.items():
        if abs(v - m) <= 1e-6 * max(1.0, abs(m)):
            return s
    raise CompactError(f"length {m:.6g} m is not stated in the question")


def _number(text: str, lens: dict[str, float], nums: dict[str, float]) -> str:
    parts = text.split()
    if len(parts) == 1:
        if float(parts[0]) == 1.0:
            return ONE
        return _match(float(parts[0]), nums, "number")
    value = float(parts[0]) * (meters(f"1 {parts[1]}") if len(parts) == 2 else 1.0)
    return _length_span(value, lens)
