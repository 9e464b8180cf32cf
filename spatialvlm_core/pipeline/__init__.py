"""Spatial QA synthesis at scale: filter -> perceive+lift+name -> ask, written as a sharded, resumable dataset.

Modules, each depending only on those above it (no import circles):

- ``config``: ``PipelineConfig`` (what is written), ``RunOptions`` (how it runs), ``Stages`` and the default
  stages factory, ``image_seed``;
- ``image``: one image through the stages (``process_image``) and one shard to its files (``write_shard``);
- ``progress``, ``lifetime``: the bar; worker processes that die with their parent;
- ``local``, ``ray_runner``: the process-pool and Ray runners, both recording each shard as it finishes;
- ``run``: ``synth_dataset`` (manifest, resume, stale temporaries, one writer per folder);
- ``sim_source``: rendered MuJoCo scenes as a source, train/bench splits;
- ``cli``: the ``synth`` and ``make-splits`` subcommands.

Names are re-exported here (lazily) so ``from spatialvlm_core.pipeline import ...`` keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spatialvlm_core.lazy_exports import lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from spatialvlm_core.pipeline.cli import _config_from_args, parse_backend_options, register
    from spatialvlm_core.pipeline.config import (
        FilterDecisionLike,
        PipelineConfig,
        RunOptions,
        Stages,
        StagesFactory,
        default_stages,
        image_seed,
    )
    from spatialvlm_core.pipeline.image import (
        ImageResult,
        ShardTask,
        dataset_image_path,
        process_image,
        run_shard,
        write_shard,
    )
    from spatialvlm_core.pipeline.local import run_local
    from spatialvlm_core.pipeline.progress import Progress
    from spatialvlm_core.pipeline.run import synth_dataset
    from spatialvlm_core.pipeline.sim_source import make_splits, render_sim_scenes, synth_sim_dataset

# name -> submodule. Loaded on first use (PEP 562), so importing one submodule, e.g. in a worker process
# that must arm its parent-death signal before anything slow, does not import them all.
_EXPORTS = {
    "_config_from_args": "cli", "parse_backend_options": "cli", "register": "cli",
    "FilterDecisionLike": "config", "PipelineConfig": "config", "RunOptions": "config", "Stages": "config",
    "StagesFactory": "config", "default_stages": "config", "image_seed": "config",
    "ImageResult": "image", "ShardTask": "image", "dataset_image_path": "image", "process_image": "image",
    "run_shard": "image", "write_shard": "image",
    "run_local": "local", "Progress": "progress", "synth_dataset": "run",
    "make_splits": "sim_source", "render_sim_scenes": "sim_source", "synth_sim_dataset": "sim_source",
}  # fmt: skip


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "FilterDecisionLike",
    "ImageResult",
    "PipelineConfig",
    "Progress",
    "RunOptions",
    "ShardTask",
    "Stages",
    "StagesFactory",
    "_config_from_args",
    "dataset_image_path",
    "default_stages",
    "image_seed",
    "make_splits",
    "parse_backend_options",
    "process_image",
    "register",
    "render_sim_scenes",
    "run_local",
    "run_shard",
    "synth_dataset",
    "synth_sim_dataset",
    "write_shard",
]
