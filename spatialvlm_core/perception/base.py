"""What each perception stage promises (structural protocols) and the camera-intrinsics prior."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from spatialvlm_core.types import CameraIntrinsics, Detections, Frame

# Field-of-view prior used when a frame carries no intrinsics. 60 deg is a typical phone/webcam
# horizontal FOV (SpatialVLM also assumes a fixed prior before metric depth).
DEFAULT_HFOV_DEG = 60.0


@runtime_checkable
class DepthEstimator(Protocol):
    def predict(self, frame: Frame) -> np.ndarray:
        """float32[H, W] metres, same size as ``frame.rgb`` (0 or NaN = invalid)."""
        ...


@runtime_checkable
class Detector(Protocol):
    def detect(self, frame: Frame, queries: list[str] | None = None) -> Detections:
        """Boxes (and labels) in ``frame``; ``queries`` restricts or names the classes sought."""
        ...


@runtime_checkable
class Segmenter(Protocol):
    def segment(self, frame: Frame, detections: Detections) -> Detections:
        """The same items, in the same order, with ``mask`` filled."""
        ...


@runtime_checkable
class ClipModel(Protocol):
    def embed_images(self, images: list[Any]) -> np.ndarray:
        """float32[N, D], rows L2-normalised; images are PIL images or uint8[H, W, 3] arrays."""
        ...

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """float32[N, D], rows L2-normalised."""
        ...


@runtime_checkable
class IntrinsicsEstimator(Protocol):
    def estimate(self, frame: Frame) -> CameraIntrinsics: ...


class FovPriorIntrinsics:
    """The frame's own intrinsics when given, else a pinhole from a horizontal-FOV prior (default 60 deg)."""

    def __init__(self, hfov_deg: float = DEFAULT_HFOV_DEG, prefer_given: bool = True) -> None:
        if not 1.0 < hfov_deg < 179.0:
            raise ValueError(f"hfov_deg must be in (1, 179), got {hfov_deg}")
        self.hfov_deg = float(hfov_deg)
        self.prefer_given = prefer_given

    def estimate(self, frame: Frame) -> CameraIntrinsics:
        if self.prefer_given and frame.intrinsics is not None:
            return frame.intrinsics
        w, h = frame.size
        return CameraIntrinsics.from_fov(w, h, self.hfov_deg)


def intrinsics_for(frame: Frame, hfov_deg: float = DEFAULT_HFOV_DEG) -> CameraIntrinsics:
    """Shorthand for ``FovPriorIntrinsics(hfov_deg).estimate(frame)``."""
    return FovPriorIntrinsics(hfov_deg).estimate(frame)
