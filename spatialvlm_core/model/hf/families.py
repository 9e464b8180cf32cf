"""Per-family module names: which parameters are the vision tower, the projector, the language model, and
which language-model linears get LoRA adapters (the targets each family's reference fine-tunes use)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Part = Literal["vision", "projector", "lm"]
PARTS: tuple[Part, ...] = ("vision", "projector", "lm")

_ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
_MLP = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Family:
    vision: tuple[str, ...]  # a parameter whose dotted name has one of these components is the vision tower's
    projector: tuple[str, ...]  # ... the projector's (checked first: Qwen2-VL's merger sits inside ``visual``)
    lora: tuple[str, ...]  # language-model linear layer names adapted under lm_mode="lora"


_GENERIC = Family(("vision_model", "vision_tower", "visual", "vision_encoder"),
                  ("connector", "multi_modal_projector", "mm_projector", "merger"), _ATTN)
FAMILIES: dict[str, Family] = {
    "idefics3": Family(("vision_model",), ("connector",), _ATTN + _MLP),
    "smolvlm": Family(("vision_model",), ("connector",), _ATTN + _MLP),
    "qwen2_vl": Family(("visual",), ("merger",), _ATTN),
    "qwen2_5_vl": Family(("visual",), ("merger",), _ATTN),
    "paligemma": Family(("vision_tower",), ("multi_modal_projector",), _ATTN + _MLP),
    "llava": Family(("vision_tower",), ("multi_modal_projector",), _ATTN + _MLP),
}


def family_of(model_type: str) -> Family:
    """The family's names; an unknown ``model_type`` gets the union of the known names."""
    return FAMILIES.get(model_type, _GENERIC)


def part_of(name: str, model_type: str) -> Part:
    """"vision", "projector" or "lm" (everything else: embeddings, decoder layers, the LM head)."""
    fam = family_of(model_type)
    comps = set(name.split("."))
    if comps & set(fam.projector):
        return "projector"
    if comps & set(fam.vision):
        return "vision"
    return "lm"


def lora_targets(model: Any, model_type: str) -> list[str]:
    """Full names of the language model's linear layers the family adapts (explicit names: a vision tower's
    ``q_proj`` is never matched by accident)."""
    from torch import nn

    names = family_of(model_type).lora
    out = [n for n, m in model.named_modules()
           if isinstance(m, nn.Linear) and n.rsplit(".", 1)[-1] in names and part_of(n, model_type) == "lm"]
    if not out:
        raise ValueError(f"{model_type}: no language-model linear layer named {names} to put LoRA adapters on")
    return out


def projector_modules(model: Any, model_type: str) -> list[str]:
    """Top-most module names of the projector (trained in full and saved beside a LoRA adapter)."""
    mods = [n for n, _ in model.named_modules() if n and part_of(n, model_type) == "projector"]
    return [n for n in mods if not any(n.startswith(o + ".") for o in mods if o != n)]
