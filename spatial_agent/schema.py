"""Typed values of the agent: sub-queries, plans, trace steps and the final result."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spatialvlm_core.types import Answer

SubQueryKind = Literal["distance", "closest", "gap", "width", "height", "depth", "elevation", "size_compare", "exists"]
# Kinds that need a second object.
PAIR_KINDS: frozenset[str] = frozenset({"distance", "closest", "gap", "size_compare"})

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")  # no leading underscore: arith reserves those names


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubQuery(_Model):
    """One atomic measurement. ``a``/``b`` are object phrases as the user wrote them ("the red chair", "chairs").

    Semantics (metres): distance = centre-to-centre; closest = minimal distance between the two objects' boxes
    (0 when touching; what "within R of", "at least D from" and reach mean); gap = free-space clearance between floor footprints;
    width = longer horizontal side; depth = shorter horizontal side; height = vertical extent;
    elevation = bottom of the object above the floor; size_compare = volume(a) / volume(b) (boolean: a bigger);
    exists = number of matching objects (boolean: at least one).
    """

    id: str = "q"
    kind: SubQueryKind
    a: str = Field(min_length=1)
    b: str | None = None

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

    @model_validator(mode="after")
    def _pair(self) -> SubQuery:
        if self.kind in PAIR_KINDS and not self.b:
            raise ValueError(f"sub-query {self.id!r} of kind {self.kind!r} needs a second object 'b'")
        if self.kind not in PAIR_KINDS and self.b:
            raise ValueError(f"sub-query {self.id!r} of kind {self.kind!r} takes one object, got b={self.b!r}")
        return self

    def key(self) -> tuple[str, str, str]:
        """Identity for caching: the id is a local name, not part of what is measured."""
        return (self.kind, self.a.lower(), (self.b or "").lower())


class Plan(_Model):
    """What a planner returns: sub-queries, an arithmetic expression over their ids, and an answer template.

    ``compute`` is evaluated by ``spatial_agent.arith`` (e.g. ``"g >= 1.0 m"``); a boolean result is a decision,
    a number a value. ``refusal`` set means the question is out of scope and nothing is measured.
    """

    subqueries: list[SubQuery] = Field(default_factory=list)
    compute: str = ""
    answer_template: str | None = None
    refusal: str | None = None

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
    answer: str
    decision: bool | None = None
    value: float | None = None  # metres for lengths, plain number otherwise
    unit: str | None = None
    plan: Plan | None = None
    sub_answers: dict[str, Answer] = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    planner_calls: int = 0
    latency_s: float = 0.0
    error: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
