"""Typed values of the agent: sub-queries, plans, trace steps and the final result."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spatialvlm_core.types import Answer

SubQueryKind = Literal["distance", "closest", "gap", "width", "height", "depth", "elevation", "size_compare", "exists",
                       "relation"]
# Kinds that need a second object.
PAIR_KINDS: frozenset[str] = frozenset({"distance", "closest", "gap", "size_compare", "relation"})
# Spatial relations a ``relation`` sub-query checks (definitions in ``spatial_agent.tools``).
RelationName = Literal["on", "under", "over", "above", "below", "next_to", "in_front_of", "behind", "left_of",
                       "right_of"]
RELATIONS: tuple[str, ...] = get_args(RelationName)
# Everyday spellings a planner (an LLM in particular) may write for a relation name.
RELATION_ALIASES: dict[str, str] = {
    "on_top_of": "on", "onto": "on", "atop": "on", "upon": "on", "resting_on": "on",
    "underneath": "under", "beneath": "under",
    "next": "next_to", "beside": "next_to", "near": "next_to", "nearby": "next_to", "close_to": "next_to",
    "by": "next_to", "adjacent_to": "next_to", "near_to": "next_to",
    "in_front": "in_front_of", "front_of": "in_front_of", "in_back_of": "behind",
    "left": "left_of", "to_the_left_of": "left_of", "right": "right_of", "to_the_right_of": "right_of",
}

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")  # no leading underscore: arith reserves those names


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubQuery(_Model):
    """One atomic measurement. ``a``/``b`` are object phrases as the user wrote them ("the red chair", "chairs").

    Semantics (metres): distance = centre-to-centre; closest = minimal distance between the two objects' boxes
    (0 when touching; what "within R of", "at least D from" and reach mean); gap = free-space clearance between floor footprints;
    width = longer horizontal side; depth = shorter horizontal side; height = vertical extent;
    elevation = bottom of the object above the floor; size_compare = volume(a) / volume(b) (boolean: a bigger);
    exists = number of matching objects (boolean: at least one);
    relation = whether a stands in ``relation`` to b (boolean; value = how many of a's objects do). An indefinite
    ``a`` ("a mug", "mugs", "anything") asks whether any such object does; a definite one ("the mug") names the
    object ("the chairs": every chair). ``within`` (metres) overrides the 0.5 m default of ``next_to``.
    """

    id: str = "q"
    kind: SubQueryKind
    a: str = Field(min_length=1)
    b: str | None = None
    relation: RelationName | None = None
    within: float | None = Field(default=None, gt=0, le=100)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"sub-query id {v!r} must be a letter followed by letters/digits")
        return v

    @field_validator("a", "b")
    @classmethod
    def _phrase(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("object phrase must not be blank")
        return v.strip() if v else v

    @field_validator("relation", mode="before")
    @classmethod
    def _relation_name(cls, v: Any) -> Any:
        """'on top of' / 'Next to' / 'left-of' -> the canonical name; anything else is left to the enum check."""
        if not isinstance(v, str):
            return v
        name = re.sub(r"[\s-]+", "_", v.strip().lower())
        return RELATION_ALIASES.get(name, name)

    @model_validator(mode="after")
    def _pair(self) -> SubQuery:
        if self.kind in PAIR_KINDS and not self.b:
            raise ValueError(f"sub-query {self.id!r} of kind {self.kind!r} needs a second object 'b'")
        if self.kind not in PAIR_KINDS and self.b:
            raise ValueError(f"sub-query {self.id!r} of kind {self.kind!r} takes one object, got b={self.b!r}")
        if self.kind == "relation" and self.relation is None:
            raise ValueError(f"sub-query {self.id!r} of kind 'relation' needs a 'relation', one of {list(RELATIONS)}")
        if self.kind != "relation" and (self.relation is not None or self.within is not None):
            raise ValueError(f"sub-query {self.id!r} of kind {self.kind!r} takes no 'relation'/'within' "
                             "(only kind 'relation' does)")
        if self.within is not None and self.relation != "next_to":
            raise ValueError(f"sub-query {self.id!r}: 'within' is the distance of 'next_to', not of {self.relation!r}")
        return self

    def key(self) -> tuple[str, ...]:
        """Identity for caching: the id is a local name, not part of what is measured."""
        base = (self.kind, self.a.lower(), (self.b or "").lower())
        if self.kind != "relation":
            return base
        return (*base, self.relation or "", "" if self.within is None else f"{self.within:.6g}")


class Plan(_Model):
    """What a planner returns: sub-queries, an arithmetic expression over their ids, and an answer template.

    ``compute`` is evaluated by ``spatial_agent.arith`` (e.g. ``"g >= 1.0 m"``); a boolean result is a decision,
    a number a value. ``refusal`` set means the question is out of scope and nothing is measured; it names what
    is missing ("the question does not say how long the arm is").

    ``options``: a "which of two" question ("Which is taller, the lamp or the sofa?"). ``compute`` is then a
    yes/no that is True when the first option is the answer and False when the second is; :meth:`chosen` maps the
    decision to the option, and an answer template may say it with ``{choice}``.
    """

    subqueries: list[SubQuery] = Field(default_factory=list)
    compute: str = ""
    answer_template: str | None = None
    refusal: str | None = None
    options: list[str] | None = None

    @field_validator("options")
    @classmethod
    def _options(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = [o.strip() for o in v]
        if len(out) != 2 or not all(out):
            raise ValueError(f"'options' names the two candidates of a 'which of two' question, got {v!r}")
        return out

    @model_validator(mode="after")
    def _check(self) -> Plan:
        if self.refusal:
            return self
        if not self.subqueries:
            raise ValueError("plan has no subqueries (and no refusal)")
        ids = [q.id for q in self.subqueries]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate sub-query ids {dup}")
        if not self.compute.strip():
            raise ValueError("plan has an empty 'compute' expression")
        return self

    def chosen(self, decision: bool | None) -> str | None:
        """The option a "which of two" decision picks (True: the first), None when undecided or no options."""
        if self.options is None or decision is None:
            return None
        return self.options[0] if decision else self.options[1]


class Step(_Model):
    """One entry of the trace: which node did what, with its inputs/outputs."""

    node: str
    detail: str = ""
    subquery: SubQuery | None = None
    answer: Answer | None = None
    plan: Plan | None = None
    error: str | None = None
    seconds: float = 0.0


class AgentResult(_Model):
    """The agent's answer. A yes/no question is decided only when the measured intervals settle it; otherwise
    ``undecided`` is True ("can't tell"), ``decision`` None and ``interval`` the compared quantity's range."""

    answer: str
    decision: bool | None = None
    undecided: bool = False  # a yes/no question the evidence cannot settle at ``level``
    value: float | None = None  # metres for lengths, plain number otherwise
    unit: str | None = None
    interval: tuple[float, float] | None = None  # (lo, hi) of the value, or of the compared quantity (yes/no)
    level: float | None = None  # coverage the interval is stated at (types.INTERVAL_LEVEL)
    plan: Plan | None = None
    sub_answers: dict[str, Answer] = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    planner_calls: int = 0
    latency_s: float = 0.0
    error: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
