"""A composed checkpoint: ``config.json`` (format and config, class vocabulary included), ``model.safetensors``
(all weights but those that come from a pretrained LM file) and, for a scratch LM, its ``tokenizer/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spatialvlm_core.model.base import CONFIG_FILE, TOKENIZER_DIR, WEIGHTS_FILE
from spatialvlm_core.model.composed.config import ComposedConfig
from spatialvlm_core.model.composed.lm import load_smollm2_tokenizer

CHECKPOINT_FORMAT = "spatialvlm-composed/1"


def save(model: Any, path: str | Path) -> None:
    """Write ``model`` (a ``ComposedVLM``) to the directory ``path``."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()
             if k not in model.pretrained_lm_keys}
    save_file(state, str(path / WEIGHTS_FILE), metadata={"format": CHECKPOINT_FORMAT})
    cfg = {"format": CHECKPOINT_FORMAT, "preset": model.preset.to_dict()}
    (path / CONFIG_FILE).write_text(json.dumps(cfg, indent=2))
    if model.preset.lm_source == "scratch":
        model.tokenizer.save_pretrained(str(path / TOKENIZER_DIR))


def load(cls: Any, path: str | Path, cfg: ComposedConfig) -> Any:
    """``cls(cfg, tokenizer)`` (a ``ComposedVLM`` class) with the weights in ``path``; a clear error when they do
    not match the config."""
    from safetensors.torch import load_file
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    if cfg.lm_source == "scratch":
        tok_dir = path / TOKENIZER_DIR
        if not tok_dir.is_dir():
            raise FileNotFoundError(f"checkpoint {path} has no {TOKENIZER_DIR}/ directory")
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(tok_dir))
    else:
        tokenizer = load_smollm2_tokenizer()
    model = cls(cfg, tokenizer)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint {path} has no {WEIGHTS_FILE}")
    state = load_file(str(weights))
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatch
        raise ValueError(f"checkpoint {weights} does not match preset {cfg.name!r}: {e}") from e
    missing = [k for k in missing if k not in model.pretrained_lm_keys]
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {weights} does not match preset {cfg.name!r}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return model
