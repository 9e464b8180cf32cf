"""Dataset layout on disk: atomic shard writes, the manifest, and resume.

DATASET/
  data/train-00000-of-00004.parquet   QA rows (Hugging Face ``datasets`` opens data/*.parquet)
  jsonl/shard-00000.jsonl             the same rows, one JSON object a line
  images/...                          copied inputs (or rows reference the source files)
  scenes/<scene_id>.json              Scene3D per image
  dropped.jsonl                       inputs that produced nothing, with file and reason
  manifest.json                       config, seed, versions, counts, timings, completed shards

Every file is written to a temp name and ``os.replace``d, so a crash leaves either the old file or the new
one (plus a temporary, which the next run removes). A shard counts as done only once the manifest lists
it; the manifest is rewritten after every shard, and a re-run skips done shards.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.atomic import atomic_write, atomic_write_text
from spatialvlm_core.types import QAPair

MANIFEST = "manifest.json"
DROPPED = "dropped.jsonl"

# Explicit schema: a shard whose rows all lack e.g. ``value`` must still have a float column, or
# ``datasets`` refuses to concatenate shards with differing types.
ROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("image_id", pa.string()),
        ("qtype", pa.string()),
        ("category", pa.string()),
        ("kind", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("value", pa.float64()),
        ("unit", pa.string()),
        ("truth", pa.float64()),
        ("truth_bool", pa.bool_()),
        ("choice", pa.string()),
        ("object_ids", pa.list_(pa.string())),
        ("provenance", pa.string()),  # JSON object as text: its keys vary between question types
        ("image", pa.string()),  # path relative to the dataset root (or absolute with --images reference)
        ("scene_id", pa.string()),
    ]
)
ROW_COLUMNS = tuple(ROW_SCHEMA.names)

PACKAGES = (
    "spatialvlm", "numpy", "pydantic", "pyarrow", "pillow", "scipy", "torch", "transformers",
    "mujoco", "onnxruntime", "open_clip_torch", "segment-anything", "ray", "datasets",
)  # fmt: skip


def qa_to_row(qa: QAPair, image: str, scene_id: str) -> dict[str, Any]:
    d = qa.model_dump(mode="json")
    d["provenance"] = json.dumps(d["provenance"], sort_keys=True)
    d["object_ids"] = list(d["object_ids"])
    d["image"] = image
    d["scene_id"] = scene_id
    return {k: d[k] for k in ROW_COLUMNS}


def row_to_qa(row: dict[str, Any]) -> QAPair:
    """Inverse of ``qa_to_row`` (drops the dataset-only columns)."""
    fields = {k: v for k, v in row.items() if k in QAPair.model_fields}
    if isinstance(fields.get("provenance"), str):
        fields["provenance"] = json.loads(fields["provenance"])
    return QAPair.model_validate(fields)


# --------------------------------------------------------------------------- atomic files
def atomic_copy(src: Path, dst: Path) -> None:
    atomic_write(dst, lambda t: shutil.copyfile(src, t))


def atomic_write_parquet(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(list(rows), schema=ROW_SCHEMA)
    atomic_write(path, lambda t: pq.write_table(table, t))


def atomic_write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    atomic_write_text(path, text)


# --------------------------------------------------------------------------- names
def shard_parquet_name(index: int, total: int) -> str:
    return f"data/train-{index:05d}-of-{total:05d}.parquet"


def shard_jsonl_name(index: int) -> str:
    return f"jsonl/shard-{index:05d}.jsonl"


def write_rows(out: Path, index: int, total: int, rows: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """The one row writer (the pipeline's shards and the sim splits): shard ``index`` of ``total`` as JSONL and
    Parquet (``ROW_SCHEMA``), each atomically; returns their paths relative to ``out``. The shard counts as
    done only once the manifest lists it (``save_manifest``)."""
    parquet, jsonl = shard_parquet_name(index, total), shard_jsonl_name(index)
    atomic_write_jsonl(out / jsonl, rows)
    atomic_write_parquet(out / parquet, rows)
    return parquet, jsonl


def check_writable(out: Path) -> None:
    """Fail before any work when ``out`` cannot hold a dataset (a file, an unwritable folder)."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise PermissionError(f"output directory {out} is not writable: {e}") from e


# --------------------------------------------------------------------------- manifest
class DroppedRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: str
    file: str
    reason: str
    stage: str


class ShardRecord(BaseModel):
    """A completed shard: its files, what went in, what came out."""

    model_config = ConfigDict(extra="forbid")

    index: int
    parquet: str
    jsonl: str
    image_ids: list[str]
    images_ok: int
    qa_pairs: int
    qa_by_type: dict[str, int] = Field(default_factory=dict)
    dropped: list[DroppedRow] = Field(default_factory=list)
    timings_s: dict[str, float] = Field(default_factory=dict)


class Counts(BaseModel):
    images_found: int = 0
    images_selected: int = 0
    images_ok: int = 0
    images_dropped: int = 0
    qa_pairs: int = 0
    qa_by_type: dict[str, int] = Field(default_factory=dict)
    shards_total: int = 0
    shards_done: int = 0


class Manifest(BaseModel):
    """Provenance and progress of one dataset folder; rewritten atomically after every shard."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = "1"
    source: str
    config: dict[str, Any]  # PipelineConfig as JSON: everything that decides the output
    config_hash: str
    inputs_hash: str  # digest of the selected image ids: a resume must see the same inputs
    seed: int
    backends: dict[str, str]
    runner: dict[str, Any] = Field(default_factory=dict)  # runner name/workers: do not change the output
    packages: dict[str, str] = Field(default_factory=dict)
    created_utc: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    updated_utc: str = ""
    complete: bool = False
    counts: Counts = Field(default_factory=Counts)
    timings_s: dict[str, float] = Field(default_factory=dict)
    discovery_dropped: list[DroppedRow] = Field(default_factory=list)
    shards: dict[str, ShardRecord] = Field(default_factory=dict)  # str(index) -> record (JSON keys are strings)
    # Shards the latest run (re)wrote, in completion order: after a kill, exactly the ones that were missing.
    last_run_shards: list[int] = Field(default_factory=list)

    def shard_done(self, index: int, out: Path) -> bool:
        rec = self.shards.get(str(index))
        return rec is not None and (out / rec.parquet).is_file() and (out / rec.jsonl).is_file()

    def all_dropped(self) -> list[DroppedRow]:
        rows = list(self.discovery_dropped)
        for key in sorted(self.shards, key=int):
            rows.extend(self.shards[key].dropped)
        return sorted(rows, key=lambda r: (r.image_id, r.stage))

    def recount(self) -> None:
        c = self.counts
        c.shards_done = len(self.shards)
        c.images_ok = sum(s.images_ok for s in self.shards.values())
        c.images_dropped = len(self.all_dropped())
        c.qa_pairs = sum(s.qa_pairs for s in self.shards.values())
        by_type: dict[str, int] = {}
        for s in self.shards.values():
            for k, v in s.qa_by_type.items():
                by_type[k] = by_type.get(k, 0) + v
        c.qa_by_type = dict(sorted(by_type.items()))
        stage_totals: dict[str, float] = {}
        for s in self.shards.values():
            for k, v in s.timings_s.items():
                stage_totals[k] = stage_totals.get(k, 0.0) + v
        self.timings_s = {**{k: round(v, 4) for k, v in sorted(stage_totals.items())},
                          **{k: v for k, v in self.timings_s.items() if k.startswith("wall")}}  # fmt: skip


def package_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def load_manifest(out: Path) -> Manifest | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.model_validate_json(path.read_text())
    except ValueError as e:
        raise ValueError(f"cannot read {path}: {e}; delete it (or use a new --out) to start over") from e


def save_manifest(out: Path, manifest: Manifest) -> None:
    manifest.updated_utc = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest.recount()
    atomic_write_text(out / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
    atomic_write_jsonl(out / DROPPED, (r.model_dump() for r in manifest.all_dropped()))


T = TypeVar("T")


def chunk(items: Sequence[T], size: int) -> list[list[T]]:
    """Fixed groups in stable order: shard ``i`` is always items[i*size:(i+1)*size]."""
    if size < 1:
        raise ValueError(f"shard_size must be >= 1, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def read_rows(out: Path) -> list[dict[str, Any]]:
    """All QA rows of a dataset from its JSONL shards, in shard order."""
    rows: list[dict[str, Any]] = []
    for p in sorted((out / "jsonl").glob("shard-*.jsonl")):
        rows.extend(json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip())
    return rows
