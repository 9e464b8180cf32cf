"""The learned tool (SpatialVLM from RGB only) as the dense-reward annotator: evals/reward.py --tool learned."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals import reward as reward_eval
from spatial_agent.reward import RewardAnnotator, distance_question, learned_tool
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.questions.templates import render
from spatialvlm_core.sim.manipulation import REWARD_TEMPLATE


@pytest.fixture(scope="module")
def shipped() -> SpatialVLM:
    return learned_tool()


def test_training_rows_ask_the_annotators_question() -> None:
    for obj in ("mug", "bottle", "bowl", "box"):
        assert distance_question(obj) == render(REWARD_TEMPLATE, A="the gripper", B=f"the {obj}")


def test_learned_tool_sees_rgb_only(shipped: SpatialVLM) -> None:
    assert isinstance(shipped, SpatialVLM)
    annot = RewardAnnotator(shipped)
    assert annot.pass_frames is False  # frames reach the model as RGB arrays: no depth, no masks


def test_a_model_with_the_gripper_class_takes_the_question(shipped: SpatialVLM) -> None:
    from spatialvlm_core.model import create_model

    q = distance_question("mug")
    fresh = SpatialVLM(create_model("tiny-relation-points", tokenizer_texts=[q]))
    assert "gripper" in fresh.classes
    assert fresh.question_refusal(q) is None
    if "gripper" not in shipped.classes:  # a checkpoint from before the gripper class declines, with the reason
        assert "cannot ground 'the gripper'" in (shipped.question_refusal(q) or "")


def test_eval_run_accounts_for_every_frame(shipped: SpatialVLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reward_eval, "learned_tool", lambda model=None: shipped)
    r = reward_eval.run(n=3, frames=3, tool_name="learned")
    assert r["frames"] == 9 and len(r["traces"]) == 3
    assert sum(r["missing_why"].values()) == round(r["missing_rate"] * r["frames"])
    for t in r["traces"]:
        assert len(t["truth"]) == len(t["annotated"]) == 3
        assert t["question"] == distance_question(t["question"].rsplit(" the ", 1)[1].rstrip("?"))
    md = reward_eval.report_markdown(r, {"tool": "learned", "argv": ["--tool", "learned"]}, "x.png")
    assert "median Spearman" in md and "![annotated vs true distance](x.png)" in md


def test_cli_prints_median_spearman_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "plot.png"
    reward_eval.main(["--tool", "oracle", "--n", "3", "--frames", "4", "--plot", str(png)])
    out = capsys.readouterr().out
    assert "median Spearman" in out and "tool=oracle" in out
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit):
        reward_eval.main(["--tool", "pipeline", "--model", str(tmp_path)])
