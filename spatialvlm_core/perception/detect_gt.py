"""``ground-truth`` detector: exact instances of a synthetic frame (``Frame.ground_truth``)."""

from __future__ import annotations

import numpy as np

from spatialvlm_core.perception.boxes import box_from_mask
from spatialvlm_core.perception.labels import match_queries
from spatialvlm_core.perception.registry import DETECTORS
from spatialvlm_core.types import Detection, Detections, Frame


@DETECTORS.register("ground-truth", "gt")
class GroundTruthDetector:
    """One detection per visible object: box from its instance mask, the mask itself, score 1."""

    name = "ground-truth"

    def __init__(self, min_pixels: int = 1) -> None:
        if min_pixels < 1:
            raise ValueError(f"min_pixels must be >= 1, got {min_pixels}")
        self.min_pixels = min_pixels

    def detect(self, frame: Frame, queries: list[str] | None = None) -> Detections:
        gt = frame.ground_truth
        if gt is None:
            raise ValueError(
                f"frame {frame.image_id!r} has no ground_truth: the 'ground-truth' detector only works on "
                "synthetic frames (use 'yolox-onnx', 'owlv2' or 'grounding-dino' on real images)"
            )
        h, w = frame.rgb.shape[:2]
        inst = np.asarray(gt.instances)
        if inst.shape != (h, w):
            raise ValueError(f"ground_truth.instances shape {inst.shape} does not match the image {(h, w)}")
        objs = [o for o in gt.scene.objects if o.mask_id is not None and o.mask_id != 0]
        wanted = match_queries(sorted({o.name for o in objs}), queries)
        items = []
        for obj in objs:
            if obj.name not in wanted:
                continue
            mask = inst == obj.mask_id
            if int(mask.sum()) < self.min_pixels:
                continue  # not visible in this view
            box = box_from_mask(mask)
            assert box is not None
            items.append(Detection(label=obj.name, score=1.0, box_xyxy=box, mask=mask,
                                   query=wanted[obj.name], gt_id=obj.id))
        return Detections(image_id=frame.image_id, width=w, height=h, items=items, backend=self.name)
