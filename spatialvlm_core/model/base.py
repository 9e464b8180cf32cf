"""The interface every VLM family offers to the training loop and the tool (``SpatialVLMModel``), and two small
protocols: a model whose relation head estimates lengths (``LengthEstimator``) and a family's training recipe
(``TrainingRecipe``, implemented in ``spatialvlm_core.train``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image
from torch import nn

from spatialvlm_core.model.config import ModelConfig
from spatialvlm_core.types import Frame

PROMPT_TEMPLATE = "Question: {question}\nAnswer:"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"


def format_prompt(question: str) -> str:
    return PROMPT_TEMPLATE.format(question=question.strip())


def to_pil(image: Any) -> Image.Image:
    """PIL image from a PIL image, an HxWx3 uint8 array, a ``Frame`` or a path; clear error otherwise."""
    if isinstance(image, Frame):
        image = image.rgb
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image array must be HxWx3, got shape {image.shape}")
        return Image.fromarray(image.astype(np.uint8), "RGB")
    if isinstance(image, (str, Path)):
        p = Path(image)
        if not p.is_file():
            raise FileNotFoundError(f"image file not found: {p}")
        try:
            with Image.open(p) as im:
                return im.convert("RGB")
        except (OSError, Image.DecompressionBombError) as e:
            raise ValueError(f"cannot read image {p}: {e}") from e
    raise ValueError(f"unsupported image type {type(image).__name__}: pass a PIL image, an HxWx3 array, a Frame or a path")


def weighted_loss(parts: Mapping[str, torch.Tensor], weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """The sum of the named losses, each times its weight (1 for a part ``weights`` does not name)."""
    w = weights or {}
    total: Any = 0
    for name, part in parts.items():
        total = total + w.get(name, 1.0) * part
    return total


class SpatialVLMModel(nn.Module):
    """A VLM that turns (image, question) into answer text; trained with loss on answer tokens only."""

    preset: ModelConfig  # the family's config (saved in the checkpoint)

    def encode(self, images: list[Image.Image], questions: list[str], answers: list[str]) -> dict[str, Any]:
        """Training batch: model inputs plus ``labels`` (-100 everywhere except answer tokens)."""
        raise NotImplementedError

    def loss_parts(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Named losses of one batch: "lm" (answer tokens) always, auxiliary ones where the batch has targets."""
        raise NotImplementedError

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """``loss_parts``: a training step goes through ``forward`` so that wrappers (DDP, FSDP) see the call."""
        return self.loss_parts(batch)

    def shard_blocks(self) -> list[nn.Module]:
        """The blocks FSDP shards one at a time (a transformer's layers); [] shards the model as one unit."""
        return []

    def loss(self, batch: dict[str, Any], weights: Mapping[str, float] | None = None) -> torch.Tensor:
        """The weighted sum of the named losses (``weighted_loss``)."""
        return weighted_loss(self(batch), weights)

    def dense_batch(self, targets: list[dict[str, np.ndarray] | None]) -> dict[str, Any]:
        """Extra batch entries for per-token vision targets (one per row, None where the image has none).

        Backends without a dense head return ``{}`` and train on the answers alone.
        """
        return {}

    def relation_batch(self, qas: list[Any]) -> dict[str, Any]:
        """Extra batch entries for an auxiliary relation head (``model/composed/relation.py``) from each row's QA pair
        (None where a row has none). Backends without one return ``{}``."""
        return {}

    @torch.no_grad()
    def generate(self, images: list[Image.Image], questions: list[str], max_new_tokens: int = 16) -> list[str]:
        """Greedy decoding."""
        raise NotImplementedError

    @staticmethod
    def _check_pairs(images: list[Image.Image], questions: list[str]) -> bool:
        """Raise when the lists differ in length; False when there is nothing to decode."""
        if len(images) != len(questions):
            raise ValueError(f"got {len(images)} images but {len(questions)} questions")
        return bool(images)

    def save(self, path: str | Path) -> None:
        raise NotImplementedError

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


@runtime_checkable
class LengthEstimator(Protocol):
    """A model that also reads a length (metres) for each metric question off a head, unrounded (the tool pools
    these across ensemble members; ``ComposedVLM`` with a relation head)."""

    def length_estimates(self, images: list[Image.Image], questions: list[str], mirror: bool = True) -> list[float]:
        ...


class TrainingRecipe(Protocol):
    """What the training loop asks of a family's recipe (``spatialvlm_core.train.recipes``): batches of QA
    examples, the weighted loss with its logged parts, and the optimiser's parameter groups."""

    def batch(self, examples: list[Any]) -> dict[str, Any]:
        ...

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        ...

    def weights(self) -> dict[str, float]:
        ...

    def param_groups(self, params: list[nn.Parameter]) -> list[dict[str, Any]]:
        ...
