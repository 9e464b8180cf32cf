"""The planner protocol and its errors."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from spatial_agent.schema import Plan


class PlannerError(RuntimeError):
    """The planner could not produce a plan (endpoint unreachable, garbage output, ...)."""


class PlannerUnavailable(PlannerError):
    """The endpoint cannot be reached or keeps failing after retries: re-planning will not help."""


class PlannerOutputError(PlannerError):
    """The planner answered, but not with a valid plan: a re-plan with this message as feedback may help."""


@runtime_checkable
class Planner(Protocol):
    """Turns a question into a :class:`Plan`. ``feedback`` explains why the previous plan failed."""

    name: str

    def plan(self, question: str, feedback: str | None = None) -> Plan: ...
