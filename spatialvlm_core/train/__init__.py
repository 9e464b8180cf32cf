"""Training: ``train(TrainConfig(...))``. The loop (``loop.py``) is generic; each model family brings a recipe
(``recipe_composed.py``, ``recipe_hf.py``). ``train`` loads lazily so the CLI builds its parser without torch."""

from __future__ import annotations

from typing import Any

from spatialvlm_core.train.config import TrainConfig

__all__ = ["TrainConfig", "build_model", "seed_everything", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "build_model", "seed_everything"):
        from spatialvlm_core.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'spatialvlm_core.train' has no attribute {name!r}")
