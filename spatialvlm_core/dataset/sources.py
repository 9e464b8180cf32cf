"""Input discovery and reading for the dataset pipeline.

A source is a directory, a glob, a single file, or a list of those. It yields:
- plain images (png/jpg/jpeg/webp) with optional siblings ``NAME.depth.npy`` (metres, HxW) and
  ``NAME.intrinsics.json`` ({fx, fy, cx, cy, width, height});
- synthetic scene folders (``scene.json`` + ``rgb.png`` + ``depth.npy``), read through ``sim.load_scene``
  so the frame carries its exact ground truth.

Image ids are POSIX paths relative to the source root, so ordering and ids are stable across machines,
runs and worker counts. Problems with one input become a ``DroppedInput`` (file + reason), never a crash.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from spatialvlm_core.types import CameraIntrinsics, Frame

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
DEPTH_SUFFIX = ".depth.npy"
INTRINSICS_SUFFIX = ".intrinsics.json"
SCENE_MARKERS = ("scene.json", "rgb.png", "depth.npy")


class SourceError(ValueError):
    """One input cannot be read; the pipeline logs it to dropped.jsonl and carries on."""


class InputRecord(BaseModel):
    """One unit of work: an image file or a synthetic scene folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_id: str  # POSIX path relative to the source root
    path: str  # absolute path of the image file or scene folder
    kind: Literal["image", "sim"]
    depth_path: str | None = None
    intrinsics_path: str | None = None

    @property
    def image_path(self) -> Path:
        """The RGB file to copy into the dataset."""
        return Path(self.path) / "rgb.png" if self.kind == "sim" else Path(self.path)


class DroppedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: str
    file: str
    reason: str
    stage: str = "read"


class Discovery(BaseModel):
    records: list[InputRecord]
    dropped: list[DroppedInput]


def safe_id(image_id: str) -> str:
    """A file-name-safe, collision-resistant version of an image id (for scenes/<id>.json, images/)."""
    flat = image_id.replace("/", "__")
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", flat)
    if cleaned != flat:  # characters were lost: keep ids distinct with a short digest
        cleaned += "-" + hashlib.sha1(image_id.encode(), usedforsecurity=False).hexdigest()[:8]
    return cleaned


def is_scene_dir(path: Path) -> bool:
    return path.is_dir() and all((path / m).is_file() for m in SCENE_MARKERS)


def _is_sidecar(name: str) -> bool:
    return name.endswith(DEPTH_SUFFIX) or name.endswith(INTRINSICS_SUFFIX)


def _stem(path: Path) -> Path:
    """``dir/a.jpg`` -> ``dir/a`` (sidecars are named after the stem)."""
    return path.with_suffix("")


def _image_record(path: Path, root: Path) -> InputRecord:
    stem = _stem(path)
    depth = Path(str(stem) + DEPTH_SUFFIX)
    intr = Path(str(stem) + INTRINSICS_SUFFIX)
    return InputRecord(
        image_id=path.relative_to(root).as_posix(),
        path=str(path),
        kind="image",
        depth_path=str(depth) if depth.is_file() else None,
        intrinsics_path=str(intr) if intr.is_file() else None,
    )


def _add(rec: InputRecord, records: dict[str, InputRecord], dropped: list[DroppedInput]) -> None:
    """Keep the first input under an id; a different file with the same id is reported, not merged."""
    first = records.setdefault(rec.image_id, rec)
    if first.path != rec.path:
        dropped.append(DroppedInput(image_id=rec.image_id, file=rec.path,
                                    reason=f"duplicate image id (already taken by {first.path})"))  # fmt: skip


def _walk(
    path: Path, root: Path, records: dict[str, InputRecord], dropped: list[DroppedInput], exclude: tuple[Path, ...]
) -> None:
    if path.name.startswith(".") and path != root:
        return  # hidden files and folders (.git, .DS_Store) are not inputs
    if path in exclude:
        return  # e.g. the dataset being written inside the source folder
    if path.is_dir():
        if is_scene_dir(path):
            rel = path.relative_to(root).as_posix()
            rid = rel if rel != "." else path.name
            _add(InputRecord(image_id=rid, path=str(path), kind="sim"), records, dropped)
            return
        for child in sorted(path.iterdir()):
            _walk(child, root, records, dropped, exclude)
        return
    if not path.is_file() or _is_sidecar(path.name):
        return
    rel = path.relative_to(root).as_posix()
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        _add(_image_record(path, root), records, dropped)
    else:
        dropped.append(DroppedInput(image_id=rel, file=str(path), reason=f"not an image file ({path.suffix or 'no extension'})"))


def _glob_root(pattern: str) -> Path:
    """The deepest folder of a glob pattern without wildcards: image ids are relative to it."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for p in parts:
        if glob.has_magic(p):
            break
        fixed.append(p)
    root = Path(*fixed) if fixed else Path(".")
    return root if root.is_dir() else root.parent


def discover(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    exclude: Sequence[str | os.PathLike[str]] = (),
) -> Discovery:
    """Find every input under ``source`` (dir, glob, file, or a list of them), sorted by image id.

    Paths in ``exclude`` (and everything under them) are skipped.
    """
    skip = tuple(Path(e).resolve() for e in exclude)
    sources: Iterable[str | os.PathLike[str]] = [source] if isinstance(source, (str, os.PathLike)) else source
    records: dict[str, InputRecord] = {}
    dropped: list[DroppedInput] = []
    for src in sources:
        s = os.fspath(src)
        if glob.has_magic(s):
            root = _glob_root(s).resolve()
            matches = sorted(glob.glob(s, recursive=True))
            if not matches:
                raise FileNotFoundError(f"source glob {s!r} matched no files")
            for m in matches:
                _walk(Path(m).resolve(), root, records, dropped, skip)
            continue
        p = Path(s).resolve()
        if not p.exists():
            raise FileNotFoundError(f"source {s!r} does not exist")
        if p.is_dir() and not is_scene_dir(p):
            _walk(p, p, records, dropped, skip)
        else:  # a single image file or a single scene folder: id relative to its parent
            _walk(p, p.parent, records, dropped, skip)
    ordered = [records[k] for k in sorted(records)]
    return Discovery(records=ordered, dropped=sorted(dropped, key=lambda d: (d.image_id, d.file)))


# --------------------------------------------------------------------------- reading
def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()  # decode now so truncated files fail here, not later
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise SourceError(f"cannot decode image {path.name}: {e}") from e


def _read_depth(path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        d = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise SourceError(f"cannot read depth file {path.name}: {e}") from e
    if d.ndim != 2 or d.shape != shape:
        raise SourceError(f"depth file {path.name} has shape {d.shape}, image is {shape}")
    if not np.issubdtype(d.dtype, np.floating):
        raise SourceError(f"depth file {path.name} must hold float metres, got dtype {d.dtype}")
    d = d.astype(np.float32)
    if np.any(d[np.isfinite(d)] < 0):
        raise SourceError(f"depth file {path.name} has negative values (expected metres)")
    return d


def _read_intrinsics(path: Path, width: int, height: int) -> CameraIntrinsics:
    try:
        data = json.loads(path.read_text())
        intr = CameraIntrinsics.model_validate(data)
    except (OSError, ValueError) as e:
        raise SourceError(f"invalid intrinsics file {path.name}: {e}") from e
    if (intr.width, intr.height) != (width, height):
        raise SourceError(
            f"intrinsics file {path.name} is for {intr.width}x{intr.height} but the image is {width}x{height}"
        )
    return intr


def read_frame(record: InputRecord, require_depth: bool = False, depth_reason: str = "") -> Frame:
    """Load one input as a ``Frame``; raises ``SourceError`` (a ValueError) with the file and reason."""
    if record.kind == "sim":
        from spatialvlm_core import sim  # lazy: MuJoCo is only needed for synthetic scenes

        try:
            frame = sim.load_scene(record.path).frame()
        except (OSError, ValueError, KeyError) as e:
            raise SourceError(f"cannot load synthetic scene {record.path}: {e}") from e
        return frame.model_copy(update={"image_id": record.image_id, "source": str(record.image_path)})
    path = Path(record.path)
    rgb = _read_rgb(path)
    h, w = rgb.shape[:2]
    depth = None
    if record.depth_path is not None:
        depth = _read_depth(Path(record.depth_path), (h, w))
    elif require_depth:
        why = f" ({depth_reason})" if depth_reason else ""
        raise SourceError(f"missing depth file {_stem(path).name}{DEPTH_SUFFIX}{why}")
    intr = _read_intrinsics(Path(record.intrinsics_path), w, h) if record.intrinsics_path else None
    try:
        return Frame(image_id=record.image_id, rgb=rgb, depth=depth, intrinsics=intr, source=str(path))
    except ValueError as e:
        raise SourceError(f"{path.name}: {e}") from e
