"""The training recipe every model family starts from: what runs before the steps, how a batch is built, which
loss parts are summed with which weights. A family with more to do subclasses it (``recipe_composed.py``,
``recipe_hf.py``) and registers in ``recipes.py``; the loop calls nothing model-specific."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from spatialvlm_core.dataset.reader import ImageCache, QAExample
from spatialvlm_core.model.base import SpatialVLMModel, weighted_loss
from spatialvlm_core.train.config import TrainConfig


class AnswerRecipe:
    """Any model: the loss on the answer tokens, images decoded once at their file size."""

    def __init__(self, model: SpatialVLMModel, cfg: TrainConfig) -> None:
        self.model, self.cfg = model, cfg
        self.images = ImageCache(None)

    def init_vision(self, ckpt: Path) -> None:
        """Start the vision tower from another checkpoint's (``TrainConfig.init_vision``)."""
        raise ValueError(f"init_vision: a {type(self.model).__name__} has no tower to start from {ckpt}")

    def check_shardable(self, amp: torch.dtype | None) -> None:
        """Raise unless this family can train sharded (FSDP gathers a block's weights in its ``forward``, so every
        step must reach the parameters through the model's forward)."""
        if amp is torch.float16:
            raise ValueError("parallel='fsdp' trains in bf16 or fp32 (precision='bf16'), not fp16")

    def prepare(self, examples: list[QAExample], metrics: Path, resumed: bool) -> None:
        """Work before the first step (warm-ups); ``resumed`` runs skip it: their checkpoint holds its result."""

    def weights(self) -> dict[str, float]:
        """Weight of each auxiliary loss part (``SpatialVLMModel.loss_parts``); a part not named weighs 1."""
        return {}

    def param_groups(self, params: list[torch.nn.Parameter]) -> list[dict[str, Any]]:
        """The optimiser's parameter groups (one, at the run's learning rate, unless a family splits them)."""
        return [{"params": params}]

    def batch(self, examples: list[QAExample]) -> dict[str, Any]:
        return self.model.encode([self.images(e.image) for e in examples], [e.question for e in examples],
                                 [e.answer for e in examples])

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """(the weighted total, each part's value for the metrics)."""
        parts = self.model(batch)  # forward: the named losses (through forward, so FSDP gathers the weights)
        return weighted_loss(parts, self.weights()), {k: float(v.detach()) for k, v in parts.items()}
