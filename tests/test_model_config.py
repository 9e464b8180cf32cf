"""Model configs registered by type: exact dict/JSON round trips, the pre-registry checkpoint dicts, each family's
validation, the class vocabulary saved with the checkpoint, and the explicit factory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spatialvlm_core.model import (
    ComposedConfig,
    HFConfig,
    ModelConfig,
    VisionConfig,
    create_model,
    from_config,
    from_hf,
    get_preset,
    list_presets,
    load,
)
from spatialvlm_core.model.dense_classes import class_names
from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR


def _legacy(cfg: ComposedConfig) -> dict:  # type: ignore[type-arg]
    """``cfg`` as checkpoints stored it before the registry: one flat dict with ``kind``, no class names."""
    d = cfg.to_dict()
    d.pop("class_names")
    d["kind"] = d.pop("type")
    d["hf_path"] = None
    d["vision"] |= {"anchor_geometry": False, "question_gate": False}
    return d


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_round_trips_through_dict_and_json_exactly(name: str) -> None:
    cfg = get_preset(name)
    d = cfg.to_dict()
    assert d["type"] == cfg.type == cfg.kind and type(cfg) is type(ModelConfig.from_dict(d))
    assert ModelConfig.from_dict(d) == cfg and ModelConfig.from_dict(d).to_dict() == d
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json()) == d  # JSON-native already: lists, not tuples


def test_presets_carry_their_class_vocabulary() -> None:
    cfg = get_preset("tiny-relation-points")
    assert isinstance(cfg, ComposedConfig) and cfg.class_names == tuple(class_names(cfg.vision.dense_classes))
    small = get_preset("micro", vision=VisionConfig(dense_classes=5, word_grounding=True))
    assert small.class_names == tuple(class_names(5))  # the override's count, not the preset's
    assert get_preset("micro").class_names == ()  # no dense head: no classes
    with pytest.raises(ValueError, match=r"class_names has 3 names, vision\.dense_classes is 5"):
        ComposedConfig(name="x", vision=VisionConfig(dense_classes=5), class_names=("a", "b", "c")).validate()


def test_legacy_flat_dicts_load_and_retired_flags_are_refused() -> None:
    cfg = get_preset("tiny-relation-points")
    assert isinstance(cfg, ComposedConfig)
    old = _legacy(cfg)
    # Documented fallback: a legacy dict without class names gets the first dense_classes of the frozen list.
    assert ModelConfig.from_dict(old) == cfg
    old["vision"]["question_gate"] = True
    with pytest.raises(ValueError, match=r"vision\.question_gate, which was retired"):
        ModelConfig.from_dict(old)
    hf = {"name": "hf", "kind": "hf", "lm_source": "scratch", "lm_mode": "lora", "freeze_vision": False,
          "vision": {}, "text": {}, "lora_r": 8, "lora_alpha": 16, "max_answer_tokens": 32, "answer_sep": " ",
          "hf_path": "org/m"}
    assert ModelConfig.from_dict(hf) == HFConfig(name="hf", hf_path="org/m")


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="no 'type'"):
        ModelConfig.from_dict({"name": "x"})
    with pytest.raises(ValueError, match="unknown type 'nope'"):
        ModelConfig.from_dict({"type": "nope", "name": "x"})
    with pytest.raises(ValueError, match="composed config fields are invalid"):
        ModelConfig.from_dict({"type": "composed", "name": "x", "bogus": 1})
    with pytest.raises(ValueError, match="lm_mode"):
        ModelConfig.from_dict({"type": "hf", "name": "x", "lm_mode": "half"})


def test_the_shipped_checkpoint_stores_its_classes_and_the_model_reads_them_from_there() -> None:
    raw = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    saved = ModelConfig.from_dict(raw["preset"])
    assert raw["preset"]["type"] == "composed" and raw["preset"]["class_names"] == list(class_names(32))
    model = load(DEFAULT_MODEL_DIR)
    tok = model.tokenizer
    assert model.preset == saved
    assert model.grounding.class_seqs == [tok(" " + c, add_special_tokens=False).input_ids  # type: ignore[union-attr]
                                          for c in saved.class_names[1:]]


def test_factory_from_config_load_and_from_hf(tmp_path: Path) -> None:
    m = from_config(get_preset("micro"), tokenizer_texts=["How far is it?", "1 m"])
    m.save(tmp_path / "ck")
    saved = json.loads((tmp_path / "ck" / "config.json").read_text())["preset"]
    assert saved == m.preset.to_dict() and saved["type"] == "composed"
    again = load(tmp_path / "ck")
    assert again.preset == m.preset
    assert create_model(tmp_path / "ck").preset == m.preset
    with pytest.raises(ValueError, match="needs hf_path"):
        from_config(HFConfig(name="hf"))
    with pytest.raises(ValueError, match="not 'hf-hub:<org>/<name>'"):
        from_hf("tiny")
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        (tmp_path / "bad").mkdir()
        (tmp_path / "bad" / "config.json").write_text(json.dumps({"format": "spatialvlm-x/1", "preset": saved}))
        load(tmp_path / "bad")


def test_the_model_package_does_not_import_the_simulator() -> None:
    code = ("import sys, spatialvlm_core.model.composed.model, spatialvlm_core.model.factory, spatialvlm_core.model.hf;"
            "bad = sorted(m for m in sys.modules if m.startswith(('spatialvlm_core.sim', 'spatialvlm_core.dataset')));"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
