"""``boxes`` detector: user-supplied labelled boxes (and optional masks) instead of a model.

For classes no built-in detector names (a COCO detector has no "night stand"), or for exact boxes from an
annotation tool. The JSON file is either ``{"boxes": [...]}`` (optionally with ``"image"`` and ``"notes"``,
both informational) or a plain list of boxes; each box is::

    {"label": "night stand", "box": [x0, y0, x1, y1], "score": 1.0, "mask": "mask.png"}

* ``label`` (required): the object's class in words; synonyms are fine ("nightstand", "bedside table").
* ``box`` (required): pixel corners, x right and y down from the top-left of the image, ``x1 > x0``,
  ``y1 > y0``, inside the image (up to 1 px over the edge is clipped).
* ``score`` (optional, default 1.0): confidence in [0, 1].
* ``mask`` (optional): an image file (PNG; non-zero = object) or ``.npy`` boolean array of the image's size,
  its path relative to the JSON file. Boxes without a mask get one from the segmenter.

Any other key is an error (a typo such as ``"bbox"`` must not silently drop a box). Use it as
``reconstruct(frame, boxes="B.json")``, ``reconstruct(frame, detector=BoxesDetector.from_json("B.json"))``,
``spatialvlm reconstruct IMG --boxes B.json`` or ``spatial-agent ask IMG "..." --boxes B.json``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict

from spatialvlm_core.json_file import read_json_file
from spatialvlm_core.perception.labels import match_queries
from spatialvlm_core.perception.registry import DETECTORS
from spatialvlm_core.types import Detection, Detections, Frame, NDArray

BOX_KEYS = ("label", "box", "score", "mask")
FILE_KEYS = ("boxes", "image", "notes")
EDGE_TOLERANCE_PX = 1.0  # boxes may overshoot the image by this much (rounding); more is an error


class LabelledBox(BaseModel):
    """One user-supplied detection, validated."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", frozen=True)

    label: str
    box: tuple[float, float, float, float]
    score: float = 1.0
    mask: NDArray | None = None  # bool[H, W]
    mask_source: str | None = None  # where the mask came from (for messages)


def _label(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"{where}.label must be a non-empty string, got {v!r}")
    return " ".join(v.replace("_", " ").strip().lower().split())


def _box(v: Any, where: str) -> tuple[float, float, float, float]:
    if not isinstance(v, list | tuple) or len(v) != 4:
        raise ValueError(f"{where}.box must be [x0, y0, x1, y1] (4 numbers), got {v!r}")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in v):
        raise ValueError(f"{where}.box must hold 4 finite numbers, got {v!r}")
    x0, y0, x1, y1 = (float(x) for x in v)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"{where}.box must be [x0, y0, x1, y1] with x1 > x0 and y1 > y0, got {list(v)}")
    return x0, y0, x1, y1


def _score(v: Any, where: str) -> float:
    if not isinstance(v, int | float) or isinstance(v, bool) or not 0.0 <= float(v) <= 1.0:
        raise ValueError(f"{where}.score must be a number in [0, 1], got {v!r}")
    return float(v)


def _mask(v: Any, where: str, base_dir: Path | None) -> tuple[np.ndarray, str]:
    if isinstance(v, np.ndarray):
        arr, src = v, "array"
    elif isinstance(v, str | Path):
        p = Path(v).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        if not p.is_file():
            raise FileNotFoundError(f"{where}.mask file not found: {p}")
        if p.suffix == ".npy":
            arr = np.load(p)
        else:
            try:
                with Image.open(p) as im:
                    arr = np.asarray(im.convert("L"))
            except OSError as e:
                raise ValueError(f"{where}.mask {p} is not a readable image ({e})") from e
        src = str(p)
    else:
        raise ValueError(f"{where}.mask must be a file path (PNG or .npy), got {type(v).__name__}")
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise ValueError(f"{where}.mask {src} must be a single-channel HxW image, got shape {arr.shape}")
    return arr > 0, src


def parse_boxes(data: Any, origin: str = "boxes", base_dir: Path | None = None) -> list[LabelledBox]:
    """Validated boxes from the JSON structure (see the module docstring); errors name ``origin`` and the field."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(FILE_KEYS))
        if unknown:
            raise ValueError(f"{origin}: unknown key(s) {unknown} (allowed: {', '.join(FILE_KEYS)})")
        if "boxes" not in data:
            raise ValueError(f"{origin}: missing 'boxes' (a list of {{label, box[, score, mask]}})")
        items = data["boxes"]
    else:
        items = data
    prefix = f"{origin}: boxes"  # the i-th box is boxes[i] in messages, in either format
    if not isinstance(items, list):
        raise ValueError(f"{origin}: boxes must be a list, got {type(items).__name__}")
    if not items:
        raise ValueError(f"{origin}: no boxes given")
    out = []
    for i, item in enumerate(items):
        where = f"{prefix}[{i}]"
        if isinstance(item, LabelledBox):
            out.append(item)
            continue
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object {{label, box[, score, mask]}}, got {type(item).__name__}")
        unknown = sorted(set(item) - set(BOX_KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown} (allowed: {', '.join(BOX_KEYS)})")
        for key in ("label", "box"):
            if key not in item:
                raise ValueError(f"{where}: missing {key!r}")
        mask, src = _mask(item["mask"], where, base_dir) if item.get("mask") is not None else (None, None)
        out.append(LabelledBox(label=_label(item["label"], where), box=_box(item["box"], where),
                               score=_score(item.get("score", 1.0), where), mask=mask, mask_source=src))
    return out


def load_boxes_json(path: str | Path) -> list[LabelledBox]:
    """Boxes from a JSON file; mask paths are relative to the file."""
    p, data = read_json_file(path, "boxes file")
    return parse_boxes(data, origin=str(p), base_dir=p.parent)


@DETECTORS.register("boxes")
class BoxesDetector:
    """Returns the given boxes for every frame (checked against its size), filtered by ``queries``."""

    name = "boxes"

    def __init__(self, boxes: str | Path | list[Any] | dict[str, Any], base_dir: str | Path | None = None) -> None:
        if isinstance(boxes, str | Path):
            self.source: str | None = str(boxes)
            self.boxes = load_boxes_json(boxes)
        else:
            self.source = None
            self.boxes = parse_boxes(boxes, base_dir=Path(base_dir) if base_dir is not None else None)

    @classmethod
    def from_json(cls, path: str | Path) -> BoxesDetector:
        return cls(path)

    @property
    def classes(self) -> list[str]:
        """The labels given, sorted, once each (what this detector can name)."""
        return sorted({b.label for b in self.boxes})

    def detect(self, frame: Frame, queries: list[str] | None = None) -> Detections:
        w, h = frame.size
        origin = self.source or "boxes"
        wanted = match_queries(self.classes, queries)
        items = []
        for i, b in enumerate(self.boxes):
            where = f"{origin}: boxes[{i}]"
            x0, y0, x1, y1 = b.box
            tol = EDGE_TOLERANCE_PX
            if x0 < -tol or y0 < -tol or x1 > w + tol or y1 > h + tol:
                raise ValueError(f"{where}.box {list(b.box)} is outside the {w}x{h} image {frame.image_id!r}")
            box = (max(x0, 0.0), max(y0, 0.0), min(x1, float(w)), min(y1, float(h)))
            if box[2] <= box[0] or box[3] <= box[1]:
                raise ValueError(f"{where}.box {list(b.box)} has no area inside the {w}x{h} image")
            if b.mask is not None and b.mask.shape != (h, w):
                raise ValueError(f"{where}.mask {b.mask_source} is {b.mask.shape[1]}x{b.mask.shape[0]} "
                                 f"but the image is {w}x{h}")
            if b.label not in wanted:
                continue
            items.append(Detection(label=b.label, score=b.score, box_xyxy=box, mask=b.mask, query=wanted[b.label]))
        return Detections(image_id=frame.image_id, width=w, height=h, items=items, backend=self.name)
