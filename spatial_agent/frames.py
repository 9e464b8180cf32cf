"""Images in any form a user hands the agent (path, PIL image, array, Frame) as a ``Frame``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from spatialvlm_core.types import Frame


class UnreadableImage(ValueError):
    """The image file exists but is no image (or a corrupt one): the user's input, never a tool failure."""


def load_frame(image: Any) -> Frame:
    """A ``Frame`` from a path, PIL image, uint8 array or Frame."""
    if isinstance(image, Frame):
        return image
    if isinstance(image, str | Path):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image not found: {path}")
        try:
            with Image.open(path) as im:
                return Frame(image_id=path.stem, rgb=np.asarray(im.convert("RGB")), source=str(path))
        except (UnidentifiedImageError, OSError) as e:  # not an image, or a truncated/corrupt one
            raise UnreadableImage(f"{path}: not a readable image ({' '.join(str(e).split())})") from e
    if hasattr(image, "convert"):
        return Frame(image_id="image", rgb=np.asarray(image.convert("RGB")))
    return Frame(image_id="image", rgb=np.asarray(image))
