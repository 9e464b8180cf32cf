"""What the weight-free, depth-reading segmenters share: where their depth comes from and the input checks."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from spatialvlm_core.perception.registry import create_depth
from spatialvlm_core.types import Detections, Frame


class DepthSegmenter:
    """Base of ``box-depth`` and ``region-grow``: depth from ``segment(..., depth=)``, else the ``depth``
    estimator given here (a registry name or an object with ``predict(frame)``), else ``frame.depth``."""

    name: ClassVar[str] = ""
    params_class: ClassVar[type[BaseModel]]

    def __init__(self, depth: Any = None, keep_existing: bool = False, **params: Any) -> None:
        if isinstance(depth, str):
            depth = create_depth(depth)
        self.depth_estimator = depth
        self.keep_existing = keep_existing
        self.params = self.params_class(**params)

    def _depth(self, frame: Frame, depth: np.ndarray | None) -> np.ndarray:
        if depth is None and self.depth_estimator is not None:
            depth = self.depth_estimator.predict(frame)
        if depth is None:
            depth = frame.depth
        if depth is None:
            raise ValueError(
                f"frame {frame.image_id!r} has no depth: the {self.name!r} segmenter needs frame.depth, a depth "
                f"map argument, or a depth estimator ({type(self).__name__}(depth='depth-anything-v2-metric'))"
            )
        depth = np.asarray(depth, dtype=np.float32)
        if depth.shape != frame.rgb.shape[:2]:
            raise ValueError(f"depth shape {depth.shape} does not match the image {frame.rgb.shape[:2]}")
        return depth

    def _needs_work(self, frame: Frame, detections: Detections) -> bool:
        """Checks the detections fit the frame; False when every mask is kept as it is."""
        h, w = frame.rgb.shape[:2]
        if (detections.width, detections.height) != (w, h):
            raise ValueError(f"detections are for {detections.width}x{detections.height}, the frame is {w}x{h}")
        return not (self.keep_existing and all(d.mask is not None for d in detections.items))
