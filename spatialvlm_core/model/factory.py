"""The explicit factory: ``from_config`` (a fresh model), ``load`` (a SpatialVLM checkpoint dir), ``from_hf``
(an image-text-to-text checkpoint: ``hf-hub:<org>/<name>`` or a local transformers dir), and ``create_model``,
the one-call convenience that picks one of them from a preset name or a path."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spatialvlm_core.model.base import CONFIG_FILE, SpatialVLMModel
from spatialvlm_core.model.composed.config import ComposedConfig
from spatialvlm_core.model.config import ModelConfig, check_compatible
from spatialvlm_core.model.hf.config import HF_HUB_PREFIX, HFConfig
from spatialvlm_core.model.presets import get_preset, list_presets

FORMATS = {"spatialvlm-composed/": "composed", "spatialvlm-hf/": "hf"}  # checkpoint format prefix -> config type


def from_config(cfg: ModelConfig, *, tokenizer_texts: Iterable[str] | None = None) -> SpatialVLMModel:
    """A fresh model of the config's family. Composed: a scratch LM's tokenizer is trained on
    ``tokenizer_texts``; HF: the pretrained checkpoint ``cfg.hf_path``."""
    cfg.validate()
    if isinstance(cfg, ComposedConfig):
        from spatialvlm_core.model.composed.lm import load_smollm2_tokenizer
        from spatialvlm_core.model.composed.model import ComposedVLM  # on demand: a family loads when built
        from spatialvlm_core.model.tokenizer import train_tokenizer

        tok = train_tokenizer(tokenizer_texts or []) if cfg.lm_source == "scratch" else load_smollm2_tokenizer()
        return ComposedVLM(cfg, tok)
    if isinstance(cfg, HFConfig):
        if not cfg.hf_path:
            raise ValueError(f"preset {cfg.name!r} needs hf_path (a local dir or '{HF_HUB_PREFIX}<org>/<name>')")
        from spatialvlm_core.model.hf.model import (
            HFVLM,  # on demand: transformers loads when an HF model is built
        )

        return HFVLM.from_pretrained(cfg.hf_path, cfg)
    raise ValueError(f"no model family builds a {type(cfg).__name__} (type {cfg.type!r})")


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    cfg_file = Path(path) / CONFIG_FILE
    if not cfg_file.is_file():
        raise FileNotFoundError(f"not a checkpoint: {cfg_file} is missing")
    try:
        cfg = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg_file} is not valid JSON: {e}") from e
    if not isinstance(cfg, dict):
        raise ValueError(f"{cfg_file} is not a JSON object")
    return cfg


def is_spatialvlm_checkpoint(path: str | Path) -> bool:
    f = Path(path) / CONFIG_FILE
    if not f.is_file():
        return False
    try:
        return str(json.loads(f.read_text()).get("format", "")).startswith("spatialvlm-")
    except (json.JSONDecodeError, AttributeError):
        return False


def load(path: str | Path, preset: str | ModelConfig | None = None) -> SpatialVLMModel:
    """The model saved by ``SpatialVLMModel.save`` in ``path``; ``preset`` (if given) must be compatible."""
    cfg_file = Path(path) / CONFIG_FILE
    raw = read_checkpoint_config(path)
    if "preset" not in raw or "format" not in raw:
        raise ValueError(f"{cfg_file} lacks 'preset' or 'format'")
    fmt = str(raw["format"])
    family = next((t for prefix, t in FORMATS.items() if fmt.startswith(prefix)), None)
    if family is None:
        raise ValueError(f"{cfg_file}: unknown checkpoint format {fmt!r}")
    try:
        saved = ModelConfig.from_dict(raw["preset"])
    except ValueError as e:
        raise ValueError(f"{cfg_file}: {e}") from e
    if saved.type != family:
        raise ValueError(f"{cfg_file}: format {fmt!r} holds a {saved.type!r} config")
    if preset is not None:
        check_compatible(saved, get_preset(preset) if isinstance(preset, str) else preset)
    if isinstance(saved, ComposedConfig):
        from spatialvlm_core.model.composed.model import ComposedVLM  # on demand: a family loads when built

        return ComposedVLM.load(path, saved)
    from spatialvlm_core.model.hf.model import (
        HFVLM,  # on demand: transformers loads when an HF model is built
    )

    return HFVLM.load(path, saved, adapter=bool(raw.get("adapter")))  # type: ignore[arg-type]


load_checkpoint = load  # the name the training loop and the evals use


def from_hf(spec: str | Path, **overrides: Any) -> SpatialVLMModel:
    """An ``AutoModelForImageTextToText`` checkpoint: ``hf-hub:<org>/<name>`` or a local transformers dir, under
    the ``hf`` preset (LoRA on the language model; ``overrides`` set its fields, e.g. ``lm_mode="full"``)."""
    source = hf_checkpoint_source(str(spec))
    if source is None:
        raise ValueError(f"{str(spec)!r} is not '{HF_HUB_PREFIX}<org>/<name>' nor a local transformers directory")
    from spatialvlm_core.model.hf.model import (
        HFVLM,  # on demand: transformers loads when an HF model is built
    )

    cfg = get_preset("hf", **{"hf_path": source, **overrides})
    return HFVLM.from_pretrained(source, cfg)  # type: ignore[arg-type]


def create_model(
    name_or_path: str | Path,
    *,
    tokenizer_texts: Iterable[str] | None = None,
    preset: str | ModelConfig | None = None,
    **overrides: Any,
) -> SpatialVLMModel:
    """Build a model.

    - a preset name (``list_presets()``): ``from_config(get_preset(name, **overrides))``, e.g.
      ``freeze_vision=True``, ``lm_mode="lora"``; ``tokenizer_texts`` train the local tokenizer;
    - a SpatialVLM checkpoint dir: ``load`` (``preset`` checks compatibility);
    - ``hf-hub:<org>/<name>`` (a Hugging Face Hub id) or a local dir holding a transformers checkpoint
      (``config.json``): ``from_hf`` (``hf`` preset).
    """
    name = str(name_or_path)
    if name in list_presets() and not Path(name).exists():
        return from_config(get_preset(name, **overrides), tokenizer_texts=tokenizer_texts)
    if is_spatialvlm_checkpoint(name):
        return load(name, preset)
    if hf_checkpoint_source(name) is not None:
        return from_hf(name, **overrides)
    raise ValueError(f"{name!r} is neither a preset ({list_presets()}) nor a checkpoint directory")


def hf_checkpoint_source(name: str) -> str | None:
    """The ``hf_path`` of a transformers checkpoint spec (``hf-hub:org/name`` -> ``org/name``; a local dir with a
    ``config.json`` as given), None for anything else; a hub-looking name without the prefix is an error, not a
    guess (``org/name`` is also what a mistyped local path looks like)."""
    if name.startswith(HF_HUB_PREFIX):
        hub_id = name[len(HF_HUB_PREFIX):]
        if not hub_id or hub_id.count("/") > 1 or hub_id.startswith("/"):
            raise ValueError(f"{name!r}: write a Hugging Face Hub id as '{HF_HUB_PREFIX}<org>/<name>'")
        return hub_id
    path = Path(name).expanduser()
    if path.is_dir() and (path / CONFIG_FILE).is_file():
        return name
    if path.is_dir():
        raise FileNotFoundError(f"{path} is a directory but holds no {CONFIG_FILE} (not a checkpoint)")
    if name.startswith(("/", ".", "~")):
        raise FileNotFoundError(f"model directory not found: {name}")
    if "/" in name:
        raise ValueError(f"{name!r} is not a local directory; for a Hugging Face Hub checkpoint write "
                         f"'{HF_HUB_PREFIX}{name}'")
    return None
