"""Box utilities in numpy: conversions, IoU, non-maximum suppression (no torchvision needed)."""

from __future__ import annotations

import numpy as np


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    half = b[:, 2:] / 2.0
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, width)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, height)
    return b


def box_area(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU, shape (len(a), len(b))."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clip(0).prod(axis=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy NMS, highest score first (same contract as torchvision.ops.nms)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        ious = box_iou(boxes[i], boxes[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float) -> np.ndarray:
    """NMS within each label only, result sorted by score (offset trick as in torchvision)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    _, label_idx = np.unique(np.asarray(labels), return_inverse=True)
    offset = label_idx.astype(np.float64)[:, None] * (boxes.max() + 1.0)
    return nms(boxes + offset, scores, iou_threshold)


def box_from_mask(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """Tight xyxy box (pixel edges, x1/y1 exclusive) of a boolean mask; None when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def box_to_slices(box: tuple[float, float, float, float], width: int, height: int) -> tuple[slice, slice]:
    """Integer (rows, cols) slices covering the box, clipped to the image; never empty."""
    x0, y0, x1, y1 = box
    c0 = int(np.clip(np.floor(x0), 0, width - 1))
    r0 = int(np.clip(np.floor(y0), 0, height - 1))
    c1 = int(np.clip(np.ceil(x1), c0 + 1, width))
    r1 = int(np.clip(np.ceil(y1), r0 + 1, height))
    return slice(r0, r1), slice(c0, c1)


def box_mask(box: tuple[float, float, float, float], width: int, height: int) -> np.ndarray:
    """Boolean HxW mask of the pixels ``box_to_slices`` covers."""
    m = np.zeros((height, width), dtype=bool)
    m[box_to_slices(box, width, height)] = True
    return m
