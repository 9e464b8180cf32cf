"""Perception backends behind small protocols, chosen by name from registries.

    from spatialvlm_core import perception
    det = perception.create_detector("yolox-onnx")
    depth = perception.create_depth("depth-anything-v2-metric", model="path/or/hub-id")

Importing this package registers every backend but imports neither torch nor transformers: each
backend imports its heavy dependencies in its constructor.
"""

from __future__ import annotations

from spatialvlm_core.perception import (  # noqa: F401  (imported for their registrations)
    clip_backends,
    depth,
    depth_size_prior,
    detect_boxes,
    detect_gt,
    detect_hf,
    detect_yolox,
    segment_box_depth,
    segment_gt,
    segment_region_grow,
    segment_sam,
)
from spatialvlm_core.perception.base import (
    DEFAULT_HFOV_DEG,
    ClipModel,
    DepthEstimator,
    Detector,
    FovPriorIntrinsics,
    IntrinsicsEstimator,
    Segmenter,
    intrinsics_for,
)
from spatialvlm_core.perception.registry import (
    CLIP,
    DEPTH,
    DETECTORS,
    SEGMENTERS,
    Registry,
    create_clip,
    create_depth,
    create_detector,
    create_segmenter,
)

__all__ = [
    "CLIP",
    "DEFAULT_HFOV_DEG",
    "DEPTH",
    "DETECTORS",
    "SEGMENTERS",
    "ClipModel",
    "DepthEstimator",
    "Detector",
    "FovPriorIntrinsics",
    "IntrinsicsEstimator",
    "Registry",
    "Segmenter",
    "create_clip",
    "create_depth",
    "create_detector",
    "create_segmenter",
    "intrinsics_for",
]
