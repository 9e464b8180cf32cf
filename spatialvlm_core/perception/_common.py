"""Small helpers shared by the model-backed backends (image conversion, model loading, devices)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

_PATH_PREFIXES = ("/", "./", "../", "~", ".\\")


def as_rgb_array(image: Any) -> np.ndarray:
    """uint8[H, W, 3] from a PIL image or an array (gray and RGBA are converted)."""
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL without importing it eagerly
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"image must be HxWx3 (or HxW / HxWx4), got shape {arr.shape}")
    arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def to_pil(image: Any) -> Any:
    return Image.fromarray(as_rgb_array(image))


def resolve_source(model: str | Path, kind: str) -> str:
    """A local directory (must exist when it looks like a path) or a hub id, as a string."""
    text = str(model)
    path = Path(text).expanduser()
    if path.exists():
        return str(path)
    if text.startswith(_PATH_PREFIXES) or isinstance(model, Path):
        raise FileNotFoundError(f"{kind} model directory not found: {text}")
    return text


def load_pretrained(loader: Any, source: str, kind: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained(source)`` with an error that says what was being loaded."""
    try:
        return loader.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        hint = "" if Path(source).exists() else " (not a local directory; hub downloads need network access)"
        raise OSError(f"could not load {kind} from {source!r}{hint}: {exc}") from exc


def load_image_processor(loader: Any, source: str, kind: str) -> Any:
    """Processors built on the PIL backend: the torchvision one is unusable on CPU-only torch here."""
    try:
        return load_pretrained(loader, source, kind, backend="pil")
    except TypeError:  # older transformers: no ``backend`` argument
        return load_pretrained(loader, source, kind, use_fast=False)


def torch_device(device: str | None) -> Any:
    import torch

    return torch.device(device or "cpu")


def check_fraction(value: float, field: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{field} must be in [0, 1], got {value}")
    return float(value)


_B = TypeVar("_B", bound="InMemoryModel")


class InMemoryModel:
    """``Backend.from_model(*parts, **options)``: wrap already-built model parts (tests, notebooks) without loading.

    A backend's ``__init__`` loads its parts from a path or hub id and hands them to ``_setup``; this builds the
    same object from parts the caller already has.
    """

    def _setup(self, *parts: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    @classmethod
    def from_model(cls: type[_B], *parts: Any, **kwargs: Any) -> _B:
        self = cls.__new__(cls)
        self._setup(*parts, **kwargs)
        return self
