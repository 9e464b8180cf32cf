"""The default planner chain: endpoint -> embedded model -> rules, each failure falling through to the next."""

from __future__ import annotations

import socket

import pytest

from spatial_agent.planners.base import PlannerOutputError
from spatial_agent.planners.chain import ChainPlanner, check_plan, default_planner
from spatial_agent.planners.embedded import EmbeddedPlanner
from spatial_agent.planners.rules import REFUSAL, RulePlanner
from spatial_agent.schema import Plan

Q = "Is the sofa wider than 2 m?"


def _dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more
    return f"http://127.0.0.1:{port}/v1"


class Fixed:
    """A planner that returns one plan, or raises, whatever it is asked."""

    def __init__(self, name: str, plan: Plan | None = None, exc: Exception | None = None) -> None:
        self.name, self._plan, self._exc, self.calls = name, plan, exc, 0

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        self.calls += 1
        if self._exc is not None:
            raise self._exc
        assert self._plan is not None
        return self._plan


def test_dead_endpoint_falls_back(monkeypatch, tmp_path):
    from spatial_agent.planners.openai_planner import OpenAIPlanner, RetryPolicy

    endpoint = OpenAIPlanner(base_url=_dead_url(), model="m", timeout_s=2, retry=RetryPolicy(attempts=1))
    embedded = EmbeddedPlanner(adapter_dir=tmp_path)  # no adapter there: unavailable, raises on use
    chain = ChainPlanner([endpoint, embedded, RulePlanner()])
    plan = chain.plan(Q)
    assert plan == RulePlanner().plan(Q)
    assert chain.last == "rules"
    assert [e.split(":")[0] for e in chain.errors] == ["openai", "embedded"]
    assert "PlannerUnavailable" in chain.errors[0]


def test_unusable_plans_fall_through():
    """A plan naming an object the question does not mention, or an output error, is passed over."""
    invented = Plan.model_validate({"subqueries": [{"id": "w", "kind": "width", "a": "the piano"}],
                                    "compute": "w > 2 m"})
    bad = Fixed("invents", invented)
    broken = Fixed("broken", exc=PlannerOutputError("garbage"))
    chain = ChainPlanner([bad, broken, RulePlanner()])
    assert chain.plan(Q).subqueries[0].a == "the sofa"
    assert bad.calls == broken.calls == 1 and chain.last == "rules"
    with pytest.raises(Exception, match="not in the question"):
        check_plan(invented, Q)


def test_first_usable_plan_wins_and_refusals_say_why():
    good = Plan.model_validate({"subqueries": [{"id": "w", "kind": "width", "a": "The Sofa"}],
                                "compute": "w > 2 m"})
    rules = RulePlanner()
    chain = ChainPlanner([Fixed("model", good), rules])
    assert chain.plan(Q) is good and chain.last == "model"
    # A model's bare refusal takes the rules' reason when they refuse too.
    q = "Can a robot fit between the door and the white bookshelf?"
    chain = ChainPlanner([Fixed("model", Plan(refusal=REFUSAL)), rules])
    assert chain.plan(q).refusal == rules.plan(q).refusal
    with pytest.raises(Exception, match="every planner failed"):
        ChainPlanner([Fixed("x", exc=PlannerOutputError("no"))]).plan(Q)


def test_default_planner_order(monkeypatch):
    monkeypatch.delenv("SPATIAL_AGENT_BASE_URL", raising=False)
    monkeypatch.delenv("SPATIAL_AGENT_MODEL", raising=False)
    names = [p.name for p in default_planner().planners]
    assert names == ["rules", "embedded"] if EmbeddedPlanner().available() else names == ["rules"]
    monkeypatch.setenv("SPATIAL_AGENT_BASE_URL", _dead_url())
    monkeypatch.setenv("SPATIAL_AGENT_MODEL", "m")
    chain = default_planner(timeout_s=2)
    assert [p.name for p in chain.planners][:2] == ["openai", "rules"]


def test_soft_refusals_pass_on_firm_ones_stop():
    model_plan = Plan.model_validate({"subqueries": [{"id": "w", "kind": "width", "a": "the sofa"}],
                                      "compute": "w > 2 m"})
    model = Fixed("model", model_plan)
    chain = ChainPlanner([Fixed("rules", Plan(refusal=REFUSAL)), model])
    assert chain.plan(Q) is model_plan and chain.last == "model"
    firm = Plan(refusal="I can't measure the clearance under the table from its bounding box.")
    chain = ChainPlanner([Fixed("rules", firm), model])
    assert chain.plan(Q) is firm and model.calls == 1  # the model was not asked again
