"""The composed family: a small vision tower, grounding and a relation head around a Llama LM.

One file per job: ``config`` (the config and its validation), ``tower`` (vision tower and its dense losses),
``lm`` (the language model), ``grounding`` (question words -> image tokens), ``color`` / ``points`` (colour and
point grounding), ``features`` (per-object and pair features), ``relation`` (the relation head), ``model``
(``ComposedVLM``: batches, embedding, losses), ``decoding`` (greedy generation), ``checkpoint`` (save / load).
Importing this package loads the config only; ``ComposedVLM`` is imported on first use (torch).
"""

from typing import Any

from spatialvlm_core.model.composed.config import ComposedConfig, TextConfig, VisionConfig

__all__ = ["ComposedConfig", "ComposedVLM", "TextConfig", "VisionConfig"]


def __getattr__(name: str) -> Any:
    if name == "ComposedVLM":
        from spatialvlm_core.model.composed.model import ComposedVLM  # torch: only when the model is used

        return ComposedVLM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
