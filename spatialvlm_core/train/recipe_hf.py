"""The recipe of Hugging Face checkpoints (``model/hf``)."""

from __future__ import annotations

from typing import Any

import torch

from spatialvlm_core.dataset.reader import QAExample
from spatialvlm_core.model.base import to_pil
from spatialvlm_core.train.config import TrainConfig
from spatialvlm_core.train.recipe import AnswerRecipe


class HFRecipe(AnswerRecipe):
    """A learning rate per part (vision, projector, language model), optional gradient checkpointing, and images
    decoded per batch (real photos of a large set do not fit in memory, and decoding is cheap next to a
    multi-billion-parameter step)."""

    def __init__(self, model: Any, cfg: TrainConfig) -> None:
        super().__init__(model, cfg)
        self.hf: Any = model  # an HFVLM (model/hf): typed loosely, the recipe imports no backend
        self.hf.match_device_dtype()  # the loop has moved it to its device: bf16 on CUDA, fp32 on CPU
        if cfg.gradient_checkpointing:
            model.enable_gradient_checkpointing()

    def param_groups(self, params: list[torch.nn.Parameter]) -> list[dict[str, Any]]:
        groups = self.hf.param_groups(self.cfg.lr, dict(self.cfg.part_lr))
        if sum(len(g["params"]) for g in groups) != len(params):
            raise ValueError("HF parameter groups do not cover the model's trainable parameters")
        return groups

    def batch(self, examples: list[QAExample]) -> dict[str, Any]:
        return self.model.encode([to_pil(e.image) for e in examples], [e.question for e in examples],
                                 [e.answer for e in examples])
