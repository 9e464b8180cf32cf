"""One image through the stages (``process_image``), and one shard of images to its files (``write_shard``).

Determinism: each image's QA seed is derived from the global seed and its image id, and shards are fixed
groups of images in id order, so the output does not depend on the runner, worker count or order.

Errors: ``ValueError`` from reading or a stage means "this input is bad" and lands in dropped.jsonl; any
other exception is a bug or an interruption and stops the run (finished shards stay; a re-run resumes).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.dataset.shards import (
    DroppedRow,
    ShardRecord,
    atomic_copy,
    atomic_write_text,
    qa_to_row,
    write_rows,
)
from spatialvlm_core.dataset.sources import InputRecord, read_frame, safe_id
from spatialvlm_core.pipeline.config import PipelineConfig, Stages, image_seed


# --------------------------------------------------------------------------- one image
class ImageResult(BaseModel):
    """What one image produced; crosses process (and Ray) boundaries as JSON."""

    model_config = ConfigDict(extra="forbid")

    image_id: str
    scene_id: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
    scene_json: str | None = None
    image_src: str | None = None
    image_dst: str | None = None  # path relative to the dataset root; None with --images reference
    dropped: DroppedRow | None = None
    timings_s: dict[str, float] = Field(default_factory=dict)


def dataset_image_path(record: InputRecord, config: PipelineConfig) -> tuple[str, str | None]:
    """(value of the ``image`` column, copy destination or None)."""
    if config.images == "reference":
        return str(record.image_path), None
    rel = f"images/{record.image_id}" if record.kind == "image" else f"images/{record.image_id}.png"
    return rel, rel


def process_image(record: InputRecord, stages: Stages, config: PipelineConfig) -> ImageResult:
    sid = safe_id(record.image_id)
    timings: dict[str, float] = {}
    stage = "read"

    def drop(reason: str) -> ImageResult:
        return ImageResult(
            image_id=record.image_id, scene_id=sid, timings_s=timings,
            dropped=DroppedRow(image_id=record.image_id, file=record.path, reason=reason, stage=stage),
        )  # fmt: skip

    t = time.perf_counter()
    try:
        frame = read_frame(record, config.depth_required, f"required by depth backend {config.depth!r}")
        timings["read"] = time.perf_counter() - t
        if stages.filter is not None:
            stage, t = "filter", time.perf_counter()
            decision = stages.filter(frame)
            timings["filter"] = time.perf_counter() - t
            if not decision.keep:
                return drop(f"scene filter (score {decision.score:.3f}): {decision.reason}")
        stage, t = "reconstruct", time.perf_counter()
        scene = stages.reconstruct(frame).model_copy(update={"scene_id": sid})
        timings["reconstruct"] = time.perf_counter() - t
        stage, t = "ask", time.perf_counter()
        qas = stages.ask(scene, image_seed(config.seed, record.image_id))
        timings["ask"] = time.perf_counter() - t
    except ValueError as e:  # bad input (see module doc); everything else propagates and stops the run
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t
        return drop(str(e))
    image_col, dst = dataset_image_path(record, config)
    rows = [qa_to_row(qa.model_copy(update={"image_id": record.image_id}), image_col, sid) for qa in qas]
    return ImageResult(
        image_id=record.image_id, scene_id=sid, rows=rows, scene_json=scene.model_dump_json(),
        image_src=str(record.image_path), image_dst=dst, timings_s=timings,
    )  # fmt: skip


# --------------------------------------------------------------------------- one shard
class ShardTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    total: int
    records: list[InputRecord]


def write_shard(out: Path, task: ShardTask, results: Sequence[ImageResult]) -> ShardRecord:
    """Images and scenes first, then the row files: a shard is complete once the manifest lists it."""
    t = time.perf_counter()
    by_id = {r.image_id: r for r in results}
    ordered = [by_id[rec.image_id] for rec in task.records]  # stable order whatever the arrival order
    rows: list[dict[str, Any]] = []
    for r in ordered:
        if r.dropped is not None:
            continue
        if r.image_dst is not None and r.image_src is not None:
            atomic_copy(Path(r.image_src), out / r.image_dst)
        if r.scene_json is not None:
            atomic_write_text(out / "scenes" / f"{r.scene_id}.json", r.scene_json)
        rows.extend(r.rows)
    parquet, jsonl = write_rows(out, task.index, task.total, rows)
    timings: Counter[str] = Counter()
    for r in ordered:
        timings.update(r.timings_s)
    timings["write"] += time.perf_counter() - t
    return ShardRecord(
        index=task.index, parquet=parquet, jsonl=jsonl, image_ids=[r.image_id for r in ordered],
        images_ok=sum(r.dropped is None for r in ordered), qa_pairs=len(rows),
        qa_by_type=dict(sorted(Counter(row["qtype"] for row in rows).items())),
        dropped=[r.dropped for r in ordered if r.dropped is not None],
        timings_s={k: round(v, 4) for k, v in sorted(timings.items())},
    )  # fmt: skip


def run_shard(
    task: ShardTask, stages: Stages, config: PipelineConfig, out: Path,
    on_image: Callable[[ImageResult], None] | None = None,
) -> ShardRecord:  # fmt: skip
    results = []
    for rec in task.records:
        r = process_image(rec, stages, config)
        results.append(r)
        if on_image is not None:
            on_image(r)
    return write_shard(out, task, results)
