"""Ray Data runner: the same stages and the same output as the local runner, spread over an actor pool.

Image records flow through ``map_batches`` into a pool of ``_SynthActor``s (each builds the stages once,
so model backends load once per actor). The driver regroups results by shard, in order, and writes each shard
with the same ``write_shard`` the local runner uses, so the two runners produce identical datasets. Each
shard is written and recorded (``on_shard``) as soon as its last image arrives; an interrupted run shuts
down the Ray it started, so its actors stop with it.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spatialvlm_core.dataset.shards import ShardRecord
from spatialvlm_core.dataset.sources import InputRecord
from spatialvlm_core.pipeline.config import PipelineConfig, RunOptions, StagesFactory
from spatialvlm_core.pipeline.image import ImageResult, ShardTask, process_image, write_shard
from spatialvlm_core.pipeline.progress import Progress

_STARTED_HERE: list[bool] = []  # non-empty once ensure_ray started the local Ray itself


def ensure_ray(num_cpus: int = 2) -> None:
    """Start a local Ray when none is running (an existing cluster or ``ray.init`` call wins)."""
    import ray

    if ray.is_initialized():
        return
    _STARTED_HERE.append(True)
    # Workers must import what the driver can (the package, and modules holding injected stage factories).
    pythonpath = os.pathsep.join(p for p in sys.path if p)
    ray.init(
        num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
        logging_level=logging.WARNING, runtime_env={"env_vars": {"PYTHONPATH": pythonpath}},
    )  # fmt: skip


class _SynthActor:
    """Ray Data callable class: one per actor, stages built once."""

    def __init__(self, factory: StagesFactory, config_json: str) -> None:
        self.config = PipelineConfig.model_validate_json(config_json)
        self.stages = factory(self.config)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        results = []
        for rec_json in batch["record"]:
            rec = InputRecord.model_validate_json(str(rec_json))
            results.append(process_image(rec, self.stages, self.config).model_dump_json())
        return {"shard": [int(s) for s in batch["shard"]], "result": results}


def run_ray(
    tasks: Sequence[ShardTask], config: PipelineConfig, out: Path, factory: StagesFactory,
    options: RunOptions, on_shard: Callable[[ShardRecord], None],
) -> None:  # fmt: skip
    if not tasks:
        return
    import ray
    import ray.data

    ensure_ray(num_cpus=max(2, options.workers))
    # An actor needs a whole CPU: more actors than the cluster has CPUs would wait forever.
    actors = max(1, min(options.workers, int(ray.cluster_resources().get("CPU", 1))))
    items = [{"record": rec.model_dump_json(), "shard": t.index} for t in tasks for rec in t.records]
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # shards then complete one after another
    ctx.enable_progress_bars = False
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * actors)))
    ds = ds.map_batches(
        _SynthActor, fn_constructor_kwargs={"factory": factory, "config_json": config.model_dump_json()},
        batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1,
    )  # fmt: skip
    by_index = {t.index: t for t in tasks}
    waiting: dict[int, list[ImageResult]] = {t.index: [] for t in tasks}
    progress = Progress(len(items), options.progress)
    failure: str | None = None
    try:
        for row in ds.iter_rows():
            res = ImageResult.model_validate_json(str(row["result"]))
            idx = int(row["shard"])
            waiting[idx].append(res)
            progress.update(1, len(res.rows))
            if len(waiting[idx]) == len(by_index[idx].records):
                on_shard(write_shard(out, by_index[idx], waiting.pop(idx)))
    except Exception as e:
        failure = f"{type(e).__name__}: {e}"
    except BaseException:  # Ctrl-C / SIGTERM: stop the actors now (a Ray we started goes with them)
        if _STARTED_HERE:
            ray.shutdown()
            _STARTED_HERE.clear()
        raise
    finally:
        progress.close()
    if failure is not None:
        # Re-raised as text, outside the except block: the original traceback holds Ray Data's executor
        # frames, which keep the actor pool (and its CPUs) alive for as long as anyone holds the exception,
        # so a resume in the same process would wait for CPUs that never come back.
        del ds
        gc.collect()
        raise RuntimeError(f"Ray run failed; finished shards are saved, re-run to resume. {failure}")
    if waiting:
        raise RuntimeError(f"Ray run ended with shards incomplete: {sorted(waiting)}")
