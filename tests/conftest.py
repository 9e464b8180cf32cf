"""Shared test set-up: offline hub, offscreen GL, and the location of ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPATIALVLM_SHARED", REPO.parent / "shared"))
YOLOX_DIR = SHARED / "models" / "yolox_nano"
TEST_IMAGE = SHARED / "images" / "coco_living_room_000000000139.jpg"


@pytest.fixture
def shared_dir() -> Path:
    if not (YOLOX_DIR / "yolox_nano.onnx").exists():
        pytest.skip(f"../shared not found at {SHARED} (YOLOX-nano weights and test images live there)")
    return SHARED
