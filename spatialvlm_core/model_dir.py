"""Where checkpoints are: the shipped default model, and a checkpoint directory from what a user types."""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL_DIR = Path(__file__).parent / "assets" / "default_model"


def resolve_model_dir(path: str | Path | None) -> Path:
    """A checkpoint directory from what a user types: ``None`` or ``"default"`` is the shipped model."""
    if path is None or str(path).strip().lower() == "default":
        if not DEFAULT_MODEL_DIR.is_dir():
            raise FileNotFoundError(f"no default model at {DEFAULT_MODEL_DIR}; run `make model` to build it")
        return DEFAULT_MODEL_DIR
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"model path {p} is a file; expected a checkpoint directory")
    if not p.is_dir():
        raise FileNotFoundError(f"no checkpoint directory at {p} (use 'default' for the shipped model)")
    return p
