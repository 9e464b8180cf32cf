"""Synthetic robot trajectories: reproducible, exact distances, save/load; annotated with the spatial tools."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spatial_agent.cli import main as cli_main
from spatial_agent.reward import RewardAnnotator, RewardTrace, oracle_tool, pipeline_tool, spearman
from spatialvlm_core.sim.trajectories import (
    Trajectory,
    generate_trajectory,
    load_trajectory,
    save_trajectory,
)

SIZE = (160, 120)


@pytest.fixture(scope="module")
def success() -> Trajectory:
    return generate_trajectory(1, "success", n_frames=14, size=SIZE, target="mug")


@pytest.fixture(scope="module")
def leave() -> Trajectory:
    return generate_trajectory(2, "leave", n_frames=16, size=SIZE)


def test_reproducible_and_exact(success: Trajectory) -> None:
    again = generate_trajectory(1, "success", n_frames=14, size=SIZE, target="mug")
    assert all(np.array_equal(a, b) for a, b in zip(success.frames, again.frames, strict=True))
    assert success.true_distances == again.true_distances
    assert success.task == "pick up the mug" and success.object_name == "mug" and success.success
    assert len(success) == 14 and success.frames[0].shape == (120, 160, 3)
    for i, scene in enumerate(success.scenes):
        ids = {o.id for o in scene.objects}
        if success.visible[i]:
            g, o = scene.get("gripper"), scene.get(success.object_id)
            d = float(np.linalg.norm(np.subtract(g.centroid, o.centroid)))
            assert d == pytest.approx(success.true_distances[i], abs=1e-9)  # centre-to-centre, exact
            assert g.name == "gripper" and (success.instances[i] == g.mask_id).sum() > 0
        else:
            assert not {"gripper", success.object_id} <= ids
    # approach then hold: ends much closer than it starts, tip touches the object after the grasp
    assert success.true_distances[-1] < 0.5 * success.true_distances[0]
    assert success.tip_distances[-1] < 0.02 < success.tip_distances[0]


def test_kinds_differ_and_bad_input() -> None:
    fail = generate_trajectory(5, "fail", n_frames=10, size=SIZE)
    wander = generate_trajectory(5, "wander", n_frames=10, size=SIZE)
    assert not fail.success and not wander.success
    assert fail.true_distances != wander.true_distances
    with pytest.raises(ValueError, match="kind"):
        generate_trajectory(0, "dance")
    with pytest.raises(ValueError, match="seed"):
        generate_trajectory(-1)
    with pytest.raises(ValueError, match="target"):
        generate_trajectory(0, target="sofa")


def test_save_load_roundtrip(success: Trajectory, tmp_path: Path) -> None:
    out = save_trajectory(success, tmp_path / "t")
    assert (out / "trajectory.json").is_file() and (out / "frames" / "000.png").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left behind
    back = load_trajectory(out)
    assert back.true_distances == success.true_distances and back.scenes == success.scenes
    assert all(np.array_equal(a, b) for a, b in zip(back.frames, success.frames, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(back.depth, success.depth, strict=True))
    assert back.frame(3).ground_truth is not None
    (out / "depth.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"depth\.npz"):
        load_trajectory(out)
    with pytest.raises(FileNotFoundError):
        load_trajectory(tmp_path / "nope")


def test_pipeline_tool_tracks_truth(success: Trajectory) -> None:
    trace = RewardAnnotator(pipeline_tool()).annotate(success.as_frames(), success.task)
    assert trace.missing_rate == 0.0
    rho = spearman(trace.distances, success.true_distances)
    assert rho is not None and rho >= 0.9
    err = np.abs(np.array(trace.distances, float) - np.array(success.true_distances))
    assert np.median(err) < 0.03  # metres, from pixels + sensor depth, not from the GT numbers
    assert trace.reward[-1] is not None and trace.reward[-1] > 0.5  # progress near 1 after the grasp


def test_object_leaving_the_frame_is_missing(leave: Trajectory) -> None:
    hidden = [i for i, v in enumerate(leave.visible) if not v]
    assert hidden and hidden[-1] == len(leave) - 1  # carried out of view at the end
    for tool in (oracle_tool(), pipeline_tool()):
        trace = RewardAnnotator(tool).annotate(leave.as_frames(), leave.task)
        for i in hidden:
            assert trace.distances[i] is None and trace.missing[i], (tool.name, i)
            assert "cannot find" in trace.answers[i]
        assert trace.bridged == trace.missing
        seen = [i for i in range(len(leave)) if leave.visible[i]]
        assert all(trace.distances[i] is not None for i in seen)


def test_cli_on_trajectory_folder(success: Trajectory, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = save_trajectory(success, tmp_path / "traj")
    out, plot = tmp_path / "rewards.json", tmp_path / "rewards.png"
    rc = cli_main(["reward", str(folder), "--task", "pick up the mug", "--out", str(out), "--plot", str(plot),
                   "--truth", str(folder / "trajectory.json"), "--tool", "oracle"])
    assert rc == 0 and plot.stat().st_size > 1000
    trace = RewardTrace.load(out)
    assert trace.distances == pytest.approx(success.true_distances)
    assert trace.provenance["spearman_vs_truth"] == pytest.approx(1.0)
    assert "Spearman vs truth 1.000" in capsys.readouterr().out
    frames_only = tmp_path / "pngs"
    (frames_only).mkdir()
    for p in sorted((folder / "frames").iterdir()):
        (frames_only / p.name).write_bytes(p.read_bytes())
    rc = cli_main(["reward", str(frames_only), "--task", "pick up the mug", "--out", str(out)])
    assert rc == 2 and "--model" in capsys.readouterr().err  # plain images: the geometric tool cannot measure
    json.loads(out.read_text())  # the earlier output is untouched
