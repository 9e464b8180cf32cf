"""Hugging Face VLM families end to end, offline: a tiny random checkpoint per family (tokenizer trained here,
processor saved to a tmp dir) trains 3 steps through ``train()``, saves, reloads with ``SpatialVLM.load`` and
answers like the in-memory model; plus per-part parameter groups, LoRA targets and checkpoint-name parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from spatialvlm_core.dataset.reader import load_qa_dataset
from spatialvlm_core.dataset.toy import write_toy_dataset
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.model import create_model
from spatialvlm_core.model.hf import HFVLM, lora_targets, part_of
from spatialvlm_core.model.tokenizer import train_tokenizer
from spatialvlm_core.train import train
from spatialvlm_core.train.config import TrainConfig

TEMPLATE = ("{% for m in messages %}{{ m.role }}:{% for c in m.content %}{% if c.type == 'image' %}<image>"
            "{% else %}{{ c.text }}{% endif %}{% endfor %}\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}")
TEXTS = ["How far is the red box from the camera?", "1.5 meters", "Is the red box left of the blue box?", "Yes"]


def _text_config(tok: Any, model_type: str, **kw: Any) -> dict[str, Any]:
    return dict(model_type=model_type, vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                pad_token_id=tok.pad_token_id, **kw)


def _idefics3(path: Path) -> None:
    import transformers as T

    tok = train_tokenizer(TEXTS)
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<fake_token_around_image>", "<global-img>",
                                                         "<end_of_utterance>"]})
    ip = T.Idefics3ImageProcessorPil(do_image_splitting=False, size={"longest_edge": 64},
                                     max_image_size={"longest_edge": 64})
    T.Idefics3Processor(image_processor=ip, tokenizer=tok, chat_template=TEMPLATE, image_seq_len=4).save_pretrained(path)
    cfg = T.Idefics3Config(text_config=_text_config(tok, "llama"),
                           vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                              num_attention_heads=2, image_size=64, patch_size=16),
                           scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"),
                           pad_token_id=tok.pad_token_id)
    T.Idefics3ForConditionalGeneration(cfg).save_pretrained(path)


def _paligemma(path: Path) -> None:
    import transformers as T

    tok = train_tokenizer(TEXTS)
    ip = T.SiglipImageProcessorPil(size={"height": 32, "width": 32})
    ip.image_seq_length = 4  # (32 / 16)^2 patches
    T.PaliGemmaProcessor(image_processor=ip, tokenizer=tok).save_pretrained(path)  # no chat template
    cfg = T.PaliGemmaConfig(text_config=_text_config(tok, "gemma", head_dim=16),
                            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                               num_attention_heads=2, image_size=32, patch_size=16,
                                               projection_dim=32),
                            image_token_id=tok.convert_tokens_to_ids("<image>"), projection_dim=32,
                            pad_token_id=tok.pad_token_id)
    T.PaliGemmaForConditionalGeneration(cfg).save_pretrained(path)


def _llava(path: Path) -> None:
    import transformers as T

    tok = train_tokenizer(TEXTS)
    ip = T.CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    T.LlavaProcessor(image_processor=ip, tokenizer=tok, chat_template=TEMPLATE, patch_size=16,
                     vision_feature_select_strategy="default", num_additional_image_tokens=1).save_pretrained(path)
    cfg = T.LlavaConfig(text_config=_text_config(tok, "llama"),
                        vision_config=dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64,
                                           num_hidden_layers=2, num_attention_heads=2, image_size=32,
                                           patch_size=16, projection_dim=32),
                        image_token_id=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-1,
                        pad_token_id=tok.pad_token_id)
    T.LlavaForConditionalGeneration(cfg).save_pretrained(path)


def _qwen2_vl(path: Path) -> None:
    import transformers as T

    try:  # its processor needs a video processor, which needs torchvision (broken here)
        video = T.Qwen2VLVideoProcessor()
    except ImportError as e:
        pytest.skip(f"Qwen2VLProcessor needs Qwen2VLVideoProcessor, which needs torchvision ({str(e).strip().splitlines()[0]})")
    tok = train_tokenizer(TEXTS)
    tok.add_special_tokens({"additional_special_tokens": ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                                                         "<|video_pad|>"]})
    ip = T.Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=64 * 64, patch_size=14, merge_size=2)
    T.Qwen2VLProcessor(image_processor=ip, tokenizer=tok, video_processor=video,
                       chat_template=TEMPLATE.replace("<image>", "<|vision_start|><|image_pad|><|vision_end|>"),
                       ).save_pretrained(path)
    cfg = T.Qwen2VLConfig(
        text_config=dict(_text_config(tok, "qwen2_vl_text"), rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=32, num_heads=2, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2, in_chans=3, mlp_ratio=2),
        image_token_id=tok.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tok.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"))
    T.Qwen2VLForConditionalGeneration(cfg).save_pretrained(path)


BUILDERS: dict[str, Callable[[Path], None]] = {"idefics3": _idefics3, "paligemma": _paligemma, "llava": _llava,
                                               "qwen2_vl": _qwen2_vl}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy"), n_images=6, seed=0, size=48)


@pytest.mark.parametrize(("family", "lm_mode"), [("idefics3", "lora"), ("paligemma", "full"), ("llava", "lora"),
                                                 ("qwen2_vl", "lora")])
def test_family_trains_saves_and_reloads(family: str, lm_mode: str, toy: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    base = tmp_path / family
    BUILDERS[family](base)
    saved_models: list[HFVLM] = []  # the in-memory model train() saves last
    original_save = HFVLM.save

    def save(self: HFVLM, path: str | Path) -> None:
        saved_models.append(self)
        original_save(self, path)

    monkeypatch.setattr(HFVLM, "save", save)
    out = tmp_path / "run"
    cfg = TrainConfig(data=str(toy), out=str(out), preset=str(base), lm_mode=lm_mode, steps=3, batch_size=2,
                      lr=1e-2, warmup_steps=1, log_every=1, checkpoint_every=2, progress=False, device="cpu",
                      part_lr={"projector": 3e-2}, gradient_checkpointing=True)
    summary = train(cfg)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all(r["loss_lm"] > 0 for r in rows)
    assert summary["final_loss"] == pytest.approx(rows[-1]["loss"])
    saved = json.loads((out / "config.json").read_text())
    assert saved["format"].startswith("spatialvlm-hf/") and saved["adapter"] == (lm_mode == "lora")
    assert saved["preset"]["hf_path"] == str(base)

    tool = SpatialVLM.load(out)
    model = tool.model
    assert isinstance(model, HFVLM) and model.model_type.startswith(family[:5])
    trained = saved_models[-1]
    assert trained is not model and not trained.training
    assert any(getattr(mod, "gradient_checkpointing", False) for mod in trained.modules())
    ex = load_qa_dataset(str(toy))[:3]
    ims = [Image.open(e.image).convert("RGB") for e in ex]
    qs = [e.question for e in ex]
    n = model.preset.max_answer_tokens
    expected = trained.generate(ims, qs, max_new_tokens=n)
    assert model.generate(ims, qs, max_new_tokens=n) == expected
    assert [a.text for a in tool.ask_batch(ims, qs)] == expected


def test_reload_matches_in_memory_model(toy: Path, tmp_path: Path) -> None:
    """Train in memory, save, reload: identical weights and answers (LoRA adapter + trained projector)."""
    torch.manual_seed(0)
    _llava(tmp_path / "llava")
    m = create_model(str(tmp_path / "llava"))
    assert isinstance(m, HFVLM)
    ims = [Image.new("RGB", (40, 40), c) for c in ((200, 30, 30), (30, 30, 200))]
    qs, ans = ["How far is the red box from the camera?", "Is the red box left of the blue box?"], ["1.5 meters", "Yes"]
    opt = torch.optim.AdamW(m.param_groups(5e-2), lr=5e-2)
    for _ in range(3):
        m.loss(m.encode(ims, qs, ans)).backward()
        opt.step()
        opt.zero_grad()
    m.eval()
    m.save(tmp_path / "ck")
    back = SpatialVLM.load(tmp_path / "ck").model
    for (k, v), (k2, v2) in zip(m.state_dict().items(), back.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2), k
    assert m.generate(ims, qs, 8) == back.generate(ims, qs, 8)


def test_labels_are_the_answer_tokens_only(tmp_path: Path) -> None:
    ims = [Image.new("RGB", (40, 40), (200, 30, 30))] * 2
    qs, ans = ["How far is the red box from the camera?", "Is it?"], ["1.5 meters", "Yes"]
    for fam in ("idefics3", "paligemma"):
        BUILDERS[fam](tmp_path / fam)
        m = create_model(str(tmp_path / fam), lm_mode="full")
        batch = m.encode(ims, qs, ans)
        for i, a in enumerate(ans):
            kept = batch["labels"][i][batch["labels"][i] != -100]
            assert m.tokenizer.decode(kept, skip_special_tokens=True).strip() == a, fam
        # the prompt part is what decoding starts from: its tokens precede the first label
        first = int((batch["labels"][0] != -100).nonzero()[0])
        assert batch["attention_mask"][0, first - 1] == 1


def test_parts_groups_and_lora_targets(tmp_path: Path) -> None:
    _llava(tmp_path / "llava")
    m = create_model(str(tmp_path / "llava"), lm_mode="full", freeze_vision=True)
    names = {n for n, p in m.named_parameters() if p.requires_grad}
    assert not any(part_of(n, "llava") == "vision" for n in names)
    groups = {g["part"]: g for g in m.param_groups(1e-4, {"projector": 1e-3})}
    assert set(groups) == {"projector", "lm"} and groups["projector"]["lr"] == 1e-3 and groups["lm"]["lr"] == 1e-4
    assert sum(len(g["params"]) for g in groups.values()) == len(names)
    targets = lora_targets(m.model, "llava")
    assert targets and all(t.startswith("model.language_model.") for t in targets)
    assert part_of("model.visual.merger.mlp.0.weight", "qwen2_vl") == "projector"
    assert part_of("model.visual.blocks.0.attn.qkv.weight", "qwen2_vl") == "vision"
    lora = create_model(str(tmp_path / "llava"))  # hf preset: LoRA on the LM + the projector in full
    trained = {part_of(n, "llava") for n, p in lora.named_parameters() if p.requires_grad}
    assert trained == {"projector", "lm"}


def test_checkpoint_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hf-hub:HuggingFaceTB/SmolVLM-256M-Instruct"):
        create_model("HuggingFaceTB/SmolVLM-256M-Instruct")
    with pytest.raises(ValueError, match="hf-hub:<org>/<name>"):
        create_model("hf-hub:")
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        create_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no config\.json"):
        create_model(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="cannot load"):  # offline: no download, a clear error
        create_model("hf-hub:no-such-org/no-such-model")
