"""Recipes by model family (``ModelConfig.type``): a new family is one recipe file plus one line here."""

from __future__ import annotations

from spatialvlm_core.model.base import SpatialVLMModel
from spatialvlm_core.train.config import TrainConfig
from spatialvlm_core.train.recipe import AnswerRecipe
from spatialvlm_core.train.recipe_composed import ComposedRecipe
from spatialvlm_core.train.recipe_hf import HFRecipe

RECIPES: dict[str, type[AnswerRecipe]] = {"composed": ComposedRecipe, "hf": HFRecipe}


def recipe_for(model: SpatialVLMModel, cfg: TrainConfig) -> AnswerRecipe:
    """The recipe registered for the model's family, or the answer-only one."""
    return RECIPES.get(model.preset.type, AnswerRecipe)(model, cfg)
