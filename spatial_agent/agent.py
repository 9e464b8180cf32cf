"""SpatialAgent: a planner, a spatial tool and the LangGraph that ties them together."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from spatial_agent.frames import load_frame
from spatial_agent.graph import MAX_WORKERS, AgentState, build_graph
from spatial_agent.image_refs import ImageRegistry
from spatial_agent.planners.base import Planner
from spatial_agent.planners.rules import RulePlanner
from spatial_agent.routing import DEFAULT_DEPTH_MODEL, RoutingTool
from spatial_agent.schema import AgentResult
from spatial_agent.tools import SpatialTool
from spatialvlm_core.types import MAX_QUESTION_CHARS, Scene3D


def reconstruct_image(image: Any, boxes: Any = None) -> Scene3D:
    """Scene3D of an image with ``spatialvlm_core.reconstruct``'s automatic backends (ground truth on synthetic
    frames, else the given labelled ``boxes`` or the COCO detector; sensor depth when the frame has it, else
    size priors), so real photos work offline."""
    if isinstance(image, Scene3D):
        return image
    from spatialvlm_core.reconstruct import reconstruct  # scipy (~0.25 s): keeps --help fast

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

    ``checkpointer`` (a LangGraph saver: ``InMemorySaver``, the sqlite saver) stores each question's run as a
    thread: ``ask(..., thread_id=...)`` names it and ``resume(thread_id)`` finishes a run that stopped (an
    exception, a killed process) without measuring again what was measured. ``images`` resolves the image
    references the state holds; share it between agents to resume threads over in-memory images (file paths
    resume anywhere).
    """

    def __init__(self, tool: SpatialTool | None = None, planner: Planner | None = None,
                 default_tool: Callable[[], SpatialTool] = default_tool, max_replans: int = 1,
                 checkpointer: BaseCheckpointSaver | None = None, images: ImageRegistry | None = None) -> None:
        self._tool = tool
        self._default_tool = default_tool
        self.planner = planner or RulePlanner()
        self.max_replans = max_replans
        self.checkpointer = checkpointer
        self.images = images if images is not None else ImageRegistry()
        self._graph: Any = None
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
                self._graph = build_graph(self.planner, tool, self.max_replans, images=self.images,
                                          checkpointer=self.checkpointer)
            return self._graph

    def _config(self, thread_id: str | None) -> dict[str, Any]:
        config: dict[str, Any] = {"recursion_limit": 25, "max_concurrency": MAX_WORKERS}
        if thread_id is not None:
            config["configurable"] = {"thread_id": thread_id}
        return config

    def ask(self, image: Any, question: str, thread_id: str | None = None) -> AgentResult:
        """Answer ``question`` about ``image`` (path, PIL image, array, Frame, or a Scene3D for the geometric tool).

        With a checkpointer the run is stored as thread ``thread_id`` (default: a new one); a thread holds one
        question, so an id already used is refused (continue it with :meth:`resume`)."""
        if isinstance(image, str | Path) and not Path(image).is_file():
            raise FileNotFoundError(f"image not found: {image}")
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValueError(f"question is {len(question)} characters long; at most {MAX_QUESTION_CHARS} are accepted")
        if thread_id is not None and self.checkpointer is None:
            raise ValueError("thread_id needs a checkpointer: SpatialAgent(checkpointer=InMemorySaver())")
        t0 = time.perf_counter()
        graph = self.graph
        if self.checkpointer is not None:
            thread_id = thread_id or uuid.uuid4().hex
            if graph.get_state(self._config(thread_id)).values:
                raise ValueError(f"thread {thread_id!r} already holds a question; resume it with "
                                 "resume(thread_id) or ask in a new thread")
        state = AgentState(question=question, image=self.images.put(image))
        out = graph.invoke(state, self._config(thread_id))
        return self._result(out, t0)

    def resume(self, thread_id: str) -> AgentResult:
        """Finish the checkpointed run of ``thread_id`` from its last stored step (a finished one is returned as
        it is). Sub-queries measured before the stop are not measured again."""
        if self.checkpointer is None:
            raise ValueError("resume needs a checkpointer: SpatialAgent(checkpointer=InMemorySaver())")
        t0 = time.perf_counter()
        config = self._config(thread_id)
        snapshot = self.graph.get_state(config)
        if not snapshot.values:
            raise ValueError(f"no checkpointed thread {thread_id!r} in this agent's checkpointer")
        out = self.graph.invoke(None, config) if snapshot.next else snapshot.values
        return self._result(out, t0)

    @staticmethod
    def _result(out: Any, t0: float) -> AgentResult:
        s = AgentState.model_validate(out) if isinstance(out, dict) else out
        if s.answer is None:
            raise RuntimeError("the agent graph stopped before answering (an interrupt?): resume the thread")
        ok = not s.failure
        return AgentResult(
            answer=s.answer, decision=s.decision if ok else None, undecided=s.undecided and ok,
            interval=s.interval if ok else None, level=s.level if ok else None,
            value=s.value if ok else None, unit=s.unit if ok else None, plan=s.plan,
            sub_answers=s.sub_answers, steps=s.steps, planner_calls=s.planner_calls,
            latency_s=time.perf_counter() - t0, error=s.failure,
        )
