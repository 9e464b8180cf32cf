"""Any ``AutoModelForImageTextToText`` checkpoint (Qwen2-VL, Idefics3/SmolVLM, PaliGemma, LLaVA) behind
the same interface as the composed model: prompts go through the processor's chat template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from spatialvlm_core.model.base import CONFIG_FILE, SpatialVLMModel
from spatialvlm_core.model.presets import ModelPreset

CHECKPOINT_FORMAT = "spatialvlm-hf/1"
ADAPTER_DIR = "adapter"
BASE_DIR = "base"


def _is_vision(param_name: str) -> bool:
    """Vision tower or connector/projector parameters, across LLaVA, Qwen2-VL, Idefics3, PaliGemma names."""
    return any(k in param_name for k in ("vision", "visual", "connector", "projector"))


class HFVLM(SpatialVLMModel):
    def __init__(self, preset: ModelPreset, model: Any, processor: Any) -> None:
        super().__init__()
        self.preset = preset
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer if hasattr(processor, "tokenizer") else processor

    @classmethod
    def from_pretrained(cls, path: str, preset: ModelPreset) -> HFVLM:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        try:
            processor = AutoProcessor.from_pretrained(path)
            model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
        except OSError as e:
            raise FileNotFoundError(f"cannot load an image-text-to-text checkpoint from {path!r}: {e}") from e
        if preset.lm_mode == "lora":
            from peft import LoraConfig, get_peft_model

            lcfg = LoraConfig(r=preset.lora_r, lora_alpha=preset.lora_alpha, lora_dropout=0.0,
                              target_modules=r"^(?!.*(vision|visual)).*\.(q_proj|v_proj)$")
            model = get_peft_model(model, lcfg)
        elif preset.lm_mode == "frozen":
            model.requires_grad_(False)
            for name, p in model.named_parameters():  # train the vision side and the connector only
                p.requires_grad = _is_vision(name)
        if preset.freeze_vision:
            for name, p in model.named_parameters():
                if _is_vision(name):
                    p.requires_grad = False
        return cls(preset, model, processor)

    def _prompt(self, question: str) -> str:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question.strip()}]}]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(messages, add_generation_prompt=True)
        raise ValueError("the processor has no chat_template; save one with the checkpoint")

    def _process(self, images: list[Image.Image], texts: list[str], side: str) -> dict[str, Any]:
        self.tokenizer.padding_side = side
        enc = self.processor(images=[[im] for im in images], text=texts, return_tensors="pt", padding=True)
        return {k: v.to(self.device) for k, v in enc.items()}

    def encode(self, images: list[Image.Image], questions: list[str], answers: list[str]) -> dict[str, Any]:
        eos = self.tokenizer.eos_token or ""
        prompts = [self._prompt(q) for q in questions]
        full = [p + " " + a.strip() + eos for p, a in zip(prompts, answers, strict=True)]
        enc = self._process(images, full, "right")
        labels = enc["input_ids"].clone()
        labels[enc["attention_mask"] == 0] = -100
        for i, (im, p) in enumerate(zip(images, prompts, strict=True)):
            n_prompt = int(self._process([im], [p], "right")["attention_mask"].sum())
            labels[i, :n_prompt] = -100  # loss on answer tokens only
        enc["labels"] = labels
        return enc

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

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        is_peft = hasattr(self.model, "peft_config")
        # LoRA: the adapter only, plus where the base model lives; otherwise the whole model.
        if is_peft:
            self.model.save_pretrained(str(path / ADAPTER_DIR))
        else:
            self.model.save_pretrained(str(path / BASE_DIR))
            self.processor.save_pretrained(str(path / BASE_DIR))
        cfg = {"format": CHECKPOINT_FORMAT, "preset": self.preset.to_dict(), "adapter": is_peft}
        (path / CONFIG_FILE).write_text(json.dumps(cfg, indent=2))

    @classmethod
    def load(cls, path: str | Path, preset: ModelPreset, adapter: bool) -> HFVLM:
        path = Path(path)
        if not adapter:  # full or frozen-LM fine-tune: the whole model was saved; re-apply the freezing
            if not (path / BASE_DIR).is_dir():
                raise FileNotFoundError(f"checkpoint {path} has no {BASE_DIR}/ directory")
            return cls.from_pretrained(str(path / BASE_DIR), preset)
        from peft import PeftModel
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if not preset.hf_path:
            raise ValueError(f"checkpoint {path} has a LoRA adapter but its preset names no hf_path")
        processor = AutoProcessor.from_pretrained(preset.hf_path)
        base = AutoModelForImageTextToText.from_pretrained(preset.hf_path, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, str(path / ADAPTER_DIR), is_trainable=True)
        return cls(preset, model, processor)
