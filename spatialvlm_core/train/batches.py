"""Which rows each micro-batch holds: epochs are seeded permutations, so the order is a pure function of
(seed, step) and resuming needs no data-loader state."""

from __future__ import annotations

import functools

import numpy as np

from spatialvlm_core.dataset.reader import QAExample, mix_datasets
from spatialvlm_core.train.config import TrainConfig


@functools.lru_cache(maxsize=4)
def _epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(n: int, seed: int, step: int, micro: int, batch_size: int, grad_accum: int) -> list[int]:
    """Indices of one micro-batch of ``batch_size`` rows out of ``n``."""
    start = (step * grad_accum + micro) * batch_size
    return [int(_epoch_permutation(n, seed, c // n)[c % n]) for c in range(start, start + batch_size)]


def training_rows(examples: list[QAExample], cfg: TrainConfig, source: str) -> list[QAExample]:
    """The run's rows: filtered to ``cfg.qtypes``, mixed with general data."""
    if cfg.qtypes is not None:
        examples = [e for e in examples if e.qa is not None and e.qa.qtype in cfg.qtypes]
        if not examples:
            raise ValueError(f"{source}: no rows of question types {cfg.qtypes}")
    return mix_datasets(examples, cfg.spatial_fraction, cfg.seed)
