"""``create_model``: a preset name, a SpatialVLM checkpoint dir, or an image-text-to-text checkpoint (``hf-hub:<id>`` or
a local transformers dir)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spatialvlm_core.model.base import CONFIG_FILE, SpatialVLMModel
from spatialvlm_core.model.presets import ModelPreset, check_compatible, get_preset, list_presets


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    cfg_file = Path(path) / CONFIG_FILE
    if not cfg_file.is_file():
        raise FileNotFoundError(f"not a checkpoint: {cfg_file} is missing")
    try:
        cfg = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg_file} is not valid JSON: {e}") from e
    return cfg


def is_spatialvlm_checkpoint(path: str | Path) -> bool:
    f = Path(path) / CONFIG_FILE
    if not f.is_file():
        return False
    try:
        return str(json.loads(f.read_text()).get("format", "")).startswith("spatialvlm-")
    except json.JSONDecodeError:
        return False


def load_checkpoint(path: str | Path, preset: str | ModelPreset | None = None) -> SpatialVLMModel:
    """Load a checkpoint written by ``SpatialVLMModel.save``; ``preset`` (if given) must be compatible."""
    from spatialvlm_core.model.composed import ComposedVLM
    from spatialvlm_core.model.hf import HFVLM

    cfg = read_checkpoint_config(path)
    if "preset" not in cfg or "format" not in cfg:
        raise ValueError(f"{Path(path) / CONFIG_FILE} lacks 'preset' or 'format'")
    saved = ModelPreset.from_dict(cfg["preset"])
    if preset is not None:
        check_compatible(saved, get_preset(preset) if isinstance(preset, str) else preset)
    fmt = cfg["format"]
    if fmt.startswith("spatialvlm-composed/"):
        return ComposedVLM.load(path, saved)
    if fmt.startswith("spatialvlm-hf/"):
        return HFVLM.load(path, saved, adapter=bool(cfg.get("adapter")))
    raise ValueError(f"{Path(path) / CONFIG_FILE}: unknown checkpoint format {fmt!r}")


def create_model(
    name_or_path: str | Path,
    *,
    tokenizer_texts: Iterable[str] | None = None,
    preset: str | ModelPreset | None = None,
    **overrides: Any,
) -> SpatialVLMModel:
    """Build a model.

    - a preset name (``list_presets()``): a fresh model; ``overrides`` set preset fields
      (e.g. ``freeze_vision=True``, ``lm_mode="lora"``); ``tokenizer_texts`` train the local tokenizer;
    - a SpatialVLM checkpoint dir: the trained model (``preset`` checks compatibility);
    - ``hf-hub:<org>/<name>`` (a Hugging Face Hub id) or a local dir holding a transformers checkpoint
      (``config.json``): an ``AutoModelForImageTextToText`` checkpoint (``hf`` preset).
    """
    name = str(name_or_path)
    if name in list_presets() and not Path(name).exists():
        p = get_preset(name, **overrides)
        return _fresh(p, tokenizer_texts)
    if is_spatialvlm_checkpoint(name):
        return load_checkpoint(name, preset)
    source = hf_checkpoint_source(name)
    if source is not None:
        from spatialvlm_core.model.hf import HFVLM

        p = get_preset("hf", **{"hf_path": source, **overrides})
        return HFVLM.from_pretrained(source, p)
    raise ValueError(f"{name!r} is neither a preset ({list_presets()}) nor a checkpoint directory")


def hf_checkpoint_source(name: str) -> str | None:
    """The ``hf_path`` of a transformers checkpoint spec (``hf-hub:org/name`` -> ``org/name``; a local dir with a
    ``config.json`` as given), None for anything else; a hub-looking name without the prefix is an error, not a
    guess (``org/name`` is also what a mistyped local path looks like)."""
    from spatialvlm_core.model.hf.model import HF_HUB_PREFIX

    if name.startswith(HF_HUB_PREFIX):
        hub_id = name[len(HF_HUB_PREFIX):]
        if not hub_id or hub_id.count("/") > 1 or hub_id.startswith("/"):
            raise ValueError(f"{name!r}: write a Hugging Face Hub id as 'hf-hub:<org>/<name>'")
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


def _fresh(p: ModelPreset, tokenizer_texts: Iterable[str] | None) -> SpatialVLMModel:
    from spatialvlm_core.model.composed import ComposedVLM, load_smollm2_tokenizer
    from spatialvlm_core.model.tokenizer import train_tokenizer

    if p.kind == "hf":
        if not p.hf_path:
            raise ValueError("preset 'hf' needs hf_path (a local dir or 'hf-hub:<org>/<name>')")
        from spatialvlm_core.model.hf import HFVLM

        return HFVLM.from_pretrained(p.hf_path, p)
    tok = train_tokenizer(tokenizer_texts or []) if p.lm_source == "scratch" else load_smollm2_tokenizer()
    return ComposedVLM(p, tok)
