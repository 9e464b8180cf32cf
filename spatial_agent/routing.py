"""The agent's default tool: which tool measures depends on what it is given.

- a ``Scene3D``: the geometric tool measures it exactly;
- a ``Frame`` with a depth map, or an image file with a depth map beside it (``depth.npy``/``depth.npz`` next to
  ``rgb.*``, or ``<stem>.depth.npy``/``.npz``; intrinsics and gravity from ``camera.json`` / ``<stem>.camera.json``
  when present): the geometric tool over its RGB-D reconstruction (depth ``"sensor"``);
- an image in the simulator's domain (the learned model's domain check passes, ``spatialvlm_core.domain``): the
  learned SpatialVLM (``VLMTool``), which was trained on such renders;
- any other photo: the geometric tool over ``reconstruct(frame)`` with a monocular metric depth backend
  (``depth_model``: ``"size-prior"``, which needs no weights, or a registry name or a local model directory).

``route(image)`` returns the tool, the input to give it and the reason, which the agent records as the first
step of its trace, so the result says which tool answered and why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spatial_agent.frames import load_frame
from spatial_agent.schema import SubQuery
from spatial_agent.tools import GeometricTool, SpatialTool, VLMTool, image_key
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR
from spatialvlm_core.perception import create_depth
from spatialvlm_core.types import Answer, Frame, Scene3D

DEFAULT_DEPTH_MODEL = "size-prior"  # metric depth from class size priors: works offline, no weights


@dataclass(frozen=True)
class Route:
    """Where one image goes: the tool, what to give it (a Frame with its depth map attached), and why."""

    tool: SpatialTool
    image: Any
    reason: str


def depth_files(path: Path) -> tuple[Path | None, Path | None]:
    """(depth map, camera JSON) stored beside an image file, each None when absent."""
    names = [f"{path.stem}.depth.npy", f"{path.stem}.depth.npz"]
    cams = [f"{path.stem}.camera.json"]
    if path.stem == "rgb":  # a dataset frame folder: rgb.*, depth.*, camera.json
        names += ["depth.npy", "depth.npz"]
        cams += ["camera.json"]
    depth = next((path.parent / n for n in names if (path.parent / n).is_file()), None)
    camera = next((path.parent / c for c in cams if (path.parent / c).is_file()), None)
    return depth, camera


def frame_with_depth(image: Any) -> Frame | None:
    """The image as a Frame carrying its depth map (a Frame's own, or the files beside an image path), else None."""
    if isinstance(image, Frame):
        return image if image.depth is not None else None
    if not isinstance(image, str | Path):
        return None
    depth_path, camera = depth_files(Path(image))
    if depth_path is None:
        return None
    from spatialvlm_core.reconstruct import load_depth, load_gravity, load_intrinsics  # scipy: see _recon

    frame = load_frame(image)
    w, h = frame.size
    update: dict[str, Any] = {"depth": load_depth(depth_path)}
    if camera is not None:
        update.update(intrinsics=load_intrinsics(camera, w, h), gravity_up=load_gravity(camera))
    try:
        return Frame.model_validate({**dict(frame), **update})
    except ValueError as e:
        raise ValueError(f"{image}: the depth map {depth_path} does not fit the image: {e}") from e


def depth_backend(spec: str) -> Any:
    """A depth backend from ``--depth-model``: a registry name (``size-prior``, ``depth-anything-v2-metric``, ...)
    or a local directory holding a metric Depth Anything V2 checkpoint."""
    if Path(spec).is_dir():
        return create_depth("depth-anything-v2-metric", model=spec)
    return spec


class RoutingTool:
    """Picks the tool per image (see the module docstring); ``SpatialAgent``'s default."""

    name = "auto"

    def __init__(self, vlm: Any = None, depth_model: str = DEFAULT_DEPTH_MODEL,
                 reconstruct: Callable[..., Scene3D] | None = None) -> None:
        """``vlm``: a ``SpatialVLM`` (anything with ``ask`` and ``domain_reason``), a callable returning one (loaded
        on the first image that needs it), or None for the shipped model when it is installed."""
        self._vlm = vlm
        self.depth_model = depth_model
        self._reconstruct = reconstruct
        self._lock = threading.RLock()  # a tool's factory may load the depth backend under it
        self._routes: dict[str, Route] = {}
        self._tools: dict[str, SpatialTool] = {}
        self._depth: Any = None

    # -- the tools, built once
    def _get_tool(self, key: str, make: Callable[[], SpatialTool]) -> SpatialTool:
        with self._lock:
            if key not in self._tools:
                self._tools[key] = make()
            return self._tools[key]

    def _recon(self, depth: Any) -> Callable[[Any], Scene3D]:
        def run(frame: Any) -> Scene3D:
            if self._reconstruct is not None:
                return self._reconstruct(frame, depth=depth)
            from spatialvlm_core.reconstruct import reconstruct  # scipy (~0.25 s): keeps --help fast

            return reconstruct(frame, depth=depth)  # detector and segmenter: "auto" (ground truth / yolox-onnx)
        return run

    def vlm(self) -> Any:
        """The learned model, loaded on first use; None when none is installed."""
        with self._lock:
            if self._vlm is None:
                self._vlm = SpatialVLM.load() if DEFAULT_MODEL_DIR.is_dir() else False
            elif callable(self._vlm) and not hasattr(self._vlm, "ask"):
                self._vlm = self._vlm()
            return self._vlm or None

    # -- routing
    def route(self, image: Any) -> Route:
        if isinstance(image, Scene3D):
            return Route(self._get_tool("scene", GeometricTool), image,
                         "a Scene3D was given: the geometric tool measures its 3D boxes exactly")
        key = image_key(image)
        with self._lock:
            if key in self._routes:
                return self._routes[key]
        r = self._decide(image)
        with self._lock:
            self._routes[key] = r
        return r

    def _decide(self, image: Any) -> Route:
        rgbd = frame_with_depth(image)
        if rgbd is not None:
            d = rgbd.depth
            cover = float(np.mean(np.isfinite(d) & (d > 0))) if d is not None else 0.0
            tool = self._get_tool("sensor", lambda: GeometricTool(reconstruct=self._recon("sensor")))
            return Route(tool, rgbd, f"the image comes with a metric depth map ({100 * cover:.0f} % of pixels): "
                                     "the geometric tool over its RGB-D reconstruction (depth 'sensor')")
        frame = load_frame(image)
        vlm = self.vlm()
        why = "no learned model is installed"
        if vlm is not None:
            scores = vlm.domain_scores([frame.rgb]) if hasattr(vlm, "domain_scores") else None
            if scores is None:
                why = "the learned model has no domain calibration, so it cannot tell whether the image suits it"
            else:
                thr = vlm.domain.threshold
                if scores[0] <= thr:
                    tool = self._get_tool("vlm", lambda: VLMTool(vlm))
                    return Route(tool, image, f"the image looks like the simulator renders the learned model was "
                                              f"trained on (domain score {scores[0]:.1f} <= {thr:.1f}): the "
                                              f"learned SpatialVLM ({tool.name}) answers")
                why = (f"the image looks unlike the simulator renders the learned model was trained on (domain "
                       f"score {scores[0]:.1f} > {thr:.1f})")
        name = self.depth_model if isinstance(self.depth_model, str) else type(self.depth_model).__name__
        backend = self._depth_backend()  # outside _get_tool: no lock taken while the lock is held
        tool = self._get_tool(f"depth:{name}", lambda: GeometricTool(reconstruct=self._recon(backend)))
        return Route(tool, frame, f"{why}: the geometric tool over a reconstruction with monocular depth {name!r}")

    def _depth_backend(self) -> Any:
        with self._lock:
            if self._depth is None:
                self._depth = depth_backend(self.depth_model) if isinstance(self.depth_model, str) else self.depth_model
            return self._depth

    # -- SpatialTool
    def ask(self, image: Any, question: str) -> Answer:
        r = self.route(image)
        return r.tool.ask(r.image, question)

    def measure(self, image: Any, query: SubQuery) -> Answer:
        r = self.route(image)
        return r.tool.measure(r.image, query)
