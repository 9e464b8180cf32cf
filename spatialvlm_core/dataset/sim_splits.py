"""Training/eval data for the default model straight from the synthetic world:
``sim.generate_scene`` -> ``reconstruct`` (ground-truth detector/segmenter, sensor depth) -> ``generate_qa``.

Writes the pipeline's dataset format (``ROOT/images/*.png`` + ``ROOT/data/*.parquet`` rows of QAPair fields +
``image``), so ``data.load_qa_dataset`` reads it. Besides the QA generator's questions it can add auxiliary
*grounding* rows ("Where is the red door in the image?" -> "x 5 y 2"): they teach the small model to bind a
caption to an image region, which the spatial questions need but supervise only weakly.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.types import QAPair

# Question types a tiny from-scratch model can ground (the benchmark's mix for the default model): pairwise
# relations and metric sizes/distances. Left out: multi-object choices, counts, clock/bearing, differences of
# nearly equal values (tiny truths make the ratio metric meaningless).
QUALITATIVE_TYPES = [
    "left_right_predicate", "left_right_choice", "above_below_predicate", "above_below_choice",
    "front_behind_predicate", "front_behind_choice", "closer_predicate", "closer_choice",
    "taller_predicate", "taller_choice", "bigger_predicate", "bigger_choice",
    "wider_predicate", "wider_choice",
]  # fmt: skip
QUANTITATIVE_TYPES = [
    "distance", "horizontal_distance", "width", "height", "depth", "height_above_floor", "distance_to_camera",
    "gap", "min_distance",  # what the agent's fit-between and reach sub-queries ask the learned tool
]  # fmt: skip
LOCATE_QTYPE = "locate"  # auxiliary grounding rows (training only; evaluation skips them)
LOCATE_GRID = (8, 6)  # columns, rows of the answer grid (4:3 renders)


class SimDataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_scenes: int = Field(gt=0)
    seed: int = Field(0, ge=0)  # scene seeds are seed * 1_000_003 + i: splits with different seeds are disjoint
    width: int = Field(128, ge=16)
    height: int = Field(96, ge=16)
    qa_per_scene: int = Field(24, ge=1)
    locate_per_scene: int = Field(0, ge=0)
    qualitative_share: float = Field(0.5, ge=0, le=1)
    imperial_share: float = Field(0.0, ge=0, le=1)
    label_noise: float = Field(0.0, ge=0)  # sigma (m) on 3D labels before question generation
    allow: list[str] = Field(default_factory=lambda: QUALITATIVE_TYPES + QUANTITATIVE_TYPES)
    workers: int = Field(1, ge=1)  # >1: spawn a process pool
    dense_grid: int = Field(0, ge=0)  # >0: also write per-token vision targets (dataset/dense_labels.py)
    fine_grid: int = Field(0, ge=0)  # >0 (with dense_grid): also the point map's (model/point_grounding.py)
    # Manipulation frames (a gripper near tabletop objects, sim/manipulation.py) per scene of the split: 0.2 with
    # 5,000 scenes adds 1,000 frames, each with the reward question(s) and ``manipulation_qa`` other rows.
    manipulation_share: float = Field(0.0, ge=0)
    manipulation_qa: int = Field(6, ge=0)


# Fields whose default leaves the dataset as it was before they existed: left out of the cache key and of
# simdata_config.json at that default, so existing caches stay valid and new ones byte-identical.
_NEUTRAL_DEFAULTS: dict[str, object] = {"fine_grid": 0, "manipulation_share": 0.0, "manipulation_qa": 6}



def qa_rows(qas: list[Any], captions: dict[str, str], image: str, keep_given: bool = False) -> list[dict[str, Any]]:
    """Dataset rows for the QA pairs of one image: the pair's fields, its image path, and the captions its
    question offered (choice scoring needs them: the reference names only the right one; ``keep_given`` keeps
    captions a row already carries), with the provenance as JSON."""
    rows = []
    for qa in qas:
        row = qa.model_dump(mode="json")
        offered = [captions[i] for i in qa.object_ids if i in captions]
        if keep_given:
            row["provenance"].setdefault("captions", offered)
        else:
            row["provenance"]["captions"] = offered
        row["provenance"] = json.dumps(row["provenance"])
        row["image"] = image
        rows.append(row)
    return rows

def _neutral(cfg: SimDataConfig) -> set[str]:
    out = {k for k, v in _NEUTRAL_DEFAULTS.items() if getattr(cfg, k) == v}
    return out if cfg.manipulation_share == 0 else out - {"manipulation_qa"}


def _locate_rows(scene3d: Any, image_id: str, width: int, height: int, rng: random.Random, n: int) -> list[QAPair]:
    from spatialvlm_core.questions.generator import referable

    cols, rows = LOCATE_GRID
    objs = [o for o in referable(scene3d) if o.box_2d is not None]
    rng.shuffle(objs)
    out = []
    for o in objs[:n]:
        x0, y0, x1, y1 = o.box_2d  # type: ignore[misc]
        cx = min(cols - 1, max(0, int((x0 + x1) / 2 / width * cols)))
        cy = min(rows - 1, max(0, int((y0 + y1) / 2 / height * rows)))
        out.append(QAPair(
            id=f"{image_id}-loc-{o.id}", image_id=image_id, qtype=LOCATE_QTYPE, category="qualitative",
            kind="choice", question=f"Where is {o.caption} in the image?", answer=f"x {cx} y {cy}",
            choice=f"x {cx} y {cy}", object_ids=[o.id], provenance={"aux": True},
        ))  # fmt: skip
    return out


def _scene_rows(args: tuple[int, int, SimDataConfig]) -> tuple[Any, list[dict[str, Any]], Any] | None:
    """Render one scene and return (rgb array, rows, dense targets or None); None when the sim rejects the seed."""
    index, scene_seed, cfg = args
    os.environ.setdefault("MUJOCO_GL", "egl")
    from spatialvlm_core.questions import QAConfig, generate_qa
    from spatialvlm_core.reconstruct import reconstruct
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene

    rooms = sorted(ROOMS)
    try:
        sim = generate_scene(scene_seed, SimConfig(width=cfg.width, height=cfg.height, room=rooms[index % len(rooms)]))
    except ValueError:
        return None
    scene3d = reconstruct(sim.frame(), detector="ground-truth", segmenter="ground-truth", depth="sensor")
    qcfg = QAConfig(qualitative_share=cfg.qualitative_share, imperial_share=cfg.imperial_share, allow=cfg.allow,
                    label_noise=cfg.label_noise, strict_share=False)
    qas = generate_qa(scene3d, cfg.qa_per_scene, scene_seed, qcfg)
    if cfg.locate_per_scene:
        # Grounding answers come from the exact render, not the (possibly noisy) 3D labels.
        qas += _locate_rows(scene3d, sim.image_id, cfg.width, cfg.height, random.Random(scene_seed),
                            cfg.locate_per_scene)
    image = f"images/{index:06d}.png"
    captions = {o.id: o.caption for o in scene3d.objects}
    rows = qa_rows(qas, captions, image)
    dense = None
    if cfg.dense_grid:
        from spatialvlm_core.dataset.dense_labels import sim_dense_targets

        dense = sim_dense_targets(sim, cfg.dense_grid, cfg.fine_grid)
    return sim.rgb, rows, dense


def write_sim_dataset(root: str | Path, cfg: SimDataConfig, progress: bool = True) -> Path:
    """Render ``cfg.n_scenes`` scenes and write the dataset under ``root``; returns ``root``.

    Deterministic in ``cfg`` (scene seeds, room cycle and QA seeds are fixed; worker order does not matter).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    tasks = [(i, cfg.seed * 1_000_003 + i, cfg) for i in range(cfg.n_scenes)]
    all_rows: list[dict[str, Any]] = []
    if cfg.workers > 1:
        # spawn: a forked child must not inherit a GL context the parent may hold.
        with mp.get_context("spawn").Pool(cfg.workers) as pool:
            results = pool.imap(_scene_rows, tasks, chunksize=8)
            all_rows = _collect(results, root, progress, len(tasks))
    else:
        all_rows = _collect(map(_scene_rows, tasks), root, progress, len(tasks))
    if not all_rows:
        raise ValueError(f"no QA rows generated for {cfg.n_scenes} scenes (seed {cfg.seed})")
    if cfg.manipulation_share > 0:
        all_rows += _manipulation_split(root, cfg, progress)
    pq.write_table(pa.Table.from_pylist(all_rows), root / "data" / "shard-00000.parquet")
    (root / "simdata_config.json").write_text(cfg.model_dump_json(indent=2, exclude=_neutral(cfg) - {"fine_grid"}))
    del Image
    return root


def _collect(results: Any, root: Path, progress: bool, total: int) -> list[dict[str, Any]]:
    from PIL import Image
    from tqdm import tqdm

    from spatialvlm_core.dataset.dense_labels import dense_path, save_dense

    rows: list[dict[str, Any]] = []
    for res in tqdm(results, total=total, disable=not progress, desc="sim scenes"):
        if res is None:
            continue
        rgb, scene_rows, dense = res
        if scene_rows:
            Image.fromarray(rgb).save(root / scene_rows[0]["image"])
            if dense is not None:
                save_dense(dense_path(root / scene_rows[0]["image"]), dense)
            rows += scene_rows
    return rows


def cached_sim_dataset(cache: str | Path, cfg: SimDataConfig, progress: bool = True) -> Path:
    """``write_sim_dataset`` into ``cache/<hash of cfg>``, reused when already complete."""
    import hashlib

    from spatialvlm_core.dataset.dense_labels import DENSE_VERSION

    # Fields at their neutral default are left out of the key: caches written before they existed stay valid.
    text = cfg.model_dump_json(exclude={"workers"} | _neutral(cfg))
    if cfg.dense_grid:  # the dense targets' labelling rule is part of the data (older caches are re-rendered)
        text += f"dense-v{DENSE_VERSION}"
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    root = Path(cache) / f"sim-{cfg.seed}-{cfg.n_scenes}-{key}"
    if (root / "simdata_config.json").is_file():
        return root
    return write_sim_dataset(root, cfg, progress)


def manipulation_trajectories(cfg: SimDataConfig) -> int:
    """How many manipulation trajectories ``cfg.manipulation_share`` asks for (each gives several frames)."""
    import math

    from spatialvlm_core.sim.manipulation import FRAMES_PER_TRAJECTORY

    return math.ceil(cfg.manipulation_share * cfg.n_scenes / FRAMES_PER_TRAJECTORY)


def _manipulation_rows(args: tuple[int, SimDataConfig]) -> list[tuple[Any, list[dict[str, Any]], Any]]:
    """(rgb, rows, dense targets or None) per frame of manipulation trajectory ``index`` of split ``cfg.seed``."""
    index, cfg = args
    os.environ.setdefault("MUJOCO_GL", "egl")
    from spatialvlm_core.questions import QAConfig
    from spatialvlm_core.sim.manipulation import manipulation_frames, manipulation_qa

    qcfg = QAConfig(qualitative_share=cfg.qualitative_share, imperial_share=cfg.imperial_share, allow=cfg.allow,
                    label_noise=cfg.label_noise, strict_share=False)
    out = []
    for k, frame in enumerate(manipulation_frames(cfg.seed, index, (cfg.width, cfg.height))):
        qas = manipulation_qa(frame, cfg.manipulation_qa, frame.seed * 31 + k, qcfg, cfg.imperial_share)
        if cfg.locate_per_scene:
            qas += _locate_rows(frame.scene, frame.image_id, cfg.width, cfg.height,
                                random.Random(f"{frame.image_id}|locate"), cfg.locate_per_scene)
        image = f"images/manip-{index:05d}-{k}.png"
        captions = {o.id: o.caption for o in frame.scene.objects}
        rows = qa_rows(qas, captions, image, keep_given=True)  # reward rows name theirs ("the mug")
        dense = None
        if cfg.dense_grid:
            from spatialvlm_core.dataset.dense_labels import sim_dense_targets

            dense = sim_dense_targets(frame, cfg.dense_grid, cfg.fine_grid)
        out.append((frame.rgb, rows, dense))
    return out


def _manipulation_split(root: Path, cfg: SimDataConfig, progress: bool) -> list[dict[str, Any]]:
    """Render the manipulation frames into ``root`` and return their rows (deterministic in ``cfg``)."""
    import itertools

    from spatialvlm_core.sim.manipulation import FRAMES_PER_TRAJECTORY

    tasks = [(j, cfg) for j in range(manipulation_trajectories(cfg))]
    total = len(tasks) * FRAMES_PER_TRAJECTORY
    if cfg.workers > 1:
        with mp.get_context("spawn").Pool(cfg.workers) as pool:
            return _collect(itertools.chain.from_iterable(pool.imap(_manipulation_rows, tasks, chunksize=4)), root,
                            progress, total)
    return _collect(itertools.chain.from_iterable(map(_manipulation_rows, tasks)), root, progress, total)
