"""``synth_dataset``: build (or resume) a dataset folder from a source, with the local or the Ray runner.

Resume: the manifest is rewritten after every finished shard, so a run killed at any moment (SIGKILL
included) loses only the shards then in flight; the next run removes the temporaries a killed writer left,
skips the shards the manifest lists and writes the rest, giving the same files as an uninterrupted run.
One writer at a time: a second run on the same folder fails at once instead of racing the first.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from spatialvlm_core.atomic import remove_stale_temporaries, sigterm_as_interrupt, single_writer
from spatialvlm_core.dataset.shards import (
    DroppedRow,
    Manifest,
    ShardRecord,
    check_writable,
    chunk,
    load_manifest,
    package_versions,
    save_manifest,
)
from spatialvlm_core.dataset.sources import DroppedInput, InputRecord, discover
from spatialvlm_core.pipeline.config import PipelineConfig, RunOptions, StagesFactory, default_stages
from spatialvlm_core.pipeline.image import ShardTask
from spatialvlm_core.pipeline.local import run_local


def _inputs_hash(records: Sequence[InputRecord]) -> str:
    return hashlib.sha256("\n".join(r.image_id for r in records).encode()).hexdigest()[:16]


def _discovery_rows(dropped: Sequence[DroppedInput]) -> list[DroppedRow]:
    return [DroppedRow(image_id=d.image_id, file=d.file, reason=d.reason, stage=d.stage) for d in dropped]


def synth_dataset(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: PipelineConfig | None = None,
    *,
    options: RunOptions | None = None,
    stages_factory: StagesFactory | None = None,
) -> Manifest:
    """Build (or resume) the dataset in ``out`` from ``source``; returns the final manifest.

    SIGTERM is handled like Ctrl-C (KeyboardInterrupt): workers stop, finished shards stay recorded.
    """
    config = config or PipelineConfig()
    options = options or RunOptions()
    out_dir = Path(out).resolve()
    check_writable(out_dir)  # before any work
    with single_writer(out_dir), sigterm_as_interrupt():
        remove_stale_temporaries(out_dir)
        return _synth(source, out_dir, config, options, stages_factory or default_stages)


def _synth(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], out_dir: Path, config: PipelineConfig,
    options: RunOptions, factory: StagesFactory,
) -> Manifest:  # fmt: skip
    found = discover(source, exclude=[out_dir])  # an output inside the source folder is not an input
    records = found.records[: config.limit] if config.limit else found.records
    shards = chunk(records, config.shard_size)
    tasks = [ShardTask(index=i, total=len(shards), records=s) for i, s in enumerate(shards)]

    manifest = load_manifest(out_dir)
    if manifest is not None:
        if manifest.config_hash != config.digest():
            raise ValueError(
                f"{out_dir / 'manifest.json'} was written with a different config "
                f"({json.dumps(manifest.config, sort_keys=True)}); use a new --out or delete it"
            )
        if manifest.inputs_hash != _inputs_hash(records):
            raise ValueError(f"{out_dir} was built from different inputs than {source!s}; use a new --out")
    else:
        manifest = Manifest(
            source=str(source) if isinstance(source, (str, os.PathLike)) else json.dumps([str(s) for s in source]),
            config=config.model_dump(mode="json"), config_hash=config.digest(),
            inputs_hash=_inputs_hash(records), seed=config.seed, backends=config.backends(),
        )  # fmt: skip
    manifest.packages = package_versions()
    manifest.runner = options.model_dump(mode="json")
    manifest.discovery_dropped = _discovery_rows(found.dropped)
    manifest.counts.images_found = len(found.records) + len(found.dropped)
    manifest.counts.images_selected = len(records)
    manifest.counts.shards_total = len(tasks)
    manifest.complete = False
    manifest.last_run_shards = []
    pending = [t for t in tasks if not manifest.shard_done(t.index, out_dir)]
    save_manifest(out_dir, manifest)  # counts and shards_total are visible from the start

    def on_shard(rec: ShardRecord) -> None:
        manifest.shards[str(rec.index)] = rec
        manifest.last_run_shards.append(rec.index)
        save_manifest(out_dir, manifest)

    t0 = time.perf_counter()
    try:
        if options.runner == "ray":
            from spatialvlm_core.pipeline.ray_runner import run_ray  # optional: ray

            run_ray(pending, config, out_dir, factory, options, on_shard)
        else:
            run_local(pending, config, out_dir, factory, options, on_shard)
        manifest.complete = all(manifest.shard_done(t.index, out_dir) for t in tasks)
    finally:
        wall = time.perf_counter() - t0
        manifest.timings_s["wall_last_run"] = round(wall, 3)
        manifest.timings_s["wall_total"] = round(manifest.timings_s.get("wall_total", 0.0) + wall, 3)
        save_manifest(out_dir, manifest)
    return manifest
