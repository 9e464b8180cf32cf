"""Scene folders on disk, written atomically.

A scene folder holds ``rgb.png``, ``depth.npy`` (float32 metres), ``instances.png`` (16-bit), ``camera.json``
(intrinsics + world_from_camera), ``scene.json`` (the ground-truth ``Scene3D``) and ``layout.json`` (to rebuild
the MuJoCo model). ``save_scene`` writes everything into a temporary sibling folder and renames it into
place, so a reader never sees half a scene.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from spatialvlm_core.atomic import atomic_dir
from spatialvlm_core.sim.layout import Layout
from spatialvlm_core.sim.scene import SimScene
from spatialvlm_core.types import CameraIntrinsics, CameraPose, Scene3D

FILES = ("rgb.png", "depth.npy", "instances.png", "camera.json", "scene.json", "layout.json")


def _write_files(sim: SimScene, d: Path) -> None:
    Image.fromarray(sim.rgb).save(d / "rgb.png")
    np.save(d / "depth.npy", np.ascontiguousarray(sim.depth, dtype=np.float32))
    if sim.instances.min() < 0 or sim.instances.max() > 65535:
        raise ValueError("instances must be in [0, 65535] to fit a 16-bit PNG")
    Image.fromarray(sim.instances.astype(np.uint16)).save(d / "instances.png")
    camera = {"intrinsics": sim.intrinsics.model_dump(), "world_from_camera": sim.pose.world_from_camera}
    (d / "camera.json").write_text(json.dumps(camera, indent=1))
    (d / "scene.json").write_text(sim.scene.model_dump_json(indent=1))
    (d / "layout.json").write_text(sim.layout.model_dump_json(indent=1))


def save_scene(sim: SimScene, out_dir: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write ``sim`` to ``out_dir`` atomically; returns the folder. Unwritable parent -> PermissionError."""
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (overwrite=False)")
    with atomic_dir(out, "scene folder") as tmp:
        _write_files(sim, tmp)
    return out


def _need(d: Path, name: str) -> Path:
    p = d / name
    if not p.is_file():
        raise FileNotFoundError(f"scene folder {d} is missing {name}")
    return p


def load_scene(scene_dir: str | os.PathLike[str]) -> SimScene:
    """Read a folder written by ``save_scene``; missing files -> FileNotFoundError, corrupt ones -> ValueError."""
    d = Path(scene_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"scene folder not found: {d}")
    paths = {name: _need(d, name) for name in FILES}
    try:
        with Image.open(paths["rgb.png"]) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as e:
        raise ValueError(f"{paths['rgb.png']}: not a readable image ({e})") from e
    try:
        depth = np.load(paths["depth.npy"], allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{paths['depth.npy']}: not a readable .npy array ({e})") from e
    try:
        with Image.open(paths["instances.png"]) as im:
            instances = np.asarray(im).astype(np.int32)
    except (OSError, ValueError) as e:
        raise ValueError(f"{paths['instances.png']}: not a readable image ({e})") from e
    try:
        cam = json.loads(paths["camera.json"].read_text())
        intr = CameraIntrinsics.model_validate(cam["intrinsics"])
        pose = CameraPose(world_from_camera=cam["world_from_camera"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{paths['camera.json']}: invalid camera file ({e})") from e
    try:
        scene = Scene3D.model_validate_json(paths["scene.json"].read_text())
    except ValueError as e:
        raise ValueError(f"{paths['scene.json']}: invalid Scene3D JSON ({e})") from e
    try:
        layout = Layout.model_validate_json(paths["layout.json"].read_text())
    except ValueError as e:
        raise ValueError(f"{paths['layout.json']}: invalid layout JSON ({e})") from e
    h, w = rgb.shape[:2]
    if depth.shape != (h, w) or instances.shape != (h, w):
        raise ValueError(
            f"{d}: image sizes disagree (rgb {rgb.shape[:2]}, depth {depth.shape}, instances {instances.shape})"
        )
    if (intr.width, intr.height) != (w, h):
        raise ValueError(f"{paths['camera.json']}: intrinsics are for {intr.width}x{intr.height}, images are {w}x{h}")
    return SimScene(layout=layout, rgb=rgb, depth=depth.astype(np.float32, copy=False), instances=instances,
                    intrinsics=intr, pose=pose, scene=scene)  # fmt: skip
