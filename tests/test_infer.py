"""The SpatialVLM tool: answers with parsed quantities, bad inputs, and an HF image-text-to-text checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.model import create_model
from spatialvlm_core.types import Answer


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> SpatialVLM:
    d = tmp_path_factory.mktemp("ck")
    create_model("micro", tokenizer_texts=["How far is the red box?", "1.5 meters"]).save(d)
    return SpatialVLM.load(d)


def test_ask_returns_answer_and_matches_batch(tool: SpatialVLM, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)
    png = tmp_path / "x.png"
    Image.fromarray(arr).save(png)
    a = tool.ask(png, "How far is the red box?")
    assert isinstance(a, Answer) and a.source == "vlm:micro"
    b = tool.ask_batch([arr, Image.fromarray(arr)], ["How far is the red box?", "How far is the red box?"])
    assert [x.text for x in b] == [a.text, a.text]


def test_bad_inputs(tool: SpatialVLM, tmp_path: Path) -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="empty"):
        tool.ask(img, "   ")
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        tool.ask(tmp_path / "nope.png", "How far?")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read image"):
        tool.ask(junk, "How far?")
    with pytest.raises(ValueError, match="HxWx3"):
        tool.ask(np.zeros((8, 8)), "How far?")
    with pytest.raises(ValueError, match="2 images but 1 questions"):
        tool.ask_batch([img, img], ["a?"])
    with pytest.raises(FileNotFoundError):
        SpatialVLM.load(tmp_path / "missing-ckpt")


def _tiny_idefics3(path: Path) -> Path:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor

    try:
        from transformers import Idefics3ImageProcessorPil as ImageProcessor
    except ImportError:
        from transformers import Idefics3ImageProcessor as ImageProcessor

    from spatialvlm_core.model.tokenizer import train_tokenizer

    tok = train_tokenizer(["How far is the red box?", "1.5 meters"])
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<fake_token_around_image>", "<global-img>",
                                                         "<end_of_utterance>"]})
    template = ("{% for m in messages %}{{ m.role }}:{% for c in m.content %}{% if c.type == 'image' %}<image>"
                "{% else %}{{ c.text }}{% endif %}{% endfor %}\n{% endfor %}"
                "{% if add_generation_prompt %}Assistant:{% endif %}")
    ip = ImageProcessor(do_image_splitting=False, size={"longest_edge": 64}, max_image_size={"longest_edge": 64})
    proc = Idefics3Processor(image_processor=ip, tokenizer=tok, chat_template=template, image_seq_len=4)
    cfg = Idefics3Config(
        text_config=dict(model_type="llama", vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=256, pad_token_id=tok.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=64, patch_size=16),
        scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"), pad_token_id=tok.pad_token_id,
    )
    Idefics3ForConditionalGeneration(cfg).save_pretrained(path)
    proc.save_pretrained(path)
    return path


def test_hf_idefics3_checkpoint_by_path(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)  # a random tiny model: its babble must not depend on the run
    base = _tiny_idefics3(tmp_path / "idefics3")
    m = create_model(str(base))  # "hf" preset: LoRA on the language model
    assert m.preset.kind == "hf" and m.preset.hf_path == str(base)
    ims = [Image.fromarray(np.full((64, 64, 3), c, np.uint8)) for c in (30, 200)]
    qs, ans = ["How far is the red box?", "Is the red box on the left?"], ["1.5 meters", "Yes"]
    batch = m.encode(ims, qs, ans)
    for i, a in enumerate(ans):  # loss on answer tokens (+ eos) only
        kept = batch["labels"][i][batch["labels"][i] != -100]
        assert m.tokenizer.decode(kept, skip_special_tokens=True).strip() == a
    opt = torch.optim.AdamW(m.trainable_parameters(), lr=1e-2)
    loss = m.loss(batch)
    loss.backward()
    opt.step()
    out = m.generate(ims, qs, max_new_tokens=3)
    m.save(tmp_path / "ck")
    tool = SpatialVLM.load(tmp_path / "ck")
    n = m.preset.max_answer_tokens
    expected = [t.strip() for t in m.generate(ims, qs, max_new_tokens=n)]
    assert [t.strip() for t in tool.model.generate(ims, qs, max_new_tokens=n)] == expected  # reloads identically
    for answer, raw in zip(tool.ask_batch(ims, qs), expected, strict=True):
        # The tool passes the model's text on, or declines it quoting it (random babble may name an object the
        # question does not mention: the validity check's job).
        assert answer.text == raw or (answer.text.startswith("I can't answer") and repr(raw)[1:-1] in answer.text)
    assert len(out) == 2


def test_to_pil_accepts_frames() -> None:
    import numpy as np

    from spatialvlm_core.model.base import to_pil
    from spatialvlm_core.types import Frame

    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[1, 2] = (10, 20, 30)
    im = to_pil(Frame(image_id="f", rgb=rgb))
    assert im.size == (8, 6) and im.getpixel((2, 1)) == (10, 20, 30)
