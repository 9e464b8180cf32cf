"""The recipe of the composed model (``model/composed``): dense tower targets and relation-head targets beside
the answers, a dense-only tower warm-up, a cached frozen tower and a relation-head warm-up on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from spatialvlm_core.dataset.dense_labels import DenseCache
from spatialvlm_core.dataset.reader import ImageCache, QAExample
from spatialvlm_core.model.base import WEIGHTS_FILE
from spatialvlm_core.train.config import TrainConfig
from spatialvlm_core.train.recipe import AnswerRecipe
from spatialvlm_core.train.warmup_relation import relation_warmup
from spatialvlm_core.train.warmup_vision import vision_warmup


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
    def __init__(self, model: Any, cfg: TrainConfig) -> None:
        super().__init__(model, cfg)
        self.images = ImageCache(model.preset.vision.image_size)
        self.dense = DenseCache()
        self.tower: TowerCache | None = None

    def check_shardable(self, amp: torch.dtype | None) -> None:
        raise ValueError("parallel='fsdp' is for large Hugging Face checkpoints; the composed model's warm-ups and "
                         "tower cache call its parts outside its forward: train it with parallel='ddp'")

    def init_vision(self, ckpt: Path) -> None:
        """Copy the ``vision.*`` weights of checkpoint ``ckpt`` into the model (same tower architecture)."""
        f = ckpt / WEIGHTS_FILE
        if not f.is_file():
            raise FileNotFoundError(f"init_vision: {f} not found")
        state = {k[len("vision."):]: v for k, v in load_file(str(f)).items() if k.startswith("vision.")}
        if not state:
            raise ValueError(f"init_vision: {f} has no vision tower weights")
        try:
            self.model.vision.load_state_dict(state)
        except RuntimeError as e:
            raise ValueError(f"init_vision: the tower in {f} does not match the preset: {e}") from e

    def prepare(self, examples: list[QAExample], metrics: Path, resumed: bool) -> None:
        cfg, model = self.cfg, self.model
        if cfg.vision_warmup_steps > 0 and not resumed:
            with metrics.open("a") as mf:
                vision_warmup(model, [e.image for e in examples], cfg.vision_warmup_steps, cfg.batch_size, cfg.lr,
                              cfg.seed, mf, cfg.progress, images=self.images, dense=self.dense)
        if not any(p.requires_grad for p in model.vision.parameters()):
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
