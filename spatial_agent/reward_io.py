"""Frame sources for the reward annotator: image lists, folders of frames, trajectory folders and video files.

Videos are decoded with PyAV (``av``) when installed, else imageio; animated GIFs need only Pillow.
A saved trajectory folder (``trajectory.json`` beside ``frames/``) loads as ``Frame`` objects with sensor
depth and ground truth, so the geometric tool can reconstruct each frame.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageSequence

from spatialvlm_core.types import Frame

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".gif")


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except OSError as e:
        raise ValueError(f"cannot read image {path}: {e}") from e


def read_video(path: str | os.PathLike[str], max_frames: int | None = None, stride: int = 1) -> list[np.ndarray]:
    """RGB frames (uint8 HxWx3) of a video file; every ``stride``-th frame, at most ``max_frames``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"video file not found: {p}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    frames: list[np.ndarray] = []

    def keep(i: int) -> bool:
        return i % stride == 0 and (max_frames is None or len(frames) < max_frames)

    if p.suffix.lower() == ".gif":
        with Image.open(p) as im:
            for i, fr in enumerate(ImageSequence.Iterator(im)):
                if keep(i):
                    frames.append(np.asarray(fr.convert("RGB"), dtype=np.uint8))
        return frames
    try:
        import av  # optional (PyAV): imageio is the fallback
    except ImportError:
        av = None
    if av is not None:
        try:
            with av.open(str(p)) as container:
                for i, fr in enumerate(container.decode(video=0)):
                    if max_frames is not None and len(frames) >= max_frames:
                        break
                    if keep(i):
                        frames.append(fr.to_ndarray(format="rgb24"))
        except (av.error.FFmpegError, ValueError, IndexError) as e:  # type: ignore[attr-defined]
            raise ValueError(f"cannot decode video {p}: {e}") from e
        return frames
    try:
        import imageio.v3 as iio  # optional fallback reader
    except ImportError:
        raise ValueError(f"reading video {p} needs PyAV (`pip install av`) or imageio; or pass a folder of frames") from None
    for i, fr in enumerate(iio.imiter(p)):
        if keep(i):
            frames.append(np.asarray(fr)[..., :3].astype(np.uint8))
    return frames


def write_video(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: int = 10) -> Path:
    """Encode RGB frames as an H.264/MPEG-4 file with PyAV (used by tests and demos)."""
    import av  # optional (PyAV): only to write videos

    p = Path(path)
    if not frames:
        raise ValueError("write_video needs at least one frame")
    h, w = frames[0].shape[:2]
    with av.open(str(p), mode="w") as container:
        codec = "mpeg4" if p.suffix.lower() in (".avi", ".mp4", ".m4v") else "libx264"
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        for fr in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(fr[: h - h % 2, : w - w % 2]), format="rgb24")
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return p


def load_frames(source: Any, max_frames: int | None = None, stride: int = 1) -> tuple[list[Any], list[str]]:
    """(images, frame ids) from a list/array of images, a folder of frames, a trajectory folder or a video file."""
    if isinstance(source, np.ndarray):
        if source.ndim == 4:
            items: list[Any] = list(source)
        elif source.ndim == 3:
            items = [source]
        else:
            raise ValueError(f"image array must be HxWx3 or NxHxWx3, got shape {source.shape}")
        return _ids(items[::stride][:max_frames])
    if isinstance(source, list | tuple):
        if not source:
            raise ValueError("no frames given (empty list)")
        items = list(source)[::stride][:max_frames]
        ids = [it.image_id if isinstance(it, Frame) else (Path(it).stem if isinstance(it, str | Path) else f"frame_{i:04d}")
               for i, it in enumerate(items)]  # fmt: skip
        return items, ids
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"unsupported frame source {type(source).__name__}: pass images, a folder or a video file")
    p = Path(source)
    if p.is_file() and p.name == "trajectory.json":
        p = p.parent
    if p.is_dir():
        if (p / "trajectory.json").is_file():
            from spatialvlm_core.sim.trajectories import load_trajectory  # mujoco: trajectories only

            frames = load_trajectory(p).as_frames()[::stride][:max_frames]
            return frames, [f.image_id for f in frames]
        root = p / "frames" if (p / "frames").is_dir() else p
        files = sorted(f for f in root.iterdir() if f.suffix.lower() in IMAGE_EXTS)[::stride][:max_frames]
        if not files:
            raise ValueError(f"no image files ({', '.join(IMAGE_EXTS)}) in folder {root}")
        return [_read_image(f) for f in files], [f.stem for f in files]
    if not p.exists():
        raise FileNotFoundError(f"frame source not found: {p}")
    if p.suffix.lower() in VIDEO_EXTS:
        frames_v = read_video(p, max_frames=max_frames, stride=stride)
        if not frames_v:
            raise ValueError(f"video {p} has no frames")
        return _ids(frames_v)
    if p.suffix.lower() in IMAGE_EXTS:
        return [_read_image(p)], [p.stem]
    raise ValueError(f"{p}: not a folder, image ({', '.join(IMAGE_EXTS)}) or video ({', '.join(VIDEO_EXTS)})")


def _ids(items: list[Any]) -> tuple[list[Any], list[str]]:
    return items, [f"frame_{i:04d}" for i in range(len(items))]
