"""The default planner: a chain of planners, each falling back to the next.

``default_planner()`` is, in order: an OpenAI-compatible endpoint when ``SPATIAL_AGENT_BASE_URL`` and
``SPATIAL_AGENT_MODEL`` are set; the rule planner; the embedded fine-tuned SmolLM2 planner when its adapter is
shipped. A planner's error, timeout, unusable plan (one that fails validation, or names an object that is not in
the question) or soft refusal (see :func:`firm_refusal`) moves on to the next one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from spatial_agent.planners.base import Planner, PlannerError
from spatial_agent.planners.embedded import EmbeddedPlanner
from spatial_agent.planners.rules import REFUSAL, RulePlanner
from spatial_agent.schema import Plan

log = logging.getLogger(__name__)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("’", "'").replace("‘", "'")).strip()


def check_plan(plan: Plan, question: str) -> None:
    """Raise PlannerError when ``plan`` is not usable for ``question`` (an object phrase it does not contain)."""
    if not isinstance(plan, Plan):
        raise PlannerError(f"planner returned {type(plan).__name__}, not a Plan")
    q = _norm(question)
    for sq in plan.subqueries:
        for p in (sq.a, sq.b):
            if p is not None and _norm(p) not in q:
                raise PlannerError(f"sub-query {sq.id!r} names {p!r}, which is not in the question")


def firm_refusal(plan: Plan) -> bool:
    """A refusal that ends the chain: it names a measurement the tools cannot make ("I can't measure the
    clearance under the table from its bounding box ..."). Any other refusal ("I can only answer spatial
    questions ...", a wording the rules could not read) lets the next planner try."""
    return bool(plan.refusal) and plan.refusal.startswith("I can't measure")


class ChainPlanner:
    """Try ``planners`` in order; the first usable plan wins. ``last`` names the planner that gave it and
    ``errors`` why the earlier ones were passed over (both for the last question). Each planner enforces its own
    time limit (the endpoint's request timeout, the embedded decoder's deadline) and raises past it.

    A refusal that is not :func:`firm_refusal` passes the question on; when every planner refuses, the answer is
    the first refusal that says why (not the bare "I can only answer ..."), since a model's refusal has no reason.
    """

    name = "chain"

    def __init__(self, planners: Sequence[Planner], timeout_s: float = 10.0) -> None:
        if not planners:
            raise ValueError("ChainPlanner needs at least one planner")
        self.planners = list(planners)
        self.timeout_s = timeout_s
        self.last: str | None = None
        self.errors: list[str] = []

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        self.errors, self.last = [], None
        refusals: list[tuple[str, Plan]] = []
        for planner in self.planners:
            try:
                plan = planner.plan(question, feedback)
                check_plan(plan, question)
            except (PlannerError, ValueError, TimeoutError) as e:
                self.errors.append(f"{planner.name}: {type(e).__name__}: {e}")
                log.info("planner %s failed, trying the next: %s", planner.name, e)
                continue
            if plan.refusal and not firm_refusal(plan):
                refusals.append((planner.name, plan))
                self.errors.append(f"{planner.name}: refused: {plan.refusal}")
                continue
            self.last = planner.name
            return plan
        if refusals:
            name, plan = next(((n, p) for n, p in refusals if p.refusal != REFUSAL), refusals[0])
            self.last = name
            return plan
        raise PlannerError("every planner failed: " + "; ".join(self.errors))


def default_planner(timeout_s: float = 10.0) -> ChainPlanner:
    """Endpoint (when configured) -> embedded model (when its adapter is shipped) -> rules."""
    chain: list[Planner] = []
    try:
        from spatial_agent.planners.openai_planner import OpenAIPlanner  # openai SDK: optional

        endpoint = OpenAIPlanner.from_env(timeout_s=timeout_s)
        if endpoint is not None:
            chain.append(endpoint)
    except ImportError as e:  # the openai package is optional at run time
        log.info("no endpoint planner: %s", e)
    # The rules first: on the held-out corpus they are never wrong where they answer (87 % correct, 13 %
    # refused, 0 % wrong) and the model is best exactly where they refuse (wordings they cannot read); the model
    # alone was 78 % correct but 18 % wrong (spatial_agent/assets/planner/eval.json).
    chain.append(RulePlanner())
    embedded = EmbeddedPlanner(deadline_s=timeout_s)
    if embedded.available():
        chain.append(embedded)
    return ChainPlanner(chain, timeout_s=timeout_s)
