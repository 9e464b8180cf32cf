"""Manipulation frames for training (sim/manipulation.py) and their mixing into the sim split (dataset/sim_splits.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from spatialvlm_core.dataset.dense_labels import sim_dense_targets
from spatialvlm_core.dataset.shards import read_rows
from spatialvlm_core.dataset.sim_splits import SimDataConfig, cached_sim_dataset, manipulation_trajectories
from spatialvlm_core.model.dense_classes import DENSE_CLASSES, class_names
from spatialvlm_core.model.presets import N_DENSE_CLASSES, get_preset
from spatialvlm_core.sim.manipulation import (
    EVAL_SEEDS,
    FRAMES_PER_TRAJECTORY,
    REWARD_TEMPLATE,
    manipulation_frames,
    manipulation_qa,
    manipulation_seed,
    reward_questions,
)
from spatialvlm_core.sim.trajectories import GRIPPER_ID


@pytest.fixture(scope="module")
def frames() -> list:
    return manipulation_frames(0, 0, (128, 96))


def test_seeds_are_disjoint_from_the_reward_eval_and_across_splits() -> None:
    train = {manipulation_seed(0, i) for i in range(5000)}
    held = {manipulation_seed(1, i) for i in range(5000)}
    assert not train & held
    assert not (train | held) & set(EVAL_SEEDS)
    with pytest.raises(ValueError, match="non-negative"):
        manipulation_seed(0, -1)


def test_frames_carry_the_gripper_with_exact_labels(frames: list) -> None:
    assert len(frames) == FRAMES_PER_TRAJECTORY
    f = frames[0]
    assert f.rgb.shape == (96, 128, 3) and f.depth.shape == (96, 128) and f.instances.shape == (96, 128)
    assert any(o.id == GRIPPER_ID and o.name == "gripper" for fr in frames for o in fr.scene.objects)
    # Every listed object shows in the instance mask under its mask id.
    for o in f.scene.objects:
        assert (f.instances == o.mask_id).sum() > 0


def test_reward_questions_use_the_annotators_wording_and_exact_distance(frames: list) -> None:
    rows = [qa for f in frames for qa in reward_questions(f, seed=3)]
    assert rows, "no reward question over a whole trajectory"
    by_frame = {f.image_id: f for f in frames}
    for qa in rows:
        f = by_frame[qa.image_id]
        objs = {o.id: o for o in f.scene.objects}
        a, b = (objs[i] for i in qa.object_ids)
        assert a.id == GRIPPER_ID
        assert qa.question == REWARD_TEMPLATE.replace("{A}", "the gripper").replace("{B}", f"the {b.name}")
        assert qa.truth == pytest.approx(float(np.linalg.norm(np.subtract(a.centroid, b.centroid))))
        assert json.loads(json.dumps(qa.provenance))["captions"] == ["the gripper", f"the {b.name}"]
    # The task's object is asked about in every frame where the gripper and it are visible and apart >= 5 cm.
    target_rows = [qa for qa in rows if qa.object_ids[1] == frames[0].target_id]
    assert target_rows


def test_manipulation_qa_adds_other_spatial_rows(frames: list) -> None:
    f = next(fr for fr in frames if any(o.id == GRIPPER_ID for o in fr.scene.objects))
    rows = manipulation_qa(f, 6, seed=1)
    other = [qa for qa in rows if "-reward-" not in qa.id]
    assert len(other) >= 3
    assert all(qa.provenance.get("manipulation") for qa in rows)


def test_gripper_is_a_dense_class_and_new_presets_have_its_slot(frames: list) -> None:
    k = DENSE_CLASSES.index("gripper")
    assert len(DENSE_CLASSES) == N_DENSE_CLASSES == get_preset("tiny-relation-points").vision.dense_classes
    assert class_names(32) == DENSE_CLASSES[:32] and "gripper" not in class_names(32)  # the shipped checkpoint's
    with pytest.raises(ValueError, match="dense_classes"):
        class_names(N_DENSE_CLASSES + 1)
    f = next(fr for fr in frames if any(o.id == GRIPPER_ID for o in fr.scene.objects))
    t = sim_dense_targets(f, 8, 24)
    assert (t["cls"] == k).any() or (t["fine_cls"] == k).any()


def test_cache_keys_of_the_default_splits_are_unchanged() -> None:
    # Keys of caches written before manipulation_share existed (the shipped recipe's train and held-out splits).
    def key(cfg: SimDataConfig) -> str:
        import spatialvlm_core.dataset.sim_splits as sd

        orig = sd.write_sim_dataset
        sd.write_sim_dataset = lambda root, cfg, progress=True: Path(root)  # type: ignore[assignment]
        try:
            return cached_sim_dataset("/nonexistent", cfg).name
        finally:
            sd.write_sim_dataset = orig  # type: ignore[assignment]

    train = dict(n_scenes=5000, seed=0, locate_per_scene=4, dense_grid=8, fine_grid=24)
    assert key(SimDataConfig(**train)) == "sim-0-5000-5c19a38be497"
    assert key(SimDataConfig(n_scenes=150, seed=1, qa_per_scene=16)) == "sim-1-150-898d15fb8480"
    assert key(SimDataConfig(**train, manipulation_share=0.2)) != "sim-0-5000-5c19a38be497"
    assert manipulation_trajectories(SimDataConfig(n_scenes=5000, manipulation_share=0.2)) == math.ceil(
        1000 / FRAMES_PER_TRAJECTORY)


def test_write_sim_dataset_mixes_manipulation_frames(tmp_path: Path) -> None:
    from spatialvlm_core.dataset.sim_splits import write_sim_dataset

    cfg = SimDataConfig(n_scenes=1, qa_per_scene=4, locate_per_scene=2, dense_grid=8, fine_grid=24,
                        manipulation_share=FRAMES_PER_TRAJECTORY, manipulation_qa=3)
    root = write_sim_dataset(tmp_path / "d", cfg, progress=False)
    rows = read_rows(root)  # the one writer's shards (dataset.shards), JSONL twin of the Parquet
    manip = [r for r in rows if r["image"].startswith("images/manip-")]
    assert manip and len(manip) < len(rows)
    assert len({r["image"] for r in manip}) == FRAMES_PER_TRAJECTORY
    assert any(r["question"].startswith("What is the distance between the gripper and the ") for r in manip)
    for r in manip:
        assert (root / r["image"]).is_file()
        assert (root / r["image"].replace(".png", ".dense.npz")).is_file()
        assert json.loads(r["provenance"])["captions"]
    saved = json.loads((root / "simdata_config.json").read_text())
    assert saved["manipulation_share"] == FRAMES_PER_TRAJECTORY
    # At share 0 the config file is as before the field existed.
    root0 = write_sim_dataset(tmp_path / "d0", SimDataConfig(n_scenes=1, qa_per_scene=2), progress=False)
    assert "manipulation_share" not in json.loads((root0 / "simdata_config.json").read_text())
    assert not list((root0 / "images").glob("manip-*"))
