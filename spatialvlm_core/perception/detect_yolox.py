"""``yolox-onnx``: closed-set COCO detector, YOLOX-nano exported to ONNX, run with onnxruntime.

Pre/post-processing follows the Megvii reference (see ../shared/models/yolox_nano/README.md): BGR 0..255,
letterbox top-left with pad 114 to 416x416, decode over strides 8/16/32, score = objectness * class, undo
the letterbox scale, then NMS.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from spatialvlm_core.perception._common import check_fraction
from spatialvlm_core.perception.boxes import batched_nms, clip_boxes, cxcywh_to_xyxy, nms
from spatialvlm_core.perception.labels import COCO_CLASSES, match_queries, normalize_label
from spatialvlm_core.perception.registry import DETECTORS
from spatialvlm_core.types import Detection, Detections, Frame

ENV_VAR = "SPATIALVLM_YOLOX"
_REPO = Path(__file__).resolve().parents[2]
DEFAULT_PATH = _REPO.parent / "shared" / "models" / "yolox_nano" / "yolox_nano.onnx"
PAD_VALUE = 114
STRIDES = (8, 16, 32)


def default_model_path() -> Path:
    """``$SPATIALVLM_YOLOX`` when set, else ``../shared/models/yolox_nano/yolox_nano.onnx`` beside the repo."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else DEFAULT_PATH


def letterbox(rgb: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """float32[1, 3, H, W] BGR 0..255, image resized (aspect kept) into the top-left corner; and the scale."""
    th, tw = size
    h, w = rgb.shape[:2]
    r = min(th / h, tw / w)
    nh, nw = max(1, int(h * r)), max(1, int(w * r))
    resized = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR))
    canvas = np.full((th, tw, 3), PAD_VALUE, dtype=np.float32)
    canvas[:nh, :nw] = resized[:, :, ::-1]  # RGB -> BGR
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None]), r


def decode(raw: np.ndarray, size: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Raw [N, 85] head output -> [N, 85] with (cx, cy, w, h) in input pixels."""
    th, tw = size
    grids, step = [], []
    for s in strides:
        gy, gx = np.meshgrid(np.arange(th // s), np.arange(tw // s), indexing="ij")
        grids.append(np.stack([gx, gy], axis=-1).reshape(-1, 2))
        step.append(np.full((grids[-1].shape[0], 1), s))
    grid = np.concatenate(grids).astype(np.float32)
    stride = np.concatenate(step).astype(np.float32)
    if grid.shape[0] != raw.shape[0]:
        raise ValueError(f"YOLOX output has {raw.shape[0]} anchors, expected {grid.shape[0]} for input {size}")
    out = raw.astype(np.float32).copy()
    out[:, :2] = (out[:, :2] + grid) * stride
    out[:, 2:4] = np.exp(out[:, 2:4]) * stride
    return out


@DETECTORS.register("yolox-onnx", "yolox")
class YoloxOnnxDetector:
    name = "yolox-onnx"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        classes: list[str] | None = None,
        score_threshold: float = 0.3,
        nms_iou: float = 0.45,
        max_detections: int = 100,
        class_agnostic_nms: bool = False,
        device: str = "cpu",
        num_threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        path = Path(model).expanduser() if model is not None else default_model_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"YOLOX ONNX model not found: {path} (pass model=..., or set ${ENV_VAR})"
            )
        self.path = path
        self.score_threshold = check_fraction(score_threshold, "score_threshold")
        self.nms_iou = check_fraction(nms_iou, "nms_iou")
        if max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        self.max_detections = max_detections
        self.class_agnostic_nms = class_agnostic_nms
        opts = ort.SessionOptions()
        if num_threads:
            opts.intra_op_num_threads = num_threads
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else None
        avail = ort.get_available_providers()
        providers = [p for p in providers if p in avail] if providers else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        h, w = inp.shape[2], inp.shape[3]
        self.input_size = (int(h), int(w)) if isinstance(h, int) and isinstance(w, int) else (416, 416)
        self.classes = [normalize_label(c) for c in (classes or self._classes_beside(path))]

    @staticmethod
    def _classes_beside(path: Path) -> list[str]:
        txt = path.parent / "coco_classes.txt"
        if txt.is_file():
            names = [ln.strip() for ln in txt.read_text().splitlines() if ln.strip()]
            if names:
                return names
        return list(COCO_CLASSES)

    def detect(self, frame: Frame, queries: list[str] | None = None) -> Detections:
        h, w = frame.rgb.shape[:2]
        blob, r = letterbox(frame.rgb, self.input_size)
        raw = self.session.run(None, {self.input_name: blob})[0]
        pred = decode(raw.reshape(-1, raw.shape[-1]), self.input_size)
        if pred.shape[1] - 5 != len(self.classes):
            raise ValueError(f"model predicts {pred.shape[1] - 5} classes but {len(self.classes)} names were given")
        cls_scores = pred[:, 5:] * pred[:, 4:5]
        cls_id = cls_scores.argmax(axis=1)
        score = cls_scores[np.arange(len(cls_id)), cls_id]
        wanted = match_queries(self.classes, queries)
        allowed = np.array([c in wanted for c in self.classes])
        keep = (score >= self.score_threshold) & allowed[cls_id]
        boxes = clip_boxes(cxcywh_to_xyxy(pred[keep, :4]) / r, w, h)
        score, cls_id = score[keep], cls_id[keep]
        if self.class_agnostic_nms:
            idx = nms(boxes, score, self.nms_iou)
        else:
            idx = batched_nms(boxes, score, cls_id, self.nms_iou)
        items = []
        for i in idx[: self.max_detections]:
            label = self.classes[cls_id[i]]
            items.append(Detection(label=label, score=float(score[i]), box_xyxy=tuple(float(v) for v in boxes[i]),
                                   query=wanted[label]))
        return Detections(image_id=frame.image_id, width=w, height=h, items=items, backend=self.name)
