"""Model configs, registered by type (lerobot style): ``ModelConfig`` holds what every family shares, each family
subclasses it in its own folder (``composed/config.py``, ``hf/config.py``) and registers under a ``type`` string.

``to_dict`` writes the type beside the fields (JSON-native: lists, not tuples) and ``ModelConfig.from_dict``
dispatches on it, so ``from_dict(c.to_dict()) == c`` and ``from_dict(d).to_dict() == d`` for any saved ``d``.
Checkpoints written before the registry store one flat dict with ``kind`` instead of ``type``; ``from_dict``
reads those too (each family drops its fields that no longer exist, see ``_from_legacy``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

LMMode = Literal["full", "frozen", "lora"]
LM_MODES: tuple[str, ...] = ("full", "frozen", "lora")

_TYPES: dict[str, type[ModelConfig]] = {}
C = TypeVar("C", bound="type[ModelConfig]")


def _json_native(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _json_native(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_native(v) for v in x]
    return x


@dataclass
class ModelConfig:
    """What every model family has: a name, how the language model trains and how answers are decoded."""

    type: ClassVar[str] = ""

    name: str
    lm_mode: LMMode = "full"
    freeze_vision: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    max_answer_tokens: int = 32  # decoding cap: template answers run to ~25 tokens (16 cut numbers off)
    # Joins prompt and answer in training (see ComposedConfig for why the composed presets use "").
    answer_sep: str = " "

    @staticmethod
    def register(type_name: str) -> Any:
        """Class decorator: register a family's config under ``type_name`` (its ``type`` in saved dicts)."""

        def deco(cls: C) -> C:
            if type_name in _TYPES:
                raise ValueError(f"config type {type_name!r} is already registered")
            cls.type = type_name
            _TYPES[type_name] = cls
            return cls

        return deco

    @property
    def kind(self) -> str:
        """The family (``type``), under the name checkpoints before the registry used."""
        return self.type

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when the config cannot build a model."""
        if self.lm_mode not in LM_MODES:
            raise ValueError(f"lm_mode must be one of {LM_MODES}, got {self.lm_mode!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **_json_native(dataclasses.asdict(self))}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @staticmethod
    def from_json(text: str) -> ModelConfig:
        return ModelConfig.from_dict(json.loads(text))

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ModelConfig:
        """The registered family's config from ``to_dict``'s output, or from a pre-registry flat dict (``kind``)."""
        if not isinstance(d, dict):
            raise ValueError(f"a model config is a JSON object, got {type(d).__name__}")
        d = dict(d)
        legacy = "type" not in d
        t = d.pop("kind" if legacy else "type", None)
        if t is None:
            raise ValueError(f"model config {d.get('name', '?')!r} has no 'type' (nor a legacy 'kind')")
        if t not in _TYPES:
            raise ValueError(f"model config {d.get('name', '?')!r}: unknown type {t!r}; known: {sorted(_TYPES)}")
        cls = _TYPES[t]
        if legacy:
            d = cls._from_legacy(d)
        cfg = cls._from_fields(d)
        cfg.validate()
        return cfg

    @classmethod
    def _from_fields(cls, d: dict[str, Any]) -> ModelConfig:
        try:
            return cls(**d)
        except TypeError as e:
            raise ValueError(f"{cls.type} config fields are invalid: {e}") from e

    @classmethod
    def _from_legacy(cls, d: dict[str, Any]) -> dict[str, Any]:
        """A pre-registry flat preset dict (``kind`` already popped) as this family's fields."""
        return d

    def architecture(self) -> dict[str, Any]:
        """The fields that decide weight shapes and their meaning (what a checkpoint must agree with)."""
        arch: dict[str, Any] = {"type": self.type}
        if self.lm_mode == "lora":
            arch["lora_r"] = self.lora_r
        return arch


def config_types() -> list[str]:
    return sorted(_TYPES)


def check_compatible(saved: ModelConfig, requested: ModelConfig) -> None:
    a, b = saved.architecture(), requested.architecture()
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if diff:
        raise ValueError(
            f"checkpoint was trained with preset {saved.name!r}, incompatible with {requested.name!r}: "
            f"differs in {diff}"
        )
