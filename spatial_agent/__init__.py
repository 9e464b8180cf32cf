"""Spatial agent: a planner LLM that decomposes spatial questions into metric sub-queries."""

from spatial_agent.agent import SpatialAgent
from spatial_agent.arith import ArithError, evaluate
from spatial_agent.planners import PlannerError, RulePlanner
from spatial_agent.schema import AgentResult, Plan, Step, SubQuery
from spatial_agent.tools import GeometricTool, SpatialTool, VLMTool, render_question

__all__ = ["AgentResult", "ArithError", "GeometricTool", "Plan", "PlannerError", "RulePlanner", "SpatialAgent",
           "SpatialTool", "Step", "SubQuery", "VLMTool", "evaluate", "render_question"]
