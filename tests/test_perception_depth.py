"""Depth backends: tiny random DPT / Depth Anything / ZoeDepth built from configs, and sensor depth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatialvlm_core import perception
from spatialvlm_core.perception.depth import DepthAnythingMetric, DPTDepth, ZoeDepth
from spatialvlm_core.types import Frame

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

H, W = 48, 64


def _frame(depth: np.ndarray | None = None) -> Frame:
    rgb = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    return Frame(image_id="f", rgb=rgb, depth=depth)


def _vit_kwargs() -> dict[str, Any]:
    return dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=37)


def tiny_dpt() -> tuple[Any, Any]:
    from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

    cfg = transformers.DPTConfig(**{**_vit_kwargs(), "num_hidden_layers": 4}, backbone_out_indices=[0, 1, 2, 3],
                                 neck_hidden_sizes=[16, 16, 16, 16], fusion_hidden_size=16,
                                 reassemble_factors=[4, 2, 1, 0.5])
    torch.manual_seed(0)
    return transformers.DPTForDepthEstimation(cfg).eval(), DPTImageProcessorPil(size={"height": 32, "width": 32})


def tiny_depth_anything() -> tuple[Any, Any]:
    from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

    bb = transformers.Dinov2Config(**_vit_kwargs(), out_features=["stage1", "stage2"], reshape_hidden_states=False)
    cfg = transformers.DepthAnythingConfig(backbone_config=bb, reassemble_hidden_size=32, patch_size=8,
                                           neck_hidden_sizes=[16, 16], fusion_hidden_size=16, reassemble_factors=[1, 1],
                                           depth_estimation_type="metric", max_depth=20)
    torch.manual_seed(0)
    return (transformers.DepthAnythingForDepthEstimation(cfg).eval(),
            DPTImageProcessorPil(size={"height": 32, "width": 32}))


def tiny_zoedepth() -> tuple[Any, Any]:
    from transformers.models.zoedepth.image_processing_pil_zoedepth import ZoeDepthImageProcessorPil

    bb = transformers.BeitConfig(**_vit_kwargs(), out_features=["stage1", "stage2"], reshape_hidden_states=False,
                                 use_relative_position_bias=True)
    cfg = transformers.ZoeDepthConfig(
        backbone_config=bb, neck_hidden_sizes=[16, 16], fusion_hidden_size=16, reassemble_factors=[1, 1],
        bottleneck_features=16, num_relative_features=8, bin_embedding_dim=16, num_attractors=[4, 2, 2, 1],
        patch_size=8, bin_configurations=[{"n_bins": 8, "min_depth": 0.001, "max_depth": 10.0, "name": "nyu"}],
    )
    torch.manual_seed(0)
    return transformers.ZoeDepthForDepthEstimation(cfg).eval(), ZoeDepthImageProcessorPil(size={"height": 32, "width": 32})


CASES = [("dpt", DPTDepth, tiny_dpt), ("depth-anything-v2-metric", DepthAnythingMetric, tiny_depth_anything),
         ("zoedepth", ZoeDepth, tiny_zoedepth)]


@pytest.mark.parametrize(("name", "cls", "build"), CASES, ids=[c[0] for c in CASES])
def test_depth_backend_in_memory_and_from_dir(name: str, cls: type, build: Any, tmp_path: Path) -> None:
    model, processor = build()
    backend = cls.from_model(model, processor)
    frame = _frame()
    depth = backend.predict(frame)
    assert isinstance(backend, perception.DepthEstimator)
    assert depth.shape == (H, W) and depth.dtype == np.float32
    assert np.all(np.isfinite(depth)) and np.all(depth > 0)

    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded = perception.create_depth(name, model=tmp_path)
    again = loaded.predict(frame)
    # Same weights, same preprocessing: the loaded backend reproduces the in-memory prediction.
    np.testing.assert_allclose(again, depth, rtol=1e-4, atol=1e-5)


def test_depth_clamps_and_inverse() -> None:
    model, processor = tiny_depth_anything()
    raw = DepthAnythingMetric.from_model(model, processor).predict(_frame())
    capped = DepthAnythingMetric.from_model(model, processor, max_depth=float(np.median(raw))).predict(_frame())
    assert capped.max() <= np.median(raw) + 1e-6
    inv = DepthAnythingMetric.from_model(model, processor, inverse=True, scale=2.0).predict(_frame())
    np.testing.assert_allclose(inv, 2.0 / np.maximum(raw, 1e-6), rtol=1e-4)
    with pytest.raises(ValueError, match="min_depth"):
        DepthAnythingMetric.from_model(model, processor, min_depth=0)


def test_sensor_depth_and_errors(tmp_path: Path) -> None:
    d = np.full((H, W), 2.5, np.float32)
    assert np.array_equal(perception.create_depth("sensor").predict(_frame(d)), d)
    with pytest.raises(ValueError, match="has no depth"):
        perception.create_depth("sensor").predict(_frame())
    with pytest.raises(FileNotFoundError, match="not found"):
        perception.create_depth("zoedepth", model=tmp_path / "missing")
    with pytest.raises(OSError, match="could not load"):
        perception.create_depth("dpt", model=str(tmp_path))  # exists but holds no model
