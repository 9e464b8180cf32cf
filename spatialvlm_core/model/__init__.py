"""VLM families (``composed/``, ``hf/``), their configs registered by type, named presets and the factory (torch is
imported only when a model is built)."""

from spatialvlm_core.model.composed.config import ComposedConfig, TextConfig, VisionConfig
from spatialvlm_core.model.config import ModelConfig, check_compatible
from spatialvlm_core.model.factory import create_model, from_config, from_hf, load, load_checkpoint
from spatialvlm_core.model.hf.config import HFConfig
from spatialvlm_core.model.presets import get_preset, list_presets, register_preset

__all__ = ["ComposedConfig", "HFConfig", "ModelConfig", "TextConfig", "VisionConfig",
           "check_compatible", "create_model", "from_config", "from_hf", "get_preset", "list_presets", "load",
           "load_checkpoint", "register_preset"]
