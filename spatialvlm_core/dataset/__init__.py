"""Datasets, one job a module:

- ``reader``: load a QA dataset (``load_qa_dataset`` -> ``QAExample``), mix in generic QA, ``ImageCache``;
- ``shards``: the one writer: atomic Parquet/JSONL row shards, ``manifest.json``, resume;
- ``sources``: the image sources the pipeline reads (photos, frame folders, sim scenes) and ``discover``;
- ``frame_folder``: one RGB-D frame folder -> ``Frame``;
- ``exports``: LLaVA-style conversation records;
- ``dense_labels``: per-token vision labels from the sim's exact render (``<stem>.dense.npz``, ``DenseCache``);
- ``splits``: the one train/held-out splitter (scene seeds per split);
- ``sim_splits``: sim QA splits rendered and written through ``shards`` (``cached_sim_dataset``);
- ``toy``: a tiny procedural dataset for tests and benchmarks.

The layer may use the simulator, question synthesis and the model's pure label helpers; never the model's
families, training or the agent (an import-linter contract).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spatialvlm_core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from spatialvlm_core.dataset.dense_labels import DenseCache
    from spatialvlm_core.dataset.reader import ImageCache, QAExample, load_qa_dataset
    from spatialvlm_core.dataset.shards import Manifest, load_manifest, read_rows
    from spatialvlm_core.dataset.sim_splits import SimDataConfig, cached_sim_dataset, write_sim_dataset
    from spatialvlm_core.dataset.splits import scene_seeds, split_seed
    from spatialvlm_core.dataset.toy import write_toy_dataset

# name -> submodule, loaded on first use (PEP 562): importing ``dataset.splits`` does not pull in pyarrow or PIL.
_EXPORTS = {
    "DenseCache": "dense_labels", "ImageCache": "reader", "QAExample": "reader", "load_qa_dataset": "reader",
    "Manifest": "shards", "load_manifest": "shards", "read_rows": "shards",
    "SimDataConfig": "sim_splits", "cached_sim_dataset": "sim_splits", "write_sim_dataset": "sim_splits",
    "scene_seeds": "splits", "split_seed": "splits", "write_toy_dataset": "toy",
}  # fmt: skip


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "DenseCache",
    "ImageCache",
    "Manifest",
    "QAExample",
    "SimDataConfig",
    "cached_sim_dataset",
    "load_manifest",
    "load_qa_dataset",
    "read_rows",
    "scene_seeds",
    "split_seed",
    "write_sim_dataset",
    "write_toy_dataset",
]
