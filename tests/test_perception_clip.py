"""CLIP backends and the zero-shot scene filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_perception_detect import clip_tokenizer

from spatialvlm_core import perception
from spatialvlm_core.perception.clip_backends import TransformersClip
from spatialvlm_core.perception.scene_filter import FilterReport, SceneFilter, decide

POS = ["a photo of a room", "a photo of a sofa"]
NEG = ["a photo of a tv", "a photo of a lamp"]


def tiny_clip(tmp: Path) -> tuple[Any, Any]:
    import torch
    import transformers
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tok = clip_tokenizer(tmp)
    cfg = transformers.CLIPConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )
    torch.manual_seed(0)
    ip = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return transformers.CLIPModel(cfg).eval(), transformers.CLIPProcessor(image_processor=ip, tokenizer=tok)


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (40, 50, 3), dtype=np.uint8) for _ in range(3)]


def test_transformers_clip_embeddings_are_normalised(tmp_path: Path) -> None:
    model, proc = tiny_clip(tmp_path / "tok")
    clip = TransformersClip.from_model(model, proc, batch_size=2)
    assert isinstance(clip, perception.ClipModel)
    img = clip.embed_images(_images())
    txt = clip.embed_texts(POS + NEG)
    assert img.shape == (3, 16) and txt.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1, rtol=1e-5)
    from PIL import Image  # PIL input gives the same embedding as the array

    np.testing.assert_allclose(clip.embed_images([Image.fromarray(_images()[0])])[0], img[0], atol=1e-5)
    model.save_pretrained(tmp_path / "m")
    proc.save_pretrained(tmp_path / "m")
    loaded = perception.create_clip("transformers", model=tmp_path / "m")
    np.testing.assert_allclose(loaded.embed_texts(POS + NEG), txt, atol=1e-5)


def test_decide_rule_is_softmax_over_prompts() -> None:
    sims = np.array([0.30, 0.28, 0.20, 0.10])
    d = decide(sims, POS, NEG, threshold=0.5, logit_scale=100.0)
    p = np.exp(100 * (sims - sims.max()))
    p /= p.sum()
    assert d.keep and d.score == pytest.approx(p[:2].sum()) and d.best_prompt == POS[0]
    assert d.reason.startswith("kept")
    d = decide(np.array([0.20, 0.21, 0.31, 0.10]), POS, NEG, threshold=0.5, logit_scale=100.0, image_id="x")
    assert not d.keep and d.best_prompt == NEG[0] and d.image_id == "x"
    assert "dropped" in d.reason and repr(NEG[0]) in d.reason
    # the threshold is the only knob between keep and drop at a fixed score
    assert decide(sims, POS, NEG, threshold=0.99999, logit_scale=100.0).keep is False
    with pytest.raises(ValueError, match="similarities for 4 prompts"):
        decide(np.zeros(3), POS, NEG)


def test_scene_filter_with_tiny_clip(tmp_path: Path) -> None:
    model, proc = tiny_clip(tmp_path)
    clip = TransformersClip.from_model(model, proc)
    sf = SceneFilter(clip, positive_prompts=POS, negative_prompts=NEG, threshold=0.5)
    report = sf.check_many(_images(), ["a", "b", "c"])
    assert isinstance(report, FilterReport) and len(report.decisions) == 3
    sims = sf.similarities(_images())
    for s, d in zip(sims, report.decisions, strict=True):
        assert d == decide(s, POS, NEG, 0.5, sf.logit_scale, d.image_id)
    never = SceneFilter(clip, positive_prompts=POS, negative_prompts=NEG, threshold=1.0)
    dropped = never.check_many(_images(), ["a", "b", "c"])
    assert len(dropped.dropped) == 3 and "kept 0 / 3" in dropped.summary() and "- a: dropped" in dropped.summary()
    assert sf.check(_images()[0]).keep == report.decisions[0].keep
    with pytest.raises(ValueError, match="threshold"):
        SceneFilter(clip, threshold=2.0)


def test_open_clip_backend_or_skip() -> None:
    try:
        import open_clip  # noqa: F401
    except Exception as exc:
        with pytest.raises(ImportError, match="open_clip"):
            perception.create_clip("open-clip", pretrained=None)
        pytest.skip(f"open_clip unusable here ({type(exc).__name__}: {exc}); backend raises a clear ImportError")
    clip = perception.create_clip("open-clip", model_name="ViT-B-32", pretrained=None)
    assert np.allclose(np.linalg.norm(clip.embed_texts(["a room"]), axis=1), 1, atol=1e-5)
