"""Typed values passed between pipeline stages (see DESIGN.md).

Conventions, fixed for the whole toolkit:
- Lengths are metres, angles radians (unless a field name says ``_deg``).
- Camera frame: OpenCV (x right, y down, z forward).
- Canonical (world) frame: gravity-aligned, +z up, floor at z = 0. A ``Scene3D`` whose
  ``canonical`` flag is False is still expressed in the camera frame (no credible floor found).
- Image arrays: rgb ``uint8[H, W, 3]``, depth ``float32[H, W]`` metres (0 or NaN = invalid),
  masks ``bool[H, W]``.

numpy arrays serialise to JSON as ``{"dtype", "shape", "b64"}`` so every value round-trips
through ``model_dump_json`` / ``model_validate_json``.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

SCHEMA_VERSION = "1"
# Stated intervals cover the truth with this probability (evals check it: ``evals/real.py`` coverage).
INTERVAL_LEVEL = 0.8
# A spatial question is a sentence or two; longer input is refused rather than answered with garbage.
MAX_QUESTION_CHARS = 500


# --------------------------------------------------------------------------- numpy in pydantic
def _to_ndarray(v: Any) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, dict) and {"dtype", "shape", "b64"} <= set(v):
        buf = base64.b64decode(v["b64"])
        return np.frombuffer(buf, dtype=np.dtype(v["dtype"])).reshape(v["shape"]).copy()
    return np.asarray(v)


def _from_ndarray(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.str, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


NDArray = Annotated[
    np.ndarray,
    BeforeValidator(_to_ndarray),
    PlainSerializer(_from_ndarray, when_used="json"),
]

Vec3 = tuple[float, float, float]
Vec2 = tuple[float, float]


def _finite(values: Any, field: str) -> None:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field} must be finite, got {values!r}")


class _Model(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", validate_assignment=False)


# --------------------------------------------------------------------------- camera
class CameraIntrinsics(_Model):
    """Pinhole intrinsics in pixels for an image of ``width`` x ``height``."""

    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    width: int = Field(gt=0)
    height: int = Field(gt=0)

    @model_validator(mode="after")
    def _check(self) -> CameraIntrinsics:
        _finite([self.fx, self.fy, self.cx, self.cy], "intrinsics")
        return self

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float = 60.0) -> CameraIntrinsics:
        """Intrinsics from a horizontal field of view (square pixels, centred principal point)."""
        if not 1.0 < hfov_deg < 179.0:
            raise ValueError(f"hfov_deg must be in (1, 179), got {hfov_deg}")
        f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(fx=f, fy=f, cx=width / 2.0, cy=height / 2.0, width=width, height=height)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2 * math.atan(self.width / (2 * self.fx)))


class CameraPose(_Model):
    """``world_from_camera``: 4x4 rigid transform, camera frame is OpenCV."""

    world_from_camera: list[list[float]]

    @field_validator("world_from_camera")
    @classmethod
    def _check(cls, v: list[list[float]]) -> list[list[float]]:
        m = np.asarray(v, dtype=float)
        if m.shape != (4, 4):
            raise ValueError(f"world_from_camera must be 4x4, got shape {m.shape}")
        _finite(m, "world_from_camera")
        r = m[:3, :3]
        if not np.allclose(r @ r.T, np.eye(3), atol=1e-4) or not np.allclose(m[3], [0, 0, 0, 1]):
            raise ValueError("world_from_camera must be a rigid transform (orthonormal rotation, last row 0 0 0 1)")
        return v

    @classmethod
    def from_matrix(cls, m: np.ndarray) -> CameraPose:
        return cls(world_from_camera=np.asarray(m, dtype=float).tolist())

    def matrix(self) -> np.ndarray:
        return np.asarray(self.world_from_camera, dtype=np.float64)

    @property
    def position(self) -> np.ndarray:
        return self.matrix()[:3, 3].copy()

    @property
    def forward(self) -> np.ndarray:
        """Optical axis (+z of the camera) in world coordinates."""
        return self.matrix()[:3, 2].copy()

    @property
    def right(self) -> np.ndarray:
        """Image +x direction in world coordinates."""
        return self.matrix()[:3, 0].copy()


# --------------------------------------------------------------------------- images
class Frame(_Model):
    """One input image, optionally with metric depth and intrinsics."""

    image_id: str
    rgb: NDArray
    depth: NDArray | None = None
    intrinsics: CameraIntrinsics | None = None
    source: str | None = None  # file path or URI the frame was read from
    # Known world-up direction in OpenCV camera coordinates (a robot's IMU, a dataset's gravity): when set,
    # lifting uses it instead of searching for the floor's normal.
    gravity_up: Vec3 | None = None
    # Synthetic frames carry their exact answers; only "ground-truth"/"sensor" backends and evals read it.
    ground_truth: GroundTruth | None = None

    @field_validator("rgb")
    @classmethod
    def _rgb(cls, v: np.ndarray) -> np.ndarray:
        if v.ndim != 3 or v.shape[2] != 3:
            raise ValueError(f"rgb must be HxWx3, got shape {v.shape}")
        if v.dtype != np.uint8:
            raise ValueError(f"rgb must be uint8, got {v.dtype}")
        if v.shape[0] < 2 or v.shape[1] < 2:
            raise ValueError(f"rgb is too small: {v.shape}")
        return v

    @model_validator(mode="after")
    def _depth(self) -> Frame:
        h, w = self.rgb.shape[:2]
        if self.depth is not None:
            d = self.depth
            if d.ndim != 2:
                raise ValueError(f"depth must be HxW, got shape {d.shape}")
            if d.shape != (h, w):
                raise ValueError(f"depth shape {d.shape} does not match rgb {(h, w)}")
            if d.dtype != np.float32:
                self.depth = d.astype(np.float32)
            if np.any(self.depth[np.isfinite(self.depth)] < 0):
                raise ValueError("depth has negative values (expected metres >= 0)")
        if self.gravity_up is not None:
            g = np.asarray(self.gravity_up, dtype=float)
            _finite(g, "gravity_up")
            if np.linalg.norm(g) < 1e-6:
                raise ValueError("gravity_up must be a non-zero vector (world up in camera coordinates)")
            self.gravity_up = tuple(float(v) for v in g / np.linalg.norm(g))
        if self.intrinsics is not None and (self.intrinsics.width, self.intrinsics.height) != (w, h):
            raise ValueError(
                f"intrinsics are for {self.intrinsics.width}x{self.intrinsics.height} but the image is {w}x{h}"
            )
        return self

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


# --------------------------------------------------------------------------- 2D perception
class Detection(_Model):
    label: str
    score: float = Field(ge=0, le=1)
    box_xyxy: tuple[float, float, float, float]
    mask: NDArray | None = None  # bool[H, W]
    query: str | None = None  # text query that produced it (open-vocabulary detectors)
    gt_id: str | None = None  # ground-truth object id (synthetic scenes only)

    @field_validator("box_xyxy")
    @classmethod
    def _box(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        _finite(v, "box_xyxy")
        x0, y0, x1, y1 = v
        if x1 < x0 or y1 < y0:
            raise ValueError(f"box_xyxy must have x1>=x0 and y1>=y0, got {v}")
        return v

    @field_validator("mask")
    @classmethod
    def _mask(cls, v: np.ndarray | None) -> np.ndarray | None:
        if v is None:
            return v
        if v.ndim != 2:
            raise ValueError(f"mask must be HxW, got shape {v.shape}")
        return v.astype(bool, copy=False)


class Detections(_Model):
    image_id: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    items: list[Detection] = Field(default_factory=list)
    backend: str = ""

    @model_validator(mode="after")
    def _masks(self) -> Detections:
        for i, d in enumerate(self.items):
            if d.mask is not None and d.mask.shape != (self.height, self.width):
                raise ValueError(f"items[{i}].mask shape {d.mask.shape} != image {(self.height, self.width)}")
        return self

    def __len__(self) -> int:
        return len(self.items)


# --------------------------------------------------------------------------- 3D
class Box3D(_Model):
    """Axis-aligned box: centre and full extents (dx, dy, dz) in the scene frame."""

    center: Vec3
    size: Vec3

    @model_validator(mode="after")
    def _check(self) -> Box3D:
        _finite([*self.center, *self.size], "Box3D")
        if min(self.size) < 0:
            raise ValueError(f"Box3D size must be >= 0, got {self.size}")
        return self

    @property
    def min(self) -> np.ndarray:
        return np.asarray(self.center) - np.asarray(self.size) / 2

    @property
    def max(self) -> np.ndarray:
        return np.asarray(self.center) + np.asarray(self.size) / 2

    @classmethod
    def from_min_max(cls, lo: Any, hi: Any) -> Box3D:
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        return cls(center=tuple((lo + hi) / 2), size=tuple(hi - lo))


class OrientedBox3D(_Model):
    """Box rotated by ``yaw`` about the up axis; ``size`` = (length along yaw, width, height)."""

    center: Vec3
    size: Vec3
    yaw: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> OrientedBox3D:
        _finite([*self.center, *self.size, self.yaw], "OrientedBox3D")
        if min(self.size) < 0:
            raise ValueError(f"OrientedBox3D size must be >= 0, got {self.size}")
        return self

    def corners_xy(self) -> np.ndarray:
        """The 4 footprint corners (counter-clockwise) on the ground plane, shape (4, 2)."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        hl, hw = self.size[0] / 2, self.size[1] / 2
        local = np.array([[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]])
        rot = np.array([[c, -s], [s, c]])
        return local @ rot.T + np.asarray(self.center[:2])


class PointsSummary(_Model):
    num_points: int = Field(ge=0)
    centroid: Vec3
    std: Vec3 = (0.0, 0.0, 0.0)
    percentile_lo: Vec3 | None = None  # 2nd percentile per axis (robust extent)
    percentile_hi: Vec3 | None = None  # 98th percentile per axis


class Object3D(_Model):
    id: str
    name: str  # category, e.g. "armchair"
    caption: str  # distinguishing phrase, e.g. "the red armchair"
    aabb: Box3D
    obb: OrientedBox3D
    centroid: Vec3
    footprint: list[Vec2] = Field(default_factory=list)  # polygon on the floor plane (canonical only)
    height_above_floor: float | None = None  # bottom of the object above z = 0 (canonical only)
    points: PointsSummary | None = None
    attributes: dict[str, str] = Field(default_factory=dict)  # e.g. {"color": "red", "size": "tall"}
    score: float = 1.0
    mask_id: int | None = None  # value in the instance mask image (synthetic scenes)
    ambiguous: bool = False  # True: excluded from questions (see Scene3D.notes)
    box_2d: tuple[float, float, float, float] | None = None  # xyxy in the source image
    # Whole-object (amodal) evidence. ``aabb``/``obb`` cover the whole object; these keep what was seen.
    visible_aabb: Box3D | None = None  # box of the visible points only
    visible_obb: OrientedBox3D | None = None
    extent_seen: Vec3 | None = None  # per obb axis (length, width, height): share of the extent seen, 0..1
    size_lo: Vec3 | None = None  # obb size interval at INTERVAL_LEVEL (length, width, height)
    size_hi: Vec3 | None = None
    center_sigma: Vec3 | None = None  # 1-sigma of the centre per scene axis (metres)
    prior_class: str | None = None  # size-prior class used to complete the object (None: points only)
    # Per horizontal box axis (obb length, width; camera x, z when not canonical): the side (+1 / -1 along the
    # axis) where the unseen part of the object may lie; 0: either side.
    hidden_side: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _check(self) -> Object3D:
        _finite(self.centroid, f"Object3D {self.id}.centroid")
        return self


class DroppedObject(_Model):
    id: str
    reason: str


class Scene3D(_Model):
    scene_id: str
    objects: list[Object3D] = Field(default_factory=list)
    canonical: bool  # True: gravity-aligned frame, floor z = 0
    gravity_confidence: float = Field(default=1.0, ge=0, le=1)
    camera: CameraPose | None = None  # camera in the scene frame (identity when not canonical)
    intrinsics: CameraIntrinsics | None = None
    image_source: str | None = None
    dropped: list[DroppedObject] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # flags such as "no credible floor plane"
    provenance: dict[str, Any] = Field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION

    @model_validator(mode="after")
    def _unique(self) -> Scene3D:
        ids = [o.id for o in self.objects]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate object ids in scene {self.scene_id}: {sorted(dup)}")
        return self

    def get(self, obj_id: str) -> Object3D:
        for o in self.objects:
            if o.id == obj_id:
                return o
        raise KeyError(f"no object {obj_id!r} in scene {self.scene_id}")

    @property
    def askable(self) -> list[Object3D]:
        """Objects that questions may mention (not ambiguous)."""
        return [o for o in self.objects if not o.ambiguous]


class GroundTruth(_Model):
    """Exact labels of a synthetic frame: instance ids (0 = background, else ``Object3D.mask_id``)."""

    instances: NDArray  # int32[H, W]
    scene: Scene3D  # exact scene in the gravity-aligned world frame (floor z = 0)


Frame.model_rebuild()


# --------------------------------------------------------------------------- QA
QuestionCategory = Literal["qualitative", "quantitative"]
QuestionKind = Literal["predicate", "choice", "quantitative"]


class QAPair(_Model):
    id: str
    image_id: str
    qtype: str  # question-type registry name, e.g. "left_predicate", "distance"
    category: QuestionCategory
    kind: QuestionKind
    question: str
    answer: str
    value: float | None = None  # rounded number stated in the answer (quantitative)
    unit: str | None = None  # unit of ``value``: "m", "cm", "ft", "in", "count", "deg", "o'clock"
    truth: float | None = None  # exact answer before rounding, SI (metres) or count/degrees
    truth_bool: bool | None = None  # predicates: the stated truth
    choice: str | None = None  # choice questions: the caption chosen
    object_ids: list[str] = Field(default_factory=list)
    provenance: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> QAPair:
        if not self.question.strip():
            raise ValueError("question must not be empty")
        if not self.answer.strip():
            raise ValueError("answer must not be empty")
        if self.kind == "quantitative" and (self.value is None or self.unit is None):
            raise ValueError(f"quantitative QA {self.id} needs value and unit")
        if self.kind == "predicate" and self.truth_bool is None:
            raise ValueError(f"predicate QA {self.id} needs truth_bool")
        for f in ("value", "truth"):
            v = getattr(self, f)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{f} must be finite, got {v}")
        return self


@dataclass(frozen=True)
class QAExample:
    """One training/eval example as a dataset reader yields it (``dataset.reader.load_qa_dataset``); here, not
    in ``dataset``, so the model's evaluation can name it without depending on the dataset layer."""

    image: Path  # absolute path
    question: str
    answer: str
    qa: QAPair | None = None  # None for synthesised generic (non-spatial) examples


# --------------------------------------------------------------------------- tool answers
class Answer(_Model):
    """What the SpatialVLM tool returns: free text plus the parsed quantity."""

    text: str
    value: float | None = None  # number as stated
    unit: str | None = None  # unit as stated ("m", "cm", "ft", "in", ...)
    meters: float | None = None  # value converted to metres, when it is a length
    boolean: bool | None = None  # parsed yes/no, when the answer is one
    uncertainty: float | None = None  # 1-sigma in metres, when the backend can tell
    interval: tuple[float, float] | None = None  # (lo, hi) in metres (lengths) or the value's unit, at ``level``
    level: float | None = None  # coverage the interval is stated at (types.INTERVAL_LEVEL)
    source: str = ""  # backend name, e.g. "vlm:tiny", "geometric"

    @property
    def valid_number(self) -> bool:
        return self.value is not None and math.isfinite(self.value)
