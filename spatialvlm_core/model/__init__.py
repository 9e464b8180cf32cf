"""VLM factory, presets and backends (torch is imported only when a model is built)."""

from spatialvlm_core.model.factory import create_model, load_checkpoint
from spatialvlm_core.model.presets import ModelPreset, TextConfig, VisionConfig, get_preset, list_presets

__all__ = ["ModelPreset", "TextConfig", "VisionConfig", "create_model", "get_preset", "list_presets",
           "load_checkpoint"]
