"""CLIP backends: ``transformers`` (CLIPModel + CLIPProcessor) and ``open_clip`` (lazily imported)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.perception._common import (
    InMemoryModel,
    load_pretrained,
    resolve_source,
    to_pil,
    torch_device,
)
from spatialvlm_core.perception.registry import CLIP


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _features(out: Any) -> Any:
    """transformers >= 5 may return a model output instead of a tensor from ``get_*_features``."""
    if hasattr(out, "pooler_output") and not hasattr(out, "shape"):
        return out.pooler_output
    return out


@CLIP.register("transformers", "hf", "clip")
class TransformersClip(InMemoryModel):
    name = "transformers"
    default_model = "openai/clip-vit-base-patch32"

    def __init__(self, model: str | Path | None = None, *, device: str = "cpu", batch_size: int = 32) -> None:
        import transformers

        source = resolve_source(model or self.default_model, "CLIP model")
        net = load_pretrained(transformers.CLIPModel, source, "CLIP model")
        processor = load_pretrained(transformers.CLIPProcessor, source, "CLIP processor")
        self._setup(net, processor, device=device, batch_size=batch_size)


    def _setup(self, model: Any, processor: Any, *, device: str = "cpu", batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch_device(device)
        self.model = model.to(self.device).eval()
        self.processor = processor
        self.batch_size = batch_size
        self.logit_scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0

    def embed_images(self, images: list[Any]) -> np.ndarray:
        import torch

        if not images:
            raise ValueError("embed_images needs at least one image")
        out = []
        for i in range(0, len(images), self.batch_size):
            pil = [to_pil(im) for im in images[i : i + self.batch_size]]
            inputs = self.processor(images=pil, return_tensors="pt")
            with torch.inference_mode():
                f = _features(self.model.get_image_features(pixel_values=inputs["pixel_values"].to(self.device)))
            out.append(f.float().cpu().numpy())
        return _normalize(np.concatenate(out))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        if not texts:
            raise ValueError("embed_texts needs at least one text")
        out = []
        for i in range(0, len(texts), self.batch_size):
            inputs = self.processor(text=list(texts[i : i + self.batch_size]), return_tensors="pt", padding=True,
                                    truncation=True)
            inputs = {k: v.to(self.device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                f = _features(self.model.get_text_features(**inputs))
            out.append(f.float().cpu().numpy())
        return _normalize(np.concatenate(out))


@CLIP.register("open-clip", "openclip")
class OpenClip(InMemoryModel):
    """open_clip model by name + pretrained tag, or a local checkpoint file as ``pretrained``.

    open_clip needs torchvision at import time; where it is missing or broken the constructor raises
    ImportError saying so.
    """

    name = "open_clip"

    def __init__(
        self, model_name: str = "ViT-B-32", pretrained: str | None = "laion2b_s34b_b79k", *, device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        try:
            import open_clip
        except Exception as exc:  # ImportError, or torchvision's RuntimeError on missing native ops
            raise ImportError(
                f"the 'open_clip' CLIP backend needs open_clip_torch (and a working torchvision): {exc}"
            ) from exc
        looks_like_file = bool(pretrained) and (
            pretrained.startswith(("/", ".", "~")) or pretrained.endswith((".pt", ".bin", ".safetensors"))
        )
        if looks_like_file and not Path(pretrained).expanduser().is_file():
            raise FileNotFoundError(f"open_clip checkpoint not found: {pretrained}")
        model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained, device=device)
        self._setup(model, preprocess, open_clip.get_tokenizer(model_name), device=device, batch_size=batch_size)


    def _setup(self, model: Any, preprocess: Any, tokenizer: Any, *, device: str = "cpu", batch_size: int = 32) -> None:
        self.device = torch_device(device)
        self.model = model.to(self.device).eval()
        self.preprocess, self.tokenizer, self.batch_size = preprocess, tokenizer, batch_size
        self.logit_scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0

    def embed_images(self, images: list[Any]) -> np.ndarray:
        import torch

        if not images:
            raise ValueError("embed_images needs at least one image")
        out = []
        for i in range(0, len(images), self.batch_size):
            x = torch.stack([self.preprocess(to_pil(im)) for im in images[i : i + self.batch_size]]).to(self.device)
            with torch.inference_mode():
                out.append(self.model.encode_image(x).float().cpu().numpy())
        return _normalize(np.concatenate(out))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        if not texts:
            raise ValueError("embed_texts needs at least one text")
        with torch.inference_mode():
            f = self.model.encode_text(self.tokenizer(list(texts)).to(self.device))
        return _normalize(f.float().cpu().numpy())
