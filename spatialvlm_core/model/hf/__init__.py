"""Hugging Face image-text-to-text checkpoints (Idefics3/SmolVLM, Qwen2-VL, PaliGemma, LLaVA) behind the
``SpatialVLMModel`` interface: one backend, per-family parts (vision / projector / language model)."""

from spatialvlm_core.model.hf.families import PARTS, family_of, lora_targets, part_of
from spatialvlm_core.model.hf.model import CHECKPOINT_FORMAT, HF_HUB_PREFIX, HFVLM, hf_source, load_dtype

__all__ = ["CHECKPOINT_FORMAT", "HFVLM", "HF_HUB_PREFIX", "PARTS", "family_of", "hf_source", "load_dtype",
           "lora_targets", "part_of"]
