"""Planners: the embedded rule planner (offline default) and an OpenAI-compatible endpoint planner."""

from spatial_agent.planners.base import Planner, PlannerError, PlannerOutputError, PlannerUnavailable
from spatial_agent.planners.rules import REFUSAL, RulePlanner

__all__ = ["REFUSAL", "OpenAIPlanner", "Planner", "PlannerError", "PlannerOutputError", "PlannerUnavailable",
           "RetryPolicy", "RulePlanner"]


def __getattr__(name: str):  # openai is imported only when the endpoint planner is used
    if name in ("OpenAIPlanner", "RetryPolicy"):
        from spatial_agent.planners import openai_planner  # openai SDK: optional, endpoint only

        return getattr(openai_planner, name)
    raise AttributeError(name)
