"""SpatialAgent: a planner, a spatial tool and the LangGraph that ties them together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spatial_agent.graph import AgentState, build_graph
from spatial_agent.planners.base import Planner
from spatial_agent.planners.rules import RulePlanner
from spatial_agent.schema import AgentResult
from spatial_agent.tools import GeometricTool, SpatialTool, VLMTool
from spatialvlm_core.types import Frame, Scene3D


def load_frame(image: Any) -> Frame:
    """A ``Frame`` from a path, PIL image, uint8 array or Frame."""
    if isinstance(image, Frame):
        return image
    import numpy as np

    if isinstance(image, str | Path):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image not found: {path}")
        from PIL import Image

        with Image.open(path) as im:
            return Frame(image_id=path.stem, rgb=np.asarray(im.convert("RGB")), source=str(path))
    if hasattr(image, "convert"):
        return Frame(image_id="image", rgb=np.asarray(image.convert("RGB")))
    return Frame(image_id="image", rgb=np.asarray(image))


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


def default_tool() -> SpatialTool:
    """The learned SpatialVLM when a default checkpoint ships, else the geometric tool over a reconstruction."""
    try:
        from spatialvlm_core.infer import DEFAULT_MODEL_DIR, SpatialVLM

        if Path(DEFAULT_MODEL_DIR).is_dir():
            return VLMTool(SpatialVLM.load())
    except ImportError:
        pass
    return GeometricTool(reconstruct=reconstruct_image)


class SpatialAgent:
    """Answers spatial questions about an image: plan sub-queries, measure them with the tool, settle with arith.

    ``tool``/``planner`` default to ``default_tool()`` (built lazily, on the first question) and the embedded
    :class:`RulePlanner`.
    """

    def __init__(self, tool: SpatialTool | None = None, planner: Planner | None = None,
                 default_tool: Callable[[], SpatialTool] = default_tool, max_replans: int = 1) -> None:
        self._tool = tool
        self._default_tool = default_tool
        self.planner = planner or RulePlanner()
        self.max_replans = max_replans
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
                self._graph = build_graph(self.planner, tool, self.max_replans)
            return self._graph

    def ask(self, image: Any, question: str) -> AgentResult:
        """Answer ``question`` about ``image`` (path, PIL image, array, Frame, or a Scene3D for the geometric tool)."""
        if isinstance(image, str | Path) and not Path(image).is_file():
            raise FileNotFoundError(f"image not found: {image}")
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        t0 = time.perf_counter()
        out = self.graph.invoke(AgentState(question=question, image=image), {"recursion_limit": 25})
        s = AgentState.model_validate(out) if isinstance(out, dict) else out
        return AgentResult(
            answer=s.answer or "", decision=s.decision if not s.failure else None,
            undecided=s.undecided and not s.failure, interval=s.interval if not s.failure else None,
            level=s.level if not s.failure else None,
            value=s.value if not s.failure else None, unit=s.unit if not s.failure else None, plan=s.plan,
            sub_answers=s.sub_answers, steps=s.steps, planner_calls=s.planner_calls,
            latency_s=time.perf_counter() - t0, error=s.failure,
        )
