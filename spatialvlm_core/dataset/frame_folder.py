"""A dataset frame folder as a ``Frame``: ``rgb.*``, optional ``depth.npy``/``depth.npz`` (metres) and
``camera.json`` (intrinsics, optional ``gravity_up_in_camera``), as ``../shared/real`` and many datasets lay
frames out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spatialvlm_core.json_file import read_json_file
from spatialvlm_core.reconstruct import load_depth, load_gravity, load_intrinsics
from spatialvlm_core.types import Frame

DEPTH_FILES = ("depth.npy", "depth.npz")


def depth_file(folder: Path) -> Path | None:
    """The folder's depth map file, if it has one."""
    return next((folder / n for n in DEPTH_FILES if (folder / n).is_file()), None)


def load_frame_folder(folder: str | Path, depth: bool = True, gravity: bool = True) -> Frame:
    """The folder's frame: depth when present (and ``depth``), intrinsics unless ``camera.json`` leaves them
    null (a photo with no calibration), the known up vector when present (and ``gravity``)."""
    from PIL import Image

    folder = Path(folder)
    rgb_path = next(iter(sorted(folder.glob("rgb.*"))), None)
    if rgb_path is None:
        raise FileNotFoundError(f"{folder}: no rgb.* image")
    with Image.open(rgb_path) as im:
        rgb = np.asarray(im.convert("RGB"))
    h, w = rgb.shape[:2]
    cam_path = folder / "camera.json"
    intr, up = None, None
    if cam_path.is_file():
        _, cam = read_json_file(cam_path, "camera file")
        if cam.get("fx") is not None:
            intr = load_intrinsics(cam_path, w, h)
        up = load_gravity(cam_path) if gravity else None
    dpath = depth_file(folder) if depth else None
    return Frame(image_id=folder.name, rgb=rgb, depth=load_depth(dpath) if dpath is not None else None,
                 intrinsics=intr, gravity_up=up, source=str(rgb_path))
