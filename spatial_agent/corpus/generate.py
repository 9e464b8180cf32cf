"""Question -> plan pairs with exact truth: a frame of a family, a room, object mentions and stated lengths.

The gold plan names objects by their plain phrase ("the red chair"), whatever the question wraps around them
(appositives, relative clauses); stated lengths are the metres the words mean. The truth is the gold plan run
by the geometric tool on the exact room (:func:`execute`); thresholds are drawn 10-40 % away from the measured
value on a random side, so the answer is never a near-tie.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from spatial_agent.arith import Quantity, evaluate
from spatial_agent.corpus.frames import (
    DECORATIONS,
    FAMILIES,
    NUMBER_WORDS,
    PREFIXES,
    RATIOS,
    SUFFIXES,
    Frame,
)
from spatial_agent.corpus.scenes import Placed, Room
from spatial_agent.corpus.units import say_length
from spatial_agent.schema import Plan, SubQuery
from spatial_agent.tools import GeometricTool
from spatialvlm_core.types import Scene3D

_SID = {"height": "h", "width": "w", "depth": "p", "gap": "g", "closest": "d", "distance": "c"}
MIN_MARGIN = 0.06  # relative distance of a stated length (or a compared value) from the truth


class _Skip(Exception):
    """This frame does not fit this room (no group to count, no clear winner): draw again."""


def execute(plan: Plan, scene: Scene3D, tool: GeometricTool | None = None) -> bool | float | None:
    """The plan's result on the exact scene: a decision, a value (metres, or a count), or None for a refusal."""
    if plan.refusal:
        return None
    tool = tool or GeometricTool(scene=scene)
    env: dict[str, Quantity | bool | None] = {}
    for q in plan.subqueries:
        ans = tool.measure(scene, q)
        if q.kind == "relation":
            env[q.id] = ans.boolean
        elif ans.meters is not None:
            env[q.id] = Quantity(ans.meters, 1)
        elif ans.value is not None:
            env[q.id] = Quantity(float(ans.value), 0)
        else:
            raise ValueError(f"gold sub-query {q} has no answer on {scene.scene_id}: {ans.text}")
    out = evaluate(plan.compute, env)
    if isinstance(out, Quantity):
        return out.value
    return out


@dataclass
class _Ctx:
    room: Room
    r: random.Random
    split: str
    tool: GeometricTool

    def mention(self, p: Placed, decorate: float = 0.3) -> str:
        if self.r.random() >= decorate:
            return p.phrase
        return p.phrase + self.r.choice(DECORATIONS[self.split])

    def measure(self, kind: str, a: Placed, b: Placed | None = None) -> float:
        q = SubQuery(id="m", kind=kind, a=a.phrase, b=b.phrase if b else None)  # type: ignore[arg-type]
        ans = self.tool.measure(self.room.scene, q)
        if ans.meters is None:
            raise _Skip
        return float(ans.meters)

    def stated(self, value: float) -> tuple[str, float]:
        """A length 10-40 % above or below ``value`` as a person writes it, and the metres it means."""
        for _ in range(20):
            f = self.r.uniform(0.10, 0.40)
            target = max(0.05, value * (1 + f if self.r.random() < 0.5 else 1 - f))
            text, m = say_length(target, self.r, self.split)
            if abs(m - value) >= MIN_MARGIN * max(value, 0.05):
                return text, m
        raise _Skip

    def objects(self, n: int, exclude_roles: tuple[str, ...] = ("door",)) -> list[Placed]:
        pool = [p for p in self.room.objects if p.role not in exclude_roles]
        if len(pool) < n:
            raise _Skip
        return self.r.sample(pool, n)

    def pair(self) -> tuple[Placed, Placed]:
        a, b = self.room.pair
        return (a, b) if self.r.random() < 0.5 else (b, a)

    def role(self, role: str) -> Placed:
        found = self.room.by_role(role)
        if not found:
            raise _Skip
        return self.r.choice(found)


def _cmp(sid: str, op: str, m: float) -> str:
    return f"{sid} {op} {m:.6g} m"


def _sq(sid: str, kind: str, a: Placed, b: Placed | None = None, **kw: object) -> SubQuery:
    return SubQuery(id=sid, kind=kind, a=a.phrase, b=b.phrase if b else None, **kw)  # type: ignore[arg-type]


Built = tuple[dict[str, str], Plan]


def _length_vs(kind: str, a: Placed, b: Placed | None, op: str, c: _Ctx, slot: str = "L") -> tuple[dict[str, str], SubQuery, str]:
    sid = _SID[kind]
    text, m = c.stated(c.measure(kind, a, b))
    return {slot: text}, _sq(sid, kind, a, b), _cmp(sid, op, m)


def _gap_family(fr: Frame, c: _Ctx) -> Built:
    a, b = c.pair()
    slots, q, expr = _length_vs("gap", a, b, fr.op, c)
    return {"a": c.mention(a), "b": c.mention(b), **slots}, Plan(subqueries=[q], compute=expr)


def _closest_family(fr: Frame, c: _Ctx) -> Built:
    a, b = c.objects(2, ())
    if c.measure("closest", a, b) < 0.15:
        raise _Skip  # touching objects have no threshold "10-40 % away"
    slots, q, expr = _length_vs("closest", a, b, fr.op, c)
    return {"a": c.mention(a), "b": c.mention(b), **slots}, Plan(subqueries=[q], compute=expr)


def _width_of(role: str) -> Callable[[Frame, _Ctx], Built]:
    def build(fr: Frame, c: _Ctx) -> Built:
        a = c.role(role)
        slots, q, expr = _length_vs("width", a, None, fr.op, c)
        return {"a": c.mention(a), **slots}, Plan(subqueries=[q], compute=expr)

    return build


def _fit_under(fr: Frame, c: _Ctx) -> Built:
    a = c.role("surface")
    text, m = c.stated(c.measure("height", a))
    refusal = (f"I can't measure the clearance under {a.phrase} from its bounding box, so I can't tell whether "
               f"something {m:.2f} m tall fits under it.")
    return {"a": c.mention(a), "L": text}, Plan(refusal=refusal)


def _one_dim(fr: Frame, c: _Ctx) -> Built:
    """size / headroom / negation on one object's dimension (the frame's kind, height by default)."""
    kind = fr.kinds[0] if fr.kinds else "height"
    if kind == "gap":
        return _gap_family(fr, c)
    a = c.role("door") if fr.extra.get("door") else c.objects(1)[0]
    slots, q, expr = _length_vs(kind, a, None, fr.op, c)
    return {"a": c.mention(a), **slots}, Plan(subqueries=[q], compute=expr)


def _two_objects(fr: Frame, c: _Ctx, factor: float = 1.0) -> tuple[Placed, Placed, SubQuery, SubQuery]:
    ka, kb = fr.kinds
    a, b = c.objects(2)
    x, y = c.measure(ka, a), factor * c.measure(kb, b)
    if abs(x - y) < MIN_MARGIN * max(x, y):
        raise _Skip
    return a, b, _sq("x", ka, a), _sq("y", kb, b)


def _compare(fr: Frame, c: _Ctx) -> Built:
    a, b, qx, qy = _two_objects(fr, c)
    return {"a": c.mention(a), "b": c.mention(b)}, Plan(subqueries=[qx, qy], compute=f"x {fr.op} y")


def _ratio(fr: Frame, c: _Ctx) -> Built:
    word = c.r.choice(sorted(RATIOS))
    a, b, qx, qy = _two_objects(fr, c, RATIOS[word])
    return ({"a": c.mention(a), "b": c.mention(b), "k": word},
            Plan(subqueries=[qx, qy], compute=f"x {fr.op} {RATIOS[word]:g} * y"))


def _camera_pair(c: _Ctx, relation: str) -> tuple[Placed, Placed]:
    """Two objects whose order along the relation's axis is clear (centres 0.3 m apart or more)."""
    a, b = c.objects(2)
    ca, cb = a.obj.centroid, b.obj.centroid
    axis = 0 if relation in ("left_of", "right_of") else 1  # camera looks along +y, right is +x
    if abs(ca[axis] - cb[axis]) < 0.3:
        raise _Skip
    return a, b


def _relation(fr: Frame, c: _Ctx) -> Built:
    rel = fr.relation or ""
    a, b = _camera_pair(c, rel)
    q = _sq("r", "relation", a, b, relation=rel)
    return {"a": c.mention(a), "b": c.mention(b)}, Plan(subqueries=[q], compute="r")


def _which(fr: Frame, c: _Ctx) -> Built:
    if fr.relation:
        a, b = _camera_pair(c, fr.relation)
        plan = Plan(subqueries=[_sq("r", "relation", a, b, relation=fr.relation)], compute="r",
                    options=[a.phrase, b.phrase])
    else:
        a, b, qx, qy = _two_objects(fr, c)
        plan = Plan(subqueries=[qx, qy], compute=f"x {fr.op} y", options=[a.phrase, b.phrase])
    return {"a": c.mention(a, 0.15), "b": c.mention(b, 0.15)}, plan


def _count(fr: Frame, c: _Ctx) -> Built:
    noun = c.room.count_noun
    if noun is None:
        raise _Skip
    q = SubQuery(id="n", kind="exists", a=noun)
    if not fr.op:
        return {"P": noun}, Plan(subqueries=[q], compute="n")
    n = max(1, c.room.count + c.r.choice([-1, 0, 1]))
    said = NUMBER_WORDS[n] if c.r.random() < 0.5 and n in NUMBER_WORDS else str(n)
    return {"P": noun, "n": said}, Plan(subqueries=[q], compute=f"n {fr.op} {n}")


def _two_conditions(fr: Frame, c: _Ctx) -> Built:
    k1, k2 = fr.kinds
    op1, op2 = fr.extra["ops"]
    if k1 == "gap":  # a fit between the pair and a size of a third object
        a, b = c.pair()
        third = [p for p in c.room.objects if p not in (a, b) and p.role != "door"]
        if not third:
            raise _Skip
        o = c.r.choice(third)
        s1, q1, e1 = _length_vs("gap", a, b, op1, c)
        s2, q2, e2 = _length_vs(k2, o, None, op2, c, "L2")  # ids differ: g and the size's own letter
        slots = {"a": c.mention(a), "b": c.mention(b), "c": c.mention(o), **s1, **s2}
    else:
        a = c.objects(1)[0]
        s1, q1, e1 = _length_vs(k1, a, None, op1, c)
        s2, q2, e2 = _length_vs(k2, a, None, op2, c, "L2")
        slots = {"a": c.mention(a), **s1, **s2}
    return slots, Plan(subqueries=[q1, q2], compute=f"({e1}) {fr.op} ({e2})")


def _measure(fr: Frame, c: _Ctx) -> Built:
    kind = fr.kinds[0]
    if kind == "gap":
        a, b = c.pair()
        return ({"a": c.mention(a), "b": c.mention(b)},
                Plan(subqueries=[_sq("v", "gap", a, b)], compute="v"))
    a = c.objects(1)[0]
    return {"a": c.mention(a)}, Plan(subqueries=[_sq("v", kind, a)], compute="v")


def _unanswerable(fr: Frame, c: _Ctx) -> Built:
    if fr.extra.get("role"):
        a, b = c.role(fr.extra["role"]), None
    else:
        a, b = c.objects(2, ()) if "{b}" in fr.text else (c.objects(1, ())[0], None)
    slots = {"a": c.mention(a)} | ({"b": c.mention(b)} if b else {})
    return slots, Plan(refusal=f"I can't answer that: the question needs {fr.extra['missing']}.")


BUILDERS: dict[str, Callable[[Frame, _Ctx], Built]] = {
    "fit_between": _gap_family, "clearance": _gap_family, "reach": _closest_family, "apart": _closest_family,
    "through": _width_of("door"), "fit_on": _width_of("surface"), "fit_under": _fit_under, "size": _one_dim,
    "headroom": _one_dim, "compare": _compare, "ratio": _ratio, "camera": _relation, "which": _which,
    "count": _count, "two_conditions": _two_conditions, "negation": _one_dim, "measure": _measure,
    "relation": _relation, "unanswerable": _unanswerable,
}
assert set(BUILDERS) == set(FAMILIES), "every family needs a builder"


def render(frame: Frame, slots: dict[str, str], c: _Ctx) -> str:
    """The frame with its slots filled, a distractor before or after it, cleaned of doubled punctuation."""
    text = frame.text.replace("{A}", "{a_cap}")
    if "a" in slots:
        slots = {**slots, "a_cap": slots["a"][:1].upper() + slots["a"][1:]}
    text = text.format(**slots)
    prefix = c.r.choice(PREFIXES[c.split])
    if prefix and not prefix.endswith((". ", "? ", "! ")) and not text.startswith("I "):
        text = text[:1].lower() + text[1:]
    text = prefix + text + c.r.choice(SUFFIXES[c.split])
    # "a {L} wide robot" with "half a metre" / "a metre and a half"
    text = text.replace("a half a ", "a half ").replace(" a a ", " a ").replace("A a ", "A ")
    for bad, good in ((",?", "?"), (",.", "."), (", ,", ","), (",,", ","), (",:", ":")):
        text = text.replace(bad, good)
    return text


def build(family: str, frame: Frame, room: Room, r: random.Random, split: str,
          tool: GeometricTool) -> tuple[str, Plan] | None:
    """One question and its gold plan, or None when the frame does not fit the room."""
    c = _Ctx(room=room, r=r, split=split, tool=tool)
    try:
        slots, plan = BUILDERS[family](frame, c)
    except _Skip:
        return None
    return render(frame, slots, c), plan
