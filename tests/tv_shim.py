"""Test-only stand-in for torchvision, for segment-anything on CPU torch without a usable torchvision.

segment-anything imports four functions from torchvision at import time; ``install()`` provides them
(numpy/PIL/torch implementations) in ``sys.modules`` only when the real torchvision cannot be imported,
and returns an undo callable. Never shipped in the package.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np


def _real_torchvision_works() -> bool:
    try:
        import torchvision  # noqa: F401
        from torchvision.ops import nms  # noqa: F401
    except Exception:
        return False
    return True


def install() -> Callable[[], None]:
    if _real_torchvision_works():
        return lambda: None
    import torch
    from PIL import Image

    from spatialvlm_core.perception.boxes import batched_nms as np_batched_nms

    def batched_nms(boxes: Any, scores: Any, idxs: Any, iou_threshold: float) -> Any:
        keep = np_batched_nms(boxes.detach().cpu().numpy(), scores.detach().cpu().numpy(),
                              idxs.detach().cpu().numpy(), iou_threshold)
        return torch.as_tensor(keep, dtype=torch.int64)

    def box_area(boxes: Any) -> Any:
        return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    def to_pil_image(image: Any) -> Any:
        return Image.fromarray(np.asarray(image))

    def resize(image: Any, size: Any) -> Any:
        h, w = size
        return image.resize((w, h), Image.BILINEAR)

    names = ["torchvision", "torchvision.ops", "torchvision.ops.boxes", "torchvision.transforms",
             "torchvision.transforms.functional"]
    mods = {n: types.ModuleType(n) for n in names}
    mods["torchvision.ops.boxes"].batched_nms = batched_nms  # type: ignore[attr-defined]
    mods["torchvision.ops.boxes"].box_area = box_area  # type: ignore[attr-defined]
    mods["torchvision.transforms.functional"].resize = resize  # type: ignore[attr-defined]
    mods["torchvision.transforms.functional"].to_pil_image = to_pil_image  # type: ignore[attr-defined]
    mods["torchvision"].ops = mods["torchvision.ops"]  # type: ignore[attr-defined]
    mods["torchvision.ops"].boxes = mods["torchvision.ops.boxes"]  # type: ignore[attr-defined]
    mods["torchvision"].transforms = mods["torchvision.transforms"]  # type: ignore[attr-defined]
    mods["torchvision.transforms"].functional = mods["torchvision.transforms.functional"]  # type: ignore[attr-defined]
    saved = {n: sys.modules.get(n) for n in names}
    sys.modules.update(mods)

    def undo() -> None:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
        for n in [k for k in sys.modules if k == "segment_anything" or k.startswith("segment_anything.")]:
            sys.modules.pop(n)  # it holds references to the shim

    return undo
