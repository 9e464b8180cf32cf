"""Local runner: shards in this process (one worker) or in a process pool, recorded as each one finishes.

The manifest and the bar advance shard by shard in completion order, so a kill at any moment loses at
most the shards then running. Workers die with the parent (``lifetime.armed_initializer``), ignore Ctrl-C
(the parent stops them) and are terminated when the run is interrupted; what they left half-written
is temporary files, which the next run removes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

from spatialvlm_core.dataset.shards import ShardRecord
from spatialvlm_core.pipeline.config import PipelineConfig, RunOptions, StagesFactory
from spatialvlm_core.pipeline.image import ShardTask, run_shard
from spatialvlm_core.pipeline.lifetime import armed_initializer, stop_processes
from spatialvlm_core.pipeline.progress import Progress

_WORKER: dict[str, Any] = {}


def _init_worker(factory: StagesFactory, config: PipelineConfig) -> None:
    _WORKER["stages"] = factory(config)  # once per process: model backends load once
    _WORKER["config"] = config


def _worker_run_shard(task: ShardTask, out: str) -> ShardRecord:
    return run_shard(task, _WORKER["stages"], _WORKER["config"], Path(out))


def run_local(
    tasks: Sequence[ShardTask], config: PipelineConfig, out: Path, factory: StagesFactory,
    options: RunOptions, on_shard: Callable[[ShardRecord], None],
) -> None:  # fmt: skip
    progress = Progress(sum(len(t.records) for t in tasks), options.progress)
    try:
        if options.workers == 1 or len(tasks) <= 1:
            stages = factory(config)
            for task in tasks:
                on_shard(run_shard(task, stages, config, out, lambda r: progress.update(1, len(r.rows))))
            return
        _run_pool(tasks, config, out, factory, options, on_shard, progress)
    finally:
        progress.close()


def _run_pool(
    tasks: Sequence[ShardTask], config: PipelineConfig, out: Path, factory: StagesFactory,
    options: RunOptions, on_shard: Callable[[ShardRecord], None], progress: Progress,
) -> None:  # fmt: skip
    ctx = get_context(options.start_method)
    # forkserver workers are the forkserver's children, not ours (it exits with us, and they with it)
    parent = None if options.start_method == "forkserver" else os.getpid()
    payload = bytes(ForkingPickler.dumps((_init_worker, (factory, config))))
    pool = ProcessPoolExecutor(
        max_workers=min(options.workers, len(tasks)), mp_context=ctx,
        initializer=armed_initializer, initargs=(parent, payload),
    )  # fmt: skip
    clean_exit = False
    try:
        pending: set[Future[ShardRecord]] = {pool.submit(_worker_run_shard, t, str(out)) for t in tasks}
        failure: BaseException | None = None
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                if fut.cancelled():
                    continue
                exc = fut.exception()
                if exc is None:
                    rec = fut.result()
                    on_shard(rec)
                    progress.update(len(rec.image_ids), rec.qa_pairs)
                elif failure is None:
                    failure = exc
                    # queued shards never start; the ones running finish and are recorded (nothing lost)
                    for f in pending:
                        f.cancel()
        if failure is not None:
            raise failure
        clean_exit = True
    finally:
        if clean_exit:
            pool.shutdown(wait=True)
        else:  # interrupted (Ctrl-C, SIGTERM) or failed: stop the workers now, not after their shards
            procs = list(
                (getattr(pool, "_processes", None) or {}).values()
            )  # private: the only handle on them
            pool.shutdown(wait=False, cancel_futures=True)
            stop_processes(procs)
