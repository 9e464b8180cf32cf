"""``HFVLM``: any ``AutoModelForImageTextToText`` checkpoint behind the composed model's interface.

Loaded in bf16 on CUDA (a 7B VLM is 28 GB of fp32 weights) and fp32 on CPU. Chat-template families
(Idefics3/SmolVLM, Qwen2-VL, LLaVA) build the prompt with the processor's template and append the answer tokens
to it, so the prompt is tokenised once and the labels start exactly where decoding will; PaliGemma has no chat
template and its processor builds prompt + ``suffix`` and the labels itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from spatialvlm_core.model.base import CONFIG_FILE, SpatialVLMModel
from spatialvlm_core.model.hf.config import HF_HUB_PREFIX, HFConfig
from spatialvlm_core.model.hf.families import PARTS, lora_targets, part_of, projector_modules

CHECKPOINT_FORMAT = "spatialvlm-hf/1"
ADAPTER_DIR = "adapter"
BASE_DIR = "base"
SUFFIX_FAMILIES = ("paligemma",)  # the processor takes the answer as ``suffix=`` and returns the labels


def hf_source(spec: str) -> str:
    """What ``from_pretrained`` takes: a hub id without its ``hf-hub:`` prefix, or a local dir as given."""
    return spec[len(HF_HUB_PREFIX):] if spec.startswith(HF_HUB_PREFIX) else spec


def load_dtype() -> torch.dtype:
    """bf16 where a CUDA device supports it (weights at half the memory), fp32 otherwise (CPU matmuls)."""
    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32


def _load(src: str) -> tuple[Any, Any]:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(src)
        model = AutoModelForImageTextToText.from_pretrained(src, dtype=load_dtype())
    except OSError as e:
        raise FileNotFoundError(f"cannot load an image-text-to-text checkpoint from {src!r}: {e}") from e
    return model, processor


class HFVLM(SpatialVLMModel):
    preset: HFConfig

    def __init__(self, preset: HFConfig, model: Any, processor: Any) -> None:
        super().__init__()
        self.preset = preset
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer if hasattr(processor, "tokenizer") else processor
        self.model_type: str = model.config.model_type

    @classmethod
    def from_pretrained(cls, path: str, preset: HFConfig) -> HFVLM:
        model, processor = _load(hf_source(path))
        mt = model.config.model_type
        if preset.lm_mode == "lora":
            from peft import LoraConfig, get_peft_model

            # Adapters on the family's LM linears; the projector trains in full and is saved with the adapter;
            # the vision tower stays frozen (as in the families' reference LoRA recipes).
            lcfg = LoraConfig(r=preset.lora_r, lora_alpha=preset.lora_alpha, lora_dropout=0.0,
                              target_modules=lora_targets(model, mt), modules_to_save=projector_modules(model, mt))
            model = get_peft_model(model, lcfg)
        else:
            for name, p in model.named_parameters():
                part = part_of(name, mt)
                # frozen LM: the vision side and the projector train; freeze_vision: the tower does not
                p.requires_grad = not ((preset.lm_mode == "frozen" and part == "lm")
                                       or (preset.freeze_vision and part == "vision"))
        return cls(preset, model, processor)

    # ------------------------------------------------------------------ training hooks (train_recipes.HFRecipe)
    def shard_blocks(self) -> list[torch.nn.Module]:
        """The checkpoint's own unsplittable blocks (transformers' ``_no_split_modules``: decoder and vision
        layers), so FSDP gathers one layer's weights at a time."""
        names = set(getattr(self.model, "_no_split_modules", None) or ())
        return [m for m in self.model.modules() if type(m).__name__ in names]

    def param_groups(self, lr: float, part_lr: dict[str, float] | None = None) -> list[dict[str, Any]]:
        """Trainable parameters split by part (vision, projector, lm), each at ``part_lr[part]`` or ``lr``."""
        by_part: dict[str, list[torch.nn.Parameter]] = {p: [] for p in PARTS}
        for name, p in self.named_parameters():
            if p.requires_grad:
                by_part[part_of(name, self.model_type)].append(p)
        lrs = part_lr or {}
        return [{"params": ps, "lr": lrs.get(part, lr), "part": part} for part, ps in by_part.items() if ps]

    def match_device_dtype(self) -> None:
        """fp32 weights when the model runs on CPU (loaded in bf16 on a CUDA machine, then trained on CPU)."""
        if self.device.type == "cpu" and next(self.model.parameters()).dtype != torch.float32:
            self.model.to(torch.float32)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute activations in backward (the memory of a multi-billion VLM's long image-token sequences)."""
        kw = {"use_reentrant": False}  # reentrant checkpoints lose the gradient of frozen-input LoRA layers
        if hasattr(self.model, "activation_checkpointing_enable"):  # the newer name (the old one warns)
            self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kw)
        else:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kw)
        self.model.config.use_cache = False

    # ------------------------------------------------------------------ batches
    def _prompt(self, question: str) -> str:
        if self.model_type in SUFFIX_FAMILIES:
            return question.strip()  # the processor adds the image tokens, <bos> and the "\n" separator
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question.strip()}]}]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(messages, add_generation_prompt=True)
        raise ValueError(f"the {self.model_type} processor has no chat_template; save one with the checkpoint")

    def _process(self, images: list[Image.Image], texts: list[str], side: str, **kw: Any) -> dict[str, Any]:
        self.tokenizer.padding_side = side
        ims: list[Any] = list(images) if self.model_type in SUFFIX_FAMILIES else [[im] for im in images]
        enc = self.processor(images=ims, text=texts, return_tensors="pt", padding=True, **kw)
        dtype = next(self.model.parameters()).dtype
        return {k: v.to(self.device, dtype=dtype) if v.is_floating_point() else v.to(self.device)
                for k, v in enc.items()}

    def encode(self, images: list[Image.Image], questions: list[str], answers: list[str]) -> dict[str, Any]:
        if self.model_type in SUFFIX_FAMILIES:
            return self._process(images, [self._prompt(q) for q in questions], "right",
                                 suffix=[a.strip() for a in answers])
        # Prompts once, left-padded (as in decoding), then each row's answer tokens (+ eos) and right padding.
        enc = self._process(images, [self._prompt(q) for q in questions], "left")
        ids = enc["input_ids"]
        eos = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        ans = [self.tokenizer(self.preset.answer_sep + a.strip(), add_special_tokens=False)["input_ids"] + eos
               for a in answers]
        n, width = ids.shape[1], max(len(a) for a in ans)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        tail = torch.full((ids.shape[0], width), pad, dtype=ids.dtype, device=ids.device)
        mask = torch.zeros_like(tail)
        for i, a in enumerate(ans):
            tail[i, : len(a)] = torch.tensor(a, dtype=ids.dtype)
            mask[i, : len(a)] = 1
        out = {k: v for k, v in enc.items() if not (torch.is_tensor(v) and v.shape == ids.shape)}
        for k, v in enc.items():  # per-token inputs: answers get 1 in the attention mask, 0 elsewhere
            if torch.is_tensor(v) and v.shape == ids.shape and k != "input_ids":
                out[k] = torch.cat([v, mask.to(v.dtype) if k == "attention_mask" else torch.zeros_like(tail, dtype=v.dtype)], 1)
        out["input_ids"] = torch.cat([ids, tail], 1)
        labels = torch.full_like(out["input_ids"], -100)
        labels[:, n:] = torch.where(mask.bool(), tail, torch.full_like(tail, -100))
        out["labels"] = labels
        return out

    def loss_parts(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"lm": self.model(**batch).loss}

    @torch.no_grad()
    def generate(self, images: list[Image.Image], questions: list[str], max_new_tokens: int = 16) -> list[str]:
        if not self._check_pairs(images, questions):
            return []
        enc = self._process(images, [self._prompt(q) for q in questions], "left")
        out = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                  pad_token_id=self.tokenizer.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        is_peft = hasattr(self.model, "peft_config")
        # LoRA: the adapter (+ the projector) only, plus where the base model lives; otherwise the whole model.
        if is_peft:
            self.model.save_pretrained(str(path / ADAPTER_DIR))
        else:
            self.model.save_pretrained(str(path / BASE_DIR))
            self.processor.save_pretrained(str(path / BASE_DIR))
        cfg = {"format": CHECKPOINT_FORMAT, "preset": self.preset.to_dict(), "adapter": is_peft}
        (path / CONFIG_FILE).write_text(json.dumps(cfg, indent=2))

    @classmethod
    def load(cls, path: str | Path, preset: HFConfig, adapter: bool) -> HFVLM:
        path = Path(path)
        if not adapter:  # full or frozen-LM fine-tune: the whole model was saved; re-apply the freezing
            if not (path / BASE_DIR).is_dir():
                raise FileNotFoundError(f"checkpoint {path} has no {BASE_DIR}/ directory")
            return cls.from_pretrained(str(path / BASE_DIR), preset)
        from peft import PeftModel

        if not preset.hf_path:
            raise ValueError(f"checkpoint {path} has a LoRA adapter but its preset names no hf_path")
        if not (path / ADAPTER_DIR).is_dir():
            raise FileNotFoundError(f"checkpoint {path} has no {ADAPTER_DIR}/ directory")
        base, processor = _load(hf_source(preset.hf_path))
        model = PeftModel.from_pretrained(base, str(path / ADAPTER_DIR), is_trainable=True)
        return cls(preset, model, processor)
