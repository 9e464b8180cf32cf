"""``ground-truth`` segmenter: exact masks from a synthetic frame's instance image, for detections with ``gt_id``."""

from __future__ import annotations

import numpy as np

from spatialvlm_core.perception.registry import SEGMENTERS
from spatialvlm_core.types import Detections, Frame


@SEGMENTERS.register("ground-truth", "gt")
class GroundTruthSegmenter:
    """Replaces each detection's mask with its object's instance mask (empty when the detection has no gt_id)."""

    name = "ground-truth"

    def segment(self, frame: Frame, detections: Detections) -> Detections:
        gt = frame.ground_truth
        if gt is None:
            raise ValueError(f"segmenter 'ground-truth' needs frame.ground_truth; frame {frame.image_id!r} has none")
        ids = {o.id: o.mask_id for o in gt.scene.objects}
        items = []
        for d in detections.items:
            mid = ids.get(d.gt_id or "")
            mask = gt.instances == mid if mid is not None else np.zeros(gt.instances.shape, bool)
            items.append(d.model_copy(update={"mask": mask}))
        return detections.model_copy(update={"items": items})
