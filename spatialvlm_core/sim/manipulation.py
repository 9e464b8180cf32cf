"""Manipulation frames for training: a two-finger gripper near tabletop objects, the robot-reward setting.

The dense reward (``spatial_agent/reward.py``) asks the learned model, per frame of a robot video, "What is the
distance between the gripper and the mug?". The indoor scenes of the main training split have no gripper and no
close-up tabletops, so these frames cover that job: they are single frames of ``trajectories.generate_trajectory``
(same generator as ``evals/reward.py``'s held-out trajectories, but other seeds, hence other layouts, objects and
motions), each with its exact ``Scene3D`` (the gripper is an object named ``gripper``), sensor depth and instance
mask, and questions about them:

- the reward question in the annotator's exact wording, for the task's object and the other small objects
  ("What is the distance between the gripper and the mug?": the object named by its category, as a task names it);
- a few other spatial rows from ``questions.generate_qa`` on the exact scene (pairs with the gripper among them).

Seeds: ``manipulation_seed(split, i)`` = ``SEED0 + split * 1_000_003 + i``, far above ``evals/reward.py``'s
trajectories (10_000 + i) and the tests' small seeds; split 0 trains, split 1 is held out (domain calibration).
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict

from spatialvlm_core.questions import generate_qa
from spatialvlm_core.questions.generator import GENERATOR_VERSION
from spatialvlm_core.questions.geometry_ops import SceneContext
from spatialvlm_core.questions.registry import REGISTRY, Request
from spatialvlm_core.questions.templates import render
from spatialvlm_core.sim.trajectories import GRIPPER_ID, generate_trajectory
from spatialvlm_core.types import CameraIntrinsics, CameraPose, NDArray, QAPair, Scene3D

SEED0 = 2_000_000
EVAL_SEEDS = range(10_000, 20_000)  # evals/reward.py's held-out trajectories (seed 10_000 + i): never used here
FRAMES_PER_TRAJECTORY = 5
KINDS: tuple[str, ...] = ("success", "fail", "wander")  # "leave" only adds frames without the target
# The annotator's question (spatial_agent.reward.distance_question), one of the "distance" type's templates.
REWARD_TEMPLATE = "What is the distance between {A} and {B}?"


def manipulation_seed(split: int, index: int) -> int:
    """The trajectory seed of manipulation trajectory ``index`` in split ``split`` (0: training, 1: held out)."""
    if split < 0 or index < 0:
        raise ValueError(f"split and index must be non-negative, got {split}, {index}")
    seed = SEED0 + split * 1_000_003 + index
    if seed in EVAL_SEEDS:  # pragma: no cover - SEED0 is far above them; guards a future edit of SEED0
        raise ValueError(f"manipulation seed {seed} collides with evals/reward.py's trajectories")
    return seed


class ManipulationFrame(BaseModel):
    """One rendered frame with its exact labels; duck-types ``sim.SimScene`` for ``dataset.dense_labels``."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    image_id: str
    rgb: NDArray  # uint8[H, W, 3]
    depth: NDArray  # float32[H, W] metres
    instances: NDArray  # int32[H, W], Object3D.mask_id (0 background)
    intrinsics: CameraIntrinsics
    pose: CameraPose
    scene: Scene3D  # exact, the gripper included (when visible)
    target_id: str  # the object the trajectory's task is about
    kind: str
    seed: int


def manipulation_frames(split: int, index: int, size: tuple[int, int] = (128, 96),
                        n_frames: int = FRAMES_PER_TRAJECTORY) -> list[ManipulationFrame]:
    """The ``n_frames`` frames of manipulation trajectory ``index`` of ``split`` (kinds cycle over ``KINDS``)."""
    seed = manipulation_seed(split, index)
    kind = KINDS[index % len(KINDS)]
    tr = generate_trajectory(seed, kind, n_frames=n_frames, size=size)
    return [ManipulationFrame(image_id=f"manip_{seed}_f{i}", rgb=tr.frames[i], depth=tr.depth[i],
                              instances=tr.instances[i], intrinsics=tr.intrinsics, pose=tr.pose, scene=tr.scenes[i],
                              target_id=tr.object_id, kind=kind, seed=seed)
            for i in range(len(tr))]  # fmt: skip


def _by_category(scene: Scene3D) -> Scene3D:
    """The scene with each object whose category is unique in it captioned by the category alone ("the mug"):
    how a task names its object."""
    counts: dict[str, int] = {}
    for o in scene.objects:
        counts[o.name] = counts.get(o.name, 0) + 1
    objs = [o.model_copy(update={"caption": f"the {o.name}"}) if counts[o.name] == 1 else o for o in scene.objects]
    return scene.model_copy(update={"objects": objs})


def reward_questions(frame: ManipulationFrame, seed: int, imperial_share: float = 0.0,
                     max_objects: int = 2) -> list[QAPair]:
    """Gripper-to-object distance rows in the annotator's wording: the task's object first, then up to
    ``max_objects - 1`` other small objects (not the table). Empty when the gripper is not visible."""
    qt = REGISTRY["distance"]
    if REWARD_TEMPLATE not in qt.question_templates:
        raise ValueError(f"the 'distance' question type no longer has the template {REWARD_TEMPLATE!r}")
    q_index = qt.question_templates.index(REWARD_TEMPLATE)
    scene = _by_category(frame.scene)
    ids = {o.id: o for o in scene.objects}
    if GRIPPER_ID not in ids:
        return []
    gripper = ids[GRIPPER_ID]
    table = scene.objects[0].id if scene.objects and scene.objects[0].id == "obj_01" else None
    others = [o for o in scene.objects if o.id not in (GRIPPER_ID, frame.target_id, table)]
    rng = random.Random(f"manip-reward|{frame.image_id}|{seed}")
    rng.shuffle(others)
    targets = ([ids[frame.target_id]] if frame.target_id in ids else []) + others
    ctx = SceneContext.build(scene)
    out: list[QAPair] = []
    for obj in targets[:max_objects]:
        if obj.caption != f"the {obj.name}":  # two objects of that category: the task's wording is ambiguous
            continue
        units = "imperial" if rng.random() < imperial_share else "metric"
        draft = qt.build(ctx, [gripper, obj], Request(rng=rng, target_bool=True, units=units))
        if draft is None:  # closer than the type's 5 cm floor: no clear answer
            continue
        question = render(REWARD_TEMPLATE, A=gripper.caption, B=obj.caption)
        out.append(QAPair(
            id=f"{frame.image_id}-reward-{obj.id}", image_id=frame.image_id, qtype="distance",
            category="quantitative", kind="quantitative", question=question, answer=draft.answer,
            value=draft.value, unit=draft.unit, truth=draft.truth, object_ids=draft.object_ids,
            provenance={"template": q_index, "answer_template": draft.a_index, "seed": seed, "units": units,
                        "generator": f"spatialvlm_core.sim.manipulation+questions/{GENERATOR_VERSION}",
                        "manipulation": True, "captions": [gripper.caption, obj.caption]},
        ))  # fmt: skip
    return out


def manipulation_qa(frame: ManipulationFrame, n_other: int, seed: int, qa_config: Any = None,
                    imperial_share: float = 0.0) -> list[QAPair]:
    """``reward_questions`` plus ``n_other`` rows of ``generate_qa`` on the frame's exact scene."""
    rows = reward_questions(frame, seed, imperial_share)
    if n_other:
        rows += [qa.model_copy(update={"provenance": {**qa.provenance, "manipulation": True}})
                 for qa in generate_qa(frame.scene, n_other, seed, qa_config)]
    return rows

