"""Training recipes, one per model family (``ModelPreset.kind``): what runs before the steps, how a batch is
built, which losses are summed with which weights.

The loop in ``train.py`` calls a recipe and nothing model-specific; a new family is one recipe class plus one
line in ``RECIPES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from spatialvlm_core.data import ImageCache, QAExample
from spatialvlm_core.dataset.dense_labels import DenseCache
from spatialvlm_core.model.base import SpatialVLMModel, to_pil
from spatialvlm_core.relation_warmup import relation_warmup
from spatialvlm_core.train_config import TrainConfig
from spatialvlm_core.vision_warmup import vision_warmup


class AnswerRecipe:
    """Any model: the loss on the answer tokens, images decoded once at their file size."""

    def __init__(self, model: SpatialVLMModel, cfg: TrainConfig) -> None:
        self.model, self.cfg = model, cfg
        self.images = ImageCache(None)

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
        parts = self.model.loss_parts(batch)
        w = self.weights()
        total: Any = 0
        for name, part in parts.items():
            total = total + w.get(name, 1.0) * part
        return total, {k: float(v.detach()) for k, v in parts.items()}


class TowerCache:
    """A frozen vision tower's output per image, computed once (the tower is a third of a step on CPU)."""

    def __init__(self) -> None:
        self._cache: dict[Path, Any] = {}

    def __call__(self, model: Any, paths: list[Path], pixel_values: Any) -> Any:
        todo = [i for i, p in enumerate(paths) if p not in self._cache]
        if todo:
            with torch.no_grad():
                out = model.vision(pixel_values[todo])
            for i, t in zip(todo, out, strict=True):
                self._cache[paths[i]] = t
        return torch.stack([self._cache[p] for p in paths])


class ComposedRecipe(AnswerRecipe):
    """The composed model (model/composed.py): dense tower targets and relation-head targets beside the answers,
    a dense-only tower warm-up, a cached frozen tower and a relation-head warm-up on it."""

    def __init__(self, model: Any, cfg: TrainConfig) -> None:
        super().__init__(model, cfg)
        self.images = ImageCache(model.preset.vision.image_size)
        self.dense = DenseCache()
        self.tower: TowerCache | None = None

    def prepare(self, examples: list[QAExample], metrics: Path, resumed: bool) -> None:
        cfg, model = self.cfg, self.model
        if cfg.vision_warmup_steps > 0 and not resumed:
            with metrics.open("a") as mf:
                vision_warmup(model, [e.image for e in examples], cfg.vision_warmup_steps, cfg.batch_size, cfg.lr,
                              cfg.seed, mf, cfg.progress, images=self.images, dense=self.dense)
        if not any(p.requires_grad for p in model.vision.parameters()):  # type: ignore[attr-defined]
            self.tower = TowerCache()
        if cfg.relation_warmup_epochs > 0 and not resumed:
            with metrics.open("a") as mf:
                relation_warmup(model, examples, cfg.relation_warmup_epochs, cfg.relation_warmup_lr, cfg.seed,
                                metrics=mf, progress=cfg.progress, images=self.images, tower=self.tower,
                                weight_decay=cfg.relation_warmup_weight_decay)
            model.train()

    def weights(self) -> dict[str, float]:
        return {"dense": self.cfg.dense_weight, "relation": self.cfg.relation_weight}

    def batch(self, examples: list[QAExample]) -> dict[str, Any]:
        model, cfg = self.model, self.cfg
        batch = super().batch(examples)
        if self.tower is not None:  # frozen tower: its output per image once; no dense loss to train
            batch["vision_tokens"] = self.tower(model, [e.image for e in examples], batch["pixel_values"])
        elif cfg.dense_weight > 0:
            batch.update(model.dense_batch([self.dense(e.image) for e in examples]))
        if cfg.relation_weight > 0:
            batch.update(model.relation_batch([e.qa for e in examples]))
        return batch


class HFRecipe(AnswerRecipe):
    """Hugging Face checkpoints (model/hf): a learning rate per part (vision, projector, language model),
    optional gradient checkpointing, and images decoded per batch (real photos of a large set do not fit in
    memory, and decoding is cheap next to a multi-billion-parameter step)."""

    def __init__(self, model: Any, cfg: TrainConfig) -> None:
        super().__init__(model, cfg)
        self.hf: Any = model  # an HFVLM (model/hf): typed loosely, the recipes module imports no backend
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


RECIPES: dict[str, type[AnswerRecipe]] = {"composed": ComposedRecipe, "hf": HFRecipe}


def recipe_for(model: SpatialVLMModel, cfg: TrainConfig) -> AnswerRecipe:
    """The recipe registered for the model's family, or the answer-only one."""
    return RECIPES.get(model.preset.kind, AnswerRecipe)(model, cfg)
