"""Length answers restated from the relation head's estimate (``SpatialVLM(head_numbers=True)``)."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image, ImageOps

from spatialvlm_core.infer import SpatialVLM, with_length
from spatialvlm_core.model import VisionConfig, create_model
from spatialvlm_core.model.parsing import parse_answer, restate_length

QS = ["How wide is the gray sofa?", "How far is the gray sofa from the black table?"]
# Says no quantity word: one answer fits both questions (a "wide" answer to the distance question is rejected).
ANSWER = "It is roughly 2 meters."


@pytest.mark.parametrize(("text", "meters", "want"), [
    ("There is a roughly 1.1 meters gap between them.", 0.684, "There is a roughly 0.68 meters gap between them."),
    ("The gap is 30 centimeters.", 0.684, "The gap is 68 centimeters."),
    ("It is 45cm wide.", 0.452, "It is 45 cm wide."),
    ("About 2 feet 6 inches.", 0.684, "About 2.2 feet."),
    ("About half a meter.", 0.421, "About 0.42 meters."),
    ("Roughly 3 ft.", 2.0, "Roughly 6.6 ft."),
    ("It is 12 meters away.", 14.4, "It is 14 meters away."),
])
def test_restate_length_keeps_the_words_and_the_unit(text: str, meters: float, want: str) -> None:
    out = restate_length(text, meters)
    assert out == want
    assert parse_answer(out).meters == pytest.approx(meters, rel=0.06)


def test_restate_length_without_a_length_or_with_a_bad_value() -> None:
    assert restate_length("Yes, it is.", 1.0) is None
    assert restate_length("It is 2 meters.", float("nan")) is None
    assert restate_length("It is 2 meters.", -1.0) is None


def test_with_length_falls_back_when_the_restated_text_reads_differently() -> None:
    ans = parse_answer("It is roughly 1.1 meters.")
    assert with_length(ans, 0.7).meters == pytest.approx(0.7)
    assert with_length(ans, 0.7).text == "It is roughly 0.7 meters."
    odd = parse_answer("3 in total, about 2 meters")  # "3 in" is no length: the restated number would be misread
    assert with_length(odd, 0.5) == odd


def _micro():  # type: ignore[no-untyped-def]
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4, dense_classes=32,
                       word_grounding=True, name_match="exact", relation_head=32)
    return create_model("micro", tokenizer_texts=[*QS, ANSWER], vision=vis, answer_sep="")


def _images() -> list[Image.Image]:
    ims = []
    for i in range(2):
        im = Image.new("RGB", (40, 30), (200, 40 * i, 0))
        im.paste((0, 0, 255), (0, 0, 12, 30))  # asymmetric: the mirror is another image
        ims.append(im)
    return ims


def test_length_estimates_are_the_heads_value_pooled_with_the_mirror() -> None:
    torch.manual_seed(0)
    model = _micro().eval()
    ims = _images()
    ids, _ = model.prompt_batch(QS)
    with torch.no_grad():
        _, rel = model.embed(model.pixels(ims), ids)
    plain = model.length_estimates(ims, QS, mirror=False)
    assert plain == pytest.approx(rel[:, 1].exp().tolist(), rel=1e-5)
    mirrored = model.length_estimates([ImageOps.mirror(im) for im in ims], QS, mirror=False)
    assert mirrored != pytest.approx(plain)
    pooled = model.length_estimates(ims, QS, mirror=True)
    assert pooled == pytest.approx([math.sqrt(a * b) for a, b in zip(plain, mirrored, strict=True)], rel=1e-5)


def test_length_estimates_need_a_relation_head() -> None:
    vis = VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=4)
    model = create_model("micro", tokenizer_texts=QS, vision=vis)
    with pytest.raises(ValueError, match="no relation head"):
        model.length_estimates(_images(), QS)
    assert not SpatialVLM(model).head_numbers


def _trained(seed: int):  # type: ignore[no-untyped-def]
    """A micro model trained until greedy decoding says ``ANSWER``: the text path then has a length to restate."""
    torch.manual_seed(seed)
    model = _micro()
    ims = _images()
    batch = model.encode(ims, QS, [ANSWER, ANSWER])
    opt = torch.optim.Adam(model.trainable_parameters(), 3e-3)
    model.train()
    for _ in range(80):
        loss = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    return _trained(0), _trained(1)


def test_the_tool_states_the_heads_number_in_the_models_words(trained) -> None:  # type: ignore[no-untyped-def]
    model = trained[0]
    ims = _images()
    assert model.generate(ims, QS) == [ANSWER, ANSWER]
    words = SpatialVLM(model, head_numbers=False).ask_batch(ims, QS)
    assert [a.meters for a in words] == [2.0, 2.0]
    est = model.length_estimates(ims, QS)
    head = SpatialVLM(model).ask_batch(ims, QS)
    for a, m in zip(head, est, strict=True):
        assert a.text.startswith("It is roughly ") and a.text.endswith(" meters.")
        assert a.meters == pytest.approx(m, rel=0.06)
        assert a.unit == "m"


def test_members_pool_their_estimates_and_load_from_the_members_folder(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    main, other = trained
    ims = _images()
    a, b = main.length_estimates(ims, QS), other.length_estimates(ims, QS)
    assert a != pytest.approx(b, rel=0.06)  # two seeds: two estimates, so the pooling is visible
    pooled = SpatialVLM(main, members=[other]).ask_batch(ims, QS)
    for ans, x, y in zip(pooled, a, b, strict=True):
        assert ans.meters == pytest.approx(math.sqrt(x * y), rel=0.06)
    main.save(tmp_path / "ck")
    other.save(tmp_path / "ck" / "members" / "seed-1")
    tool = SpatialVLM.load(tmp_path / "ck")
    assert len(tool.members) == 1 and tool.source.endswith("+1")
    assert [x.text for x in tool.ask_batch(ims, QS)] == [x.text for x in pooled]
    with pytest.raises(ValueError, match="need head_numbers"):
        SpatialVLM(main, members=[other], head_numbers=False)


def test_trained_questions_cover_every_wording_and_both_orders() -> None:
    from spatial_agent.schema import SubQuery
    from spatial_agent.tools import trained_question, trained_questions

    gap = SubQuery(kind="gap", a="the sofa", b="the armchair")
    qs = trained_questions(gap)
    assert len(qs) == 14 and len(set(qs)) == 14 and qs[0] == trained_question(gap)
    assert "How much free space is there between the armchair and the sofa?" in qs
    width = trained_questions(SubQuery(kind="width", a="the door"))
    assert len(width) == 7 and all("the door" in q for q in width)
    assert trained_questions(SubQuery(kind="exists", a="a piano")) == ["Is there a piano in the image?"]


def test_the_agent_tool_pools_the_estimate_over_the_wordings(trained) -> None:  # type: ignore[no-untyped-def]
    from spatial_agent.schema import SubQuery
    from spatial_agent.tools import VLMTool, trained_questions

    vlm = SpatialVLM(trained[0])
    im = _images()[0]
    query = SubQuery(kind="distance", a="the gray sofa", b="the black table")
    ans = VLMTool(vlm).measure(im, query)
    qs = trained_questions(query)
    pooled = math.exp(sum(math.log(v) for v in trained[0].length_estimates([im] * len(qs), qs)) / len(qs))
    assert ans.meters == pytest.approx(pooled, rel=0.06)
    assert vlm.ask(im, qs[0], wordings=qs).meters == ans.meters
    with pytest.raises(ValueError, match="at least one question"):
        vlm.ask(im, qs[0], wordings=[])
    with pytest.raises(ValueError, match="wordings lists"):
        vlm.ask_batch([im], [qs[0]], wordings=[qs, qs])
    words = VLMTool(SpatialVLM(trained[0], head_numbers=False)).measure(im, query)
    assert words.meters == 2.0  # without the head the tool reports the generated text's number
