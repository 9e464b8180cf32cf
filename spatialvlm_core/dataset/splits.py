"""The one train/held-out splitter for synthetic data: which scene seeds a split renders.

Every sim dataset (``make_model``'s cached train and held-out splits, ``spatialvlm make-splits``,
``synth_sim_dataset``, the domain check's calibration scenes, the studies' data) draws its scenes here, so no two
of them can disagree on what "held out" means. A split seed ``s`` owns the scene seeds
``s * SPLIT_STRIDE + i`` for ``i < SPLIT_STRIDE``: two different split seeds never share a scene. Experiment
``seed`` trains on split seed ``2 * seed`` and holds out ``2 * seed + 1``; for seed 0 that is 0 and 1, the seeds
the shipped model's cached splits were rendered with (their cache keys and scenes are unchanged).
"""

from __future__ import annotations

from typing import Literal

SPLIT_STRIDE = 1_000_003  # scene seeds per split seed (a prime, so split blocks do not line up with room cycles)
Split = Literal["train", "held_out"]


def split_seed(split: Split, seed: int = 0) -> int:
    """The split seed of ``split`` in experiment ``seed``: train ``2 * seed``, held-out ``2 * seed + 1``."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if split not in ("train", "held_out"):
        raise ValueError(f"split must be 'train' or 'held_out', got {split!r}")
    return 2 * seed + (split == "held_out")


def scene_seeds(split_seed: int, n: int) -> range:
    """The ``n`` scene seeds of split seed ``split_seed``, in order (scene ``i`` has seed ``start + i``)."""
    if split_seed < 0:
        raise ValueError(f"split seed must be >= 0, got {split_seed}")
    if not 0 <= n <= SPLIT_STRIDE:
        raise ValueError(f"a split holds 0..{SPLIT_STRIDE} scenes, got {n}")
    start = split_seed * SPLIT_STRIDE
    return range(start, start + n)
