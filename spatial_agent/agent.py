"""SpatialAgent: a planner, a spatial tool and the LangGraph that ties them together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spatial_agent.frames import load_frame
from spatial_agent.graph import AgentState, build_graph
from spatial_agent.planners.base import Planner
from spatial_agent.planners.rules import RulePlanner
from spatial_agent.routing import DEFAULT_DEPTH_MODEL, RoutingTool
from spatial_agent.schema import AgentResult, Step
from spatial_agent.tools import SpatialTool
from spatialvlm_core.types import MAX_QUESTION_CHARS, Scene3D


def reconstruct_image(image: Any, boxes: Any = None) -> Scene3D:
    """Scene3D of an image with ``spatialvlm_core.reconstruct``'s automatic backends (ground truth on synthetic
    frames, else the given labelled ``boxes`` or the COCO detector; sensor depth when the frame has it, else
    size priors), so real photos work offline."""
    if isinstance(image, Scene3D):
        return image
    try:
        from spatialvlm_core.reconstruct import reconstruct
    except ImportError as e:  # pragma: no cover - depends on the installed core
        raise RuntimeError("no reconstruction available in spatialvlm_core; pass a scene (--scene) or a tool") from e
    return reconstruct(load_frame(image), boxes=boxes)


def default_tool(depth_model: str = DEFAULT_DEPTH_MODEL) -> SpatialTool:
    """A ``RoutingTool``: per image, the geometric tool (a Scene3D; an RGB-D frame; a photo, with monocular depth
    ``depth_model``) or the learned SpatialVLM (an image in its simulator domain); see ``spatial_agent.routing``."""
    return RoutingTool(depth_model=depth_model)


class SpatialAgent:
    """Answers spatial questions about an image: plan sub-queries, measure them with the tool, settle with arith.

    ``tool``/``planner`` default to ``default_tool()`` (built lazily, on the first question) and the embedded
    :class:`RulePlanner`. A tool with ``route(image)`` (the default ``RoutingTool``) picks the tool per image; the
    trace's first step (node "route") says which tool answers and why.
    """

    def __init__(self, tool: SpatialTool | None = None, planner: Planner | None = None,
                 default_tool: Callable[[], SpatialTool] = default_tool, max_replans: int = 1) -> None:
        self._tool = tool
        self._default_tool = default_tool
        self.planner = planner or RulePlanner()
        self.max_replans = max_replans
        self._graph: Any = None
        self._routed_graphs: dict[int, Any] = {}  # per tool a router picked
        self._lock = threading.Lock()

    @property
    def tool(self) -> SpatialTool:
        with self._lock:
            if self._tool is None:
                self._tool = self._default_tool()
            return self._tool

    @property
    def graph(self) -> Any:
        tool = self.tool
        with self._lock:
            if self._graph is None:
                self._graph = build_graph(self.planner, tool, self.max_replans)
            return self._graph

    def _routed(self, image: Any) -> tuple[Any, Any, list[Step]]:
        """(graph, image for its tool, trace steps so far): a routing tool's pick for this image, else the tool."""
        tool = self.tool
        if not callable(getattr(tool, "route", None)):
            return self.graph, image, []
        t0 = time.perf_counter()
        r = tool.route(image)  # type: ignore[attr-defined]
        step = Step(node="route", detail=f"tool={getattr(r.tool, 'name', type(r.tool).__name__)}: {r.reason}",
                    seconds=time.perf_counter() - t0)
        with self._lock:
            if id(r.tool) not in self._routed_graphs:
                self._routed_graphs[id(r.tool)] = build_graph(self.planner, r.tool, self.max_replans)
            return self._routed_graphs[id(r.tool)], r.image, [step]

    def ask(self, image: Any, question: str) -> AgentResult:
        """Answer ``question`` about ``image`` (path, PIL image, array, Frame, or a Scene3D for the geometric tool)."""
        if isinstance(image, str | Path) and not Path(image).is_file():
            raise FileNotFoundError(f"image not found: {image}")
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValueError(f"question is {len(question)} characters long; at most {MAX_QUESTION_CHARS} are accepted")
        t0 = time.perf_counter()
        graph, image, routed = self._routed(image)
        out = graph.invoke(AgentState(question=question, image=image, steps=routed), {"recursion_limit": 25})
        s = AgentState.model_validate(out) if isinstance(out, dict) else out
        return AgentResult(
            answer=s.answer or "", decision=s.decision if not s.failure else None,
            undecided=s.undecided and not s.failure, interval=s.interval if not s.failure else None,
            level=s.level if not s.failure else None,
            value=s.value if not s.failure else None, unit=s.unit if not s.failure else None, plan=s.plan,
            sub_answers=s.sub_answers, steps=s.steps, planner_calls=s.planner_calls,
            latency_s=time.perf_counter() - t0, error=s.failure,
        )
