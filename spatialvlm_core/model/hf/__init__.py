"""Hugging Face image-text-to-text checkpoints (Idefics3/SmolVLM, Qwen2-VL, PaliGemma, LLaVA) behind the
``SpatialVLMModel`` interface: one backend, per-family parts (vision / projector / language model).

Importing this package loads the config only; the backend (torch, transformers) is imported on first use."""

from typing import Any

from spatialvlm_core.model.hf.config import HF_HUB_PREFIX, HFConfig

__all__ = [
    "CHECKPOINT_FORMAT",
    "HFVLM",
    "HF_HUB_PREFIX",
    "PARTS",
    "HFConfig",
    "family_of",
    "hf_source",
    "load_dtype",
    "lora_targets",
    "part_of",
]

_LAZY = {"PARTS": "families", "family_of": "families", "lora_targets": "families", "part_of": "families",
         "CHECKPOINT_FORMAT": "model", "HFVLM": "model", "hf_source": "model",
         "load_dtype": "model"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
