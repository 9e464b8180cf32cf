"""Box-prompted SAM segmenters: ``sam`` (segment-anything package) and ``sam-hf`` (transformers SamModel).

``sam`` needs the segment-anything package, which imports torchvision; both are imported only when the
backend is built, and a clear ImportError says what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.perception._common import (
    InMemoryModel,
    load_pretrained,
    resolve_source,
    to_pil,
    torch_device,
)
from spatialvlm_core.perception.registry import SEGMENTERS
from spatialvlm_core.types import Detection, Detections, Frame


def _check_sizes(frame: Frame, detections: Detections) -> None:
    h, w = frame.rgb.shape[:2]
    if (detections.width, detections.height) != (w, h):
        raise ValueError(f"detections are for {detections.width}x{detections.height}, the frame is {w}x{h}")


def _with_masks(detections: Detections, masks: list[np.ndarray]) -> Detections:
    items: list[Detection] = [d.model_copy(update={"mask": np.asarray(m, dtype=bool)})
                              for d, m in zip(detections.items, masks, strict=True)]
    return detections.model_copy(update={"items": items})


def _import_segment_anything() -> Any:
    try:
        import segment_anything
    except Exception as exc:  # ImportError, or torchvision's RuntimeError on missing native ops
        raise ImportError(
            "the 'sam' segmenter needs the segment-anything package and a working torchvision "
            f"(pip install segment-anything): {exc}"
        ) from exc
    return segment_anything


@SEGMENTERS.register("sam", "segment-anything")
class SamSegmenter(InMemoryModel):
    name = "sam"

    def __init__(self, checkpoint: str | Path, model_type: str = "vit_b", *, device: str = "cpu") -> None:
        sa = _import_segment_anything()
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"SAM checkpoint not found: {path}")
        if model_type not in sa.sam_model_registry:
            raise ValueError(f"unknown SAM model_type {model_type!r}; known: {sorted(sa.sam_model_registry)}")
        self._setup(sa.sam_model_registry[model_type](checkpoint=str(path)), device=device)


    def _setup(self, sam: Any, *, device: str = "cpu") -> None:
        sa = _import_segment_anything()
        self.device = torch_device(device)
        self.predictor = sa.SamPredictor(sam.to(self.device).eval())

    def segment(self, frame: Frame, detections: Detections) -> Detections:
        _check_sizes(frame, detections)
        if not detections.items:
            return detections
        self.predictor.set_image(frame.rgb, image_format="RGB")
        masks = []
        for det in detections.items:
            m, _, _ = self.predictor.predict(box=np.asarray(det.box_xyxy, dtype=np.float32), multimask_output=False)
            masks.append(m[0])
        return _with_masks(detections, masks)


@SEGMENTERS.register("sam-hf")
class SamHFSegmenter(InMemoryModel):
    name = "sam-hf"
    default_model = "facebook/sam-vit-base"

    def __init__(self, model: str | Path | None = None, *, device: str = "cpu", mask_threshold: float = 0.0) -> None:
        import transformers

        source = resolve_source(model or self.default_model, "SAM model")
        net = load_pretrained(transformers.SamModel, source, "SAM model")
        processor = load_pretrained(transformers.SamProcessor, source, "SAM processor")
        self._setup(net, processor, device=device, mask_threshold=mask_threshold)


    def _setup(self, model: Any, processor: Any, *, device: str = "cpu", mask_threshold: float = 0.0) -> None:
        self.device = torch_device(device)
        self.model = model.to(self.device).eval()
        self.processor = processor
        self.mask_threshold = float(mask_threshold)

    def segment(self, frame: Frame, detections: Detections) -> Detections:
        import torch

        _check_sizes(frame, detections)
        if not detections.items:
            return detections
        boxes = [[list(map(float, d.box_xyxy)) for d in detections.items]]
        inputs = self.processor(images=to_pil(frame.rgb), input_boxes=boxes, return_tensors="pt")
        model_inputs = {k: v.to(self.device) for k, v in inputs.items()
                        if k in ("pixel_values", "input_boxes") and hasattr(v, "to")}
        with torch.inference_mode():
            out = self.model(**model_inputs, multimask_output=False)
        masks = self.processor.image_processor.post_process_masks(
            out.pred_masks.cpu(), inputs["original_sizes"], inputs["reshaped_input_sizes"],
            mask_threshold=self.mask_threshold, binarize=True,
        )[0]  # [boxes, 1, H, W]
        return _with_masks(detections, [m[0].numpy() for m in masks])
