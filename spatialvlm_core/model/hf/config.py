"""The Hugging Face family's config: any ``AutoModelForImageTextToText`` checkpoint (Qwen2-VL, Idefics3/SmolVLM,
PaliGemma, LLaVA) named by ``hf_path``, fine-tuned in full, with a frozen LM, or with LoRA (the default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spatialvlm_core.model.config import LMMode, ModelConfig

HF_HUB_PREFIX = "hf-hub:"  # a Hugging Face Hub id as create_model takes it: hf-hub:<org>/<name>


@ModelConfig.register("hf")
@dataclass
class HFConfig(ModelConfig):
    lm_mode: LMMode = "lora"
    hf_path: str | None = None  # a local transformers dir or a hub id (``hf-hub:`` prefix optional here)

    @classmethod
    def _from_legacy(cls, d: dict[str, Any]) -> dict[str, Any]:
        """A flat preset dict from before the registry: the composed-only fields (always their defaults for
        an HF checkpoint) are dropped."""
        return {k: v for k, v in d.items() if k not in ("lm_source", "vision", "text")}

    def architecture(self) -> dict[str, Any]:
        return super().architecture() | {"hf_path": self.hf_path}
