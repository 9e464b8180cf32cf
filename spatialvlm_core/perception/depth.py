"""Depth backends: metric monocular models via transformers, and the frame's own sensor depth.

``depth-anything-v2-metric`` and ``zoedepth`` predict metres. ``dpt`` models (Intel/dpt-*) predict
relative inverse depth; the backend turns it into depth as ``scale / disparity`` (metric only up to
``scale``) unless ``inverse=False`` for a DPT fine-tuned on metric depth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.perception._common import (
    InMemoryModel,
    load_image_processor,
    load_pretrained,
    resolve_source,
    to_pil,
    torch_device,
)
from spatialvlm_core.perception.registry import DEPTH
from spatialvlm_core.types import Frame


@DEPTH.register("sensor", "ground-truth")
class SensorDepth:
    """The depth the frame came with (RGB-D sensor or synthetic renderer)."""

    name = "sensor"

    def predict(self, frame: Frame) -> np.ndarray:
        if frame.depth is None:
            raise ValueError(
                f"frame {frame.image_id!r} has no depth: the 'sensor' depth backend needs Frame.depth "
                "(use a monocular backend such as 'depth-anything-v2-metric' instead)"
            )
        return np.asarray(frame.depth, dtype=np.float32)


class HFDepth(InMemoryModel):
    """A transformers depth-estimation model plus its image processor."""

    name = "hf-depth"
    default_model = ""
    model_class = "AutoModelForDepthEstimation"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "cpu",
        min_depth: float = 1e-3,
        max_depth: float | None = None,
        inverse: bool = False,
        scale: float = 1.0,
    ) -> None:
        import transformers

        source = resolve_source(model or self.default_model, f"{self.name} depth model")
        model_cls = getattr(transformers, self.model_class)
        net = load_pretrained(model_cls, source, f"{self.name} depth model")
        processor = load_image_processor(transformers.AutoImageProcessor, source, f"{self.name} image processor")
        self._setup(net, processor, device=device, min_depth=min_depth, max_depth=max_depth,
                    inverse=inverse, scale=scale, source=source)

    @classmethod
    def from_model(cls, model: Any, processor: Any, **kwargs: Any) -> HFDepth:
        """Wrap an in-memory model and processor (tests, notebooks)."""
        kwargs.setdefault("source", "<in-memory>")
        return super().from_model(model, processor, **kwargs)

    def _setup(
        self,
        model: Any,
        processor: Any,
        *,
        device: str = "cpu",
        min_depth: float = 1e-3,
        max_depth: float | None = None,
        inverse: bool = False,
        scale: float = 1.0,
        source: str = "",
    ) -> None:
        if min_depth <= 0:
            raise ValueError(f"min_depth must be > 0, got {min_depth}")
        if max_depth is not None and max_depth <= min_depth:
            raise ValueError(f"max_depth ({max_depth}) must exceed min_depth ({min_depth})")
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.device = torch_device(device)
        self.model = model.to(self.device).eval()
        self.processor = processor
        self.min_depth, self.max_depth = float(min_depth), max_depth
        self.inverse, self.scale = inverse, float(scale)
        self.source = source

    def predict(self, frame: Frame) -> np.ndarray:
        import torch

        h, w = frame.rgb.shape[:2]
        inputs = self.processor(images=to_pil(frame.rgb), return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items() if hasattr(v, "to")}
        with torch.inference_mode():
            pred = self.model(**inputs).predicted_depth
        pred = pred.reshape(1, 1, *pred.shape[-2:]).float()
        depth = self._to_frame_size(pred, h, w)
        if self.inverse:
            depth = self.scale / np.maximum(depth, 1e-6)
        elif self.scale != 1.0:
            depth = depth * self.scale
        hi = self.max_depth if self.max_depth is not None else np.inf
        # Bicubic resampling overshoots; keep every pixel a valid positive depth.
        return np.clip(np.nan_to_num(depth, nan=self.min_depth), self.min_depth, hi).astype(np.float32)

    def _to_frame_size(self, pred: Any, h: int, w: int) -> np.ndarray:
        import torch.nn.functional as F

        out = F.interpolate(pred, size=(h, w), mode="bicubic", align_corners=False)
        return out[0, 0].cpu().numpy()


@DEPTH.register("depth-anything-v2-metric", "depth-anything")
class DepthAnythingMetric(HFDepth):
    name = "depth-anything-v2-metric"
    default_model = "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf"


@DEPTH.register("dpt")
class DPTDepth(HFDepth):
    name = "dpt"
    default_model = "Intel/dpt-hybrid-midas"
    model_class = "DPTForDepthEstimation"

    def __init__(self, model: str | Path | None = None, *, inverse: bool = True, **kwargs: Any) -> None:
        super().__init__(model, inverse=inverse, **kwargs)

    @classmethod
    def from_model(cls, model: Any, processor: Any, **kwargs: Any) -> HFDepth:
        kwargs.setdefault("inverse", True)
        return super().from_model(model, processor, **kwargs)


@DEPTH.register("zoedepth")
class ZoeDepth(HFDepth):
    name = "zoedepth"
    default_model = "Intel/zoedepth-nyu-kitti"
    model_class = "ZoeDepthForDepthEstimation"

    def _to_frame_size(self, pred: Any, h: int, w: int) -> np.ndarray:
        import torch.nn.functional as F

        # The ZoeDepth processor reflect-pads sqrt(size/2)*3 pixels on each side; undo it
        # (same rule as the processor's own post-processing, which needs torchvision).
        if not getattr(self.processor, "do_pad", False):
            return super()._to_frame_size(pred, h, w)
        ph, pw = int(np.sqrt(h / 2) * 3), int(np.sqrt(w / 2) * 3)
        out = F.interpolate(pred, size=(h + 2 * ph, w + 2 * pw), mode="bicubic", align_corners=False)
        return out[0, 0, ph : ph + h, pw : pw + w].cpu().numpy()
