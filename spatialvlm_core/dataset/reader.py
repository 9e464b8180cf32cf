"""Reading a QA dataset for training: ``DATASET/data/*.parquet`` (or ``*.jsonl``) rows of QAPair fields
plus ``image`` (a PNG path relative to the dataset root); optional generic (non-spatial) QA mixed in."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydantic import ValidationError

from spatialvlm_core.types import QAExample, QAPair

REQUIRED_FIELDS = ("id", "image_id", "qtype", "category", "kind", "question", "answer", "image")
_QA_FIELDS = set(QAPair.model_fields)


def _shards(root: Path) -> list[Path]:
    data = root / "data"
    for pattern in ("*.parquet", "*.jsonl"):
        files = sorted(data.glob(pattern)) if data.is_dir() else []
        if files:
            return files
    raise FileNotFoundError(f"no dataset shards under {data} (expected data/*.parquet or data/*.jsonl)")


def _rows(shard: Path) -> list[dict[str, Any]]:
    if shard.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(shard).to_pylist()
    rows = []
    for i, line in enumerate(shard.read_text().splitlines()):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{shard} line {i + 1}: invalid JSON: {e}") from e
    return rows


def read_dataset_rows(root: str | Path) -> list[dict[str, Any]]:
    """Every row of a dataset's ``data/`` shards (Parquet, else JSONL; any shard name), as plain dicts."""
    return [row for shard in _shards(Path(root)) for row in _rows(shard)]


def row_to_example(row: dict[str, Any], root: Path, where: str) -> QAExample:
    """Validate one row; errors name ``where`` (shard and row) and the field."""
    for f in REQUIRED_FIELDS:
        if row.get(f) is None or (isinstance(row[f], str) and not row[f].strip()):
            raise ValueError(f"{where}: missing field {f!r}")
    fields = {k: v for k, v in row.items() if k in _QA_FIELDS}
    for k in ("object_ids",):
        if fields.get(k) is None:
            fields.pop(k, None)
    if isinstance(fields.get("provenance"), str):  # Parquet writers may store dicts as JSON text
        fields["provenance"] = json.loads(fields["provenance"] or "{}")
    if fields.get("provenance") is None:
        fields.pop("provenance", None)
    try:
        qa = QAPair(**fields)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err.get("loc", ())) or "row"
        raise ValueError(f"{where}: invalid field {field!r}: {err.get('msg')}") from e
    img = root / str(row["image"])
    if not img.is_file():
        raise FileNotFoundError(f"{where}: field 'image': file not found: {img}")
    return QAExample(image=img, question=qa.question, answer=qa.answer, qa=qa)


def load_qa_dataset(root: str | Path, limit: int | None = None) -> list[QAExample]:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset directory not found: {root}")
    out: list[QAExample] = []
    for shard in _shards(root):
        for i, row in enumerate(_rows(shard)):
            out.append(row_to_example(row, root, f"{shard.name} row {i} (id={row.get('id')!r})"))
            if limit is not None and len(out) >= limit:
                return out
    if not out:
        raise ValueError(f"dataset {root} has no rows")
    return out


# --------------------------------------------------------------------------- generic (non-spatial) data
_PALETTE = {
    "red": (200, 40, 40), "green": (40, 160, 60), "blue": (40, 60, 200), "yellow": (220, 210, 50),
    "white": (235, 235, 235), "black": (20, 20, 20), "gray": (128, 128, 128), "orange": (230, 130, 30),
    "purple": (130, 50, 160), "brown": (120, 80, 40), "cyan": (50, 200, 210), "pink": (230, 140, 180),
}


def dominant_colour(image: Image.Image) -> str:
    mean = np.asarray(image.convert("RGB").resize((16, 16)), dtype=np.float32).reshape(-1, 3).mean(0)
    return min(_PALETTE, key=lambda k: float(np.sum((mean - np.asarray(_PALETTE[k])) ** 2)))


def generic_examples(images: list[Path], n: int, seed: int) -> list[QAExample]:
    """Non-spatial QA synthesised from the images (dominant colour, a one-line caption)."""
    rng = random.Random(seed)
    out = []
    colours: dict[Path, str] = {}
    for _ in range(n):
        p = rng.choice(images)
        if p not in colours:
            with Image.open(p) as im:
                colours[p] = dominant_colour(im)
        c = colours[p]
        if rng.random() < 0.5:
            out.append(QAExample(p, "What colour is the picture mostly?", f"It is mostly {c}."))
        else:
            out.append(QAExample(p, "Describe the image.", f"A picture that is mostly {c}."))
    return out


def mix_datasets(spatial: list[QAExample], spatial_fraction: float, seed: int) -> list[QAExample]:
    """Spatial examples plus enough generic ones that spatial makes up ``spatial_fraction`` of the mix."""
    if not 0.0 < spatial_fraction <= 1.0:
        raise ValueError(f"spatial_fraction must be in (0, 1], got {spatial_fraction}")
    n_generic = round(len(spatial) * (1.0 - spatial_fraction) / spatial_fraction)
    if n_generic == 0:
        return list(spatial)
    images = sorted({e.image for e in spatial})
    return list(spatial) + generic_examples(images, n_generic, seed)


class ImageCache:
    """Decoded images resized to the model's input size, kept in memory (small renders)."""

    def __init__(self, size: int | None) -> None:
        self.size = size
        self._cache: dict[Path, Image.Image] = {}

    def __call__(self, path: Path) -> Image.Image:
        im = self._cache.get(path)
        if im is None:
            try:
                with Image.open(path) as f:
                    im = f.convert("RGB")
            except OSError as e:
                raise ValueError(f"cannot read image {path}: {e}") from e
            if self.size:
                im = im.resize((self.size, self.size), Image.BILINEAR)
            self._cache[path] = im
        return im
