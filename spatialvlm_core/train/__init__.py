"""Training: ``train(TrainConfig(...))``. The loop (``loop.py``) is generic; each model family brings a recipe
(``recipe_composed.py``, ``recipe_hf.py``). ``train`` loads lazily so the CLI builds its parser without torch."""

from __future__ import annotations

from spatialvlm_core.lazy_exports import lazy_exports
from spatialvlm_core.train.config import TrainConfig

__all__ = ["TrainConfig", "build_model", "seed_everything", "train"]

__getattr__, __dir__ = lazy_exports(__name__, {n: "loop" for n in ("train", "build_model", "seed_everything")},
                                    globals())
