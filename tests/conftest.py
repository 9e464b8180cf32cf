"""Shared test set-up: offline hub, offscreen GL, the location of ../shared, and seeded RNGs."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPATIALVLM_SHARED", REPO.parent / "shared"))
YOLOX_DIR = SHARED / "models" / "yolox_nano"
TEST_IMAGE = SHARED / "images" / "coco_living_room_000000000139.jpg"


@pytest.fixture(autouse=True)
def _seeded_rngs() -> None:
    """Every test starts from the same RNG state, so a tiny random model says the same thing in every run (an
    unseeded one failed about one run in five). torch only if a test module already imported it."""
    random.seed(0)
    np.random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)


@pytest.fixture
def shared_dir() -> Path:
    if not (YOLOX_DIR / "yolox_nano.onnx").exists():
        pytest.skip(f"../shared not found at {SHARED} (YOLOX-nano weights and test images live there)")
    return SHARED


@pytest.fixture
def relation_fit():  # type: ignore[no-untyped-def]
    """``fit(model, batch, steps=5) -> (first, last)``: Adam steps on a relation-head model's loss; the relation
    loss of the first and the last step (the model is left in eval mode)."""
    import torch

    def fit(model, batch, steps: int = 5) -> tuple[float, float]:  # type: ignore[no-untyped-def]
        model.train()
        opt = torch.optim.Adam(model.trainable_parameters(), 1e-3)
        first = None
        for _ in range(steps):
            parts = model.loss_parts(batch)
            first = first if first is not None else float(parts["relation"])
            opt.zero_grad()
            sum(parts.values()).backward()
            opt.step()
        model.eval()
        return first, float(parts["relation"])

    return fit
