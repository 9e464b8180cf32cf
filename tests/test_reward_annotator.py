"""RewardAnnotator with scripted tools: batching, missing frames, units, frame sources, save/load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from spatial_agent.reward import RewardAnnotator, RewardConfig, RewardTrace, plot_trace, spearman
from spatial_agent.reward_io import load_frames
from spatialvlm_core.types import Answer


def _img(i: int) -> np.ndarray:
    a = np.zeros((12, 16, 3), np.uint8)
    a[..., 0] = i  # the frame index is readable from the pixels
    return a


def _answer(d: float | None, unit: str = "m") -> Answer:
    if d is None:
        return Answer(text="I cannot find a mug in the image", source="fake")
    v = d * 100 if unit == "cm" else d
    return Answer(text=f"{v:g} {unit}", value=v, unit=unit, source="fake")


class BatchTool:
    """Answers by the frame index encoded in the red channel; records every batch it gets."""

    name = "fake-batch"

    def __init__(self, dists: list[float | None], unit: str = "m") -> None:
        self.dists, self.unit = dists, unit
        self.batches: list[int] = []
        self.questions: list[str] = []

    def ask_batch(self, images: list[Any], questions: list[str]) -> list[Answer]:
        self.batches.append(len(images))
        self.questions += questions
        return [_answer(self.dists[int(np.asarray(im)[0, 0, 0])], self.unit) for im in images]

    def ask(self, image: Any, question: str) -> Answer:
        raise AssertionError("the annotator must batch")


class AskTool:
    name = "fake-ask"

    def __init__(self, dists: list[float | None]) -> None:
        self.dists = dists
        self.calls = 0

    def ask(self, image: Any, question: str) -> Answer:
        self.calls += 1
        return _answer(self.dists[int(np.asarray(image)[0, 0, 0])])


DISTS: list[float | None] = [0.5, 0.45, None, 0.3, 0.2, None, 0.1, 0.05]


def test_annotate_batches_and_flags_missing() -> None:
    tool = BatchTool(DISTS)
    cfg = RewardConfig(batch_size=3, shaping="progress")
    trace = RewardAnnotator(tool, cfg).annotate([_img(i) for i in range(len(DISTS))], task="pick up the mug")
    assert tool.batches == [3, 3, 2]
    assert set(tool.questions) == {"What is the distance between the gripper and the mug?"}
    assert trace.target == "the mug" and trace.unit == "m"
    assert trace.distances == DISTS  # missing frames stay None, never a number
    assert trace.missing == [d is None for d in DISTS]
    assert trace.missing_rate == pytest.approx(2 / 8)
    assert trace.bridged == trace.missing
    assert all(v is not None for v in trace.smoothed)  # bridged on the smoothed curve...
    assert trace.reward == trace.rewards["progress"] and trace.reward[0] == 0.0
    assert trace.total_reward == pytest.approx(sum(r for r in trace.reward if r is not None))
    assert trace.answers[2].startswith("I cannot find")


def test_raw_rewards_stay_missing() -> None:
    cfg = RewardConfig(reward_from="raw", shaping="negative_distance")
    trace = RewardAnnotator(BatchTool(DISTS), cfg).annotate([_img(i) for i in range(len(DISTS))], task="grasp the mug")
    assert trace.reward == [None if d is None else -d for d in DISTS]
    assert trace.rewards["potential"][3] is None  # transition out of a missing frame


def test_ask_only_tool_and_centimetres() -> None:
    tool = AskTool([0.4, 0.3, 0.2])
    trace = RewardAnnotator(tool).annotate([_img(i) for i in range(3)], task="reach for the mug")
    assert tool.calls == 3 and trace.distances == pytest.approx([0.4, 0.3, 0.2])
    trace_cm = RewardAnnotator(BatchTool([0.4, 0.3, 0.2], unit="cm")).annotate([_img(i) for i in range(3)], "mug")
    assert trace_cm.distances == pytest.approx([0.4, 0.3, 0.2])  # answers in cm, trace in metres


def test_target_override_and_bad_tool() -> None:
    tool = BatchTool([0.1])
    trace = RewardAnnotator(tool).annotate([_img(0)], task="tidy up", target="blue bottle")
    assert trace.question == "What is the distance between the gripper and the blue bottle?"
    with pytest.raises(TypeError, match="ask"):
        RewardAnnotator(object())


def test_folder_of_frames_and_save_load(tmp_path: Path) -> None:
    d = tmp_path / "frames"
    d.mkdir()
    for i in range(4):
        Image.fromarray(_img(i)).save(d / f"{i:03d}.png")
    (d / "notes.txt").write_text("ignored")
    trace = RewardAnnotator(BatchTool([0.4, 0.3, 0.2, 0.1])).annotate(d, task="pick up the mug")
    assert trace.frame_ids == ["000", "001", "002", "003"]
    assert trace.distances == pytest.approx([0.4, 0.3, 0.2, 0.1])
    out = trace.save(tmp_path / "out" / "rewards.json")
    back = RewardTrace.load(out)
    assert back == trace
    png = plot_trace(trace, tmp_path / "r.png", truth=[0.4, 0.3, 0.2, 0.1])
    assert png.stat().st_size > 1000
    with pytest.raises(FileNotFoundError):
        RewardTrace.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match=r"bad\.json"):
        RewardTrace.load(bad)


def test_frame_source_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_frames(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        load_frames(empty)
    (tmp_path / "x.csv").write_text("a")
    with pytest.raises(ValueError, match="not a folder, image"):
        load_frames(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="empty"):
        load_frames([])


def test_video_file(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from spatial_agent.reward_io import write_video

    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    path = write_video(frames, tmp_path / "clip.mp4", fps=5)
    got, ids = load_frames(path)
    assert len(got) == 5 and got[0].shape == (48, 64, 3) and ids[0] == "frame_0000"
    # lossy codec: brightness order survives
    assert np.all(np.diff([float(g.mean()) for g in got]) > 0)
    assert len(load_frames(path, stride=2)[0]) == 3


def test_gif(tmp_path: Path) -> None:
    ims = [Image.fromarray(_img(i)) for i in range(3)]
    ims[0].save(tmp_path / "a.gif", save_all=True, append_images=ims[1:], duration=100)
    got, _ = load_frames(tmp_path / "a.gif")
    assert len(got) == 3


def test_spearman() -> None:
    assert spearman([1, 2, 3, None], [10, 20, 30, 5]) == pytest.approx(1.0)
    assert spearman([3, 2, 1], [1, 2, 3]) == pytest.approx(-1.0)
    assert spearman([1, None], [1, 2]) is None


def test_vlm_tool_wrapper_is_batched_through_its_model() -> None:
    from spatial_agent.tools import VLMTool

    inner = BatchTool([0.3, 0.2, 0.1])
    trace = RewardAnnotator(VLMTool(inner, name="vlm:fake")).annotate([_img(i) for i in range(3)], "pick up the mug")
    assert inner.batches == [3] and trace.tool == "vlm:fake"
    assert trace.distances == pytest.approx([0.3, 0.2, 0.1])
