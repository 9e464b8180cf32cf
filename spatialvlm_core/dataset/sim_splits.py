"""Training/eval data for the default model straight from the synthetic world:
``sim.generate_scene`` -> ``reconstruct`` (ground-truth detector/segmenter, sensor depth) -> ``generate_qa``.

Written by the pipeline's one writer (``dataset.shards``: ``ROOT/data/*.parquet`` + ``ROOT/jsonl/*.jsonl`` rows,
``ROOT/manifest.json``), beside ``ROOT/images/*.png`` (and ``<stem>.dense.npz`` labels), so
``dataset.reader.load_qa_dataset`` reads it. Every file is written atomically; the manifest is saved after every
shard of ``SCENES_PER_SHARD`` scenes, and a re-run after a kill renders only the shards it does not list.
``simdata_config.json`` is written last: a split is complete (and ``cached_sim_dataset`` reuses it) once it exists.
Scene seeds come from the one splitter, ``dataset.splits``.

Besides the QA generator's questions it can add auxiliary *grounding* rows ("Where is the red door in the
image?" -> "x 5 y 2"): they teach the small model to bind a caption to an image region, which the spatial
questions need but supervise only weakly.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing as mp
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from spatialvlm_core.atomic import (
    atomic_write,
    atomic_write_text,
    remove_stale_temporaries,
    sigterm_as_interrupt,
    single_writer,
)
from spatialvlm_core.dataset.dense_labels import DENSE_VERSION, dense_path, save_dense, sim_dense_targets
from spatialvlm_core.dataset.shards import (
    DroppedRow,
    Manifest,
    ShardRecord,
    check_writable,
    chunk,
    load_manifest,
    package_versions,
    qa_to_row,
    save_manifest,
    write_rows,
)
from spatialvlm_core.dataset.splits import scene_seeds
from spatialvlm_core.questions import QAConfig, generate_qa
from spatialvlm_core.questions.generator import referable
from spatialvlm_core.reconstruct import reconstruct
from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene
from spatialvlm_core.sim.manipulation import FRAMES_PER_TRAJECTORY, manipulation_frames, manipulation_qa
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
    seed: int = Field(0, ge=0)  # the split seed (dataset.splits): splits with different seeds share no scene
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



def qa_rows(qas: list[Any], captions: dict[str, str], image: str, keep_given: bool = False,
            scene_id: str = "") -> list[dict[str, Any]]:
    """Dataset rows (``shards.qa_to_row``) for the QA pairs of one image: the pair's fields, its image path and
    scene id (default: the pair's image id), and the captions its question offered (choice scoring needs them:
    the reference names only the right one; ``keep_given`` keeps captions a row already carries)."""
    rows = []
    for qa in qas:
        provenance = dict(qa.provenance)
        offered = [captions[i] for i in qa.object_ids if i in captions]
        if keep_given:
            provenance.setdefault("captions", offered)
        else:
            provenance["captions"] = offered
        rows.append(qa_to_row(qa.model_copy(update={"provenance": provenance}), image, scene_id or qa.image_id))
    return rows


def _neutral(cfg: SimDataConfig) -> set[str]:
    out = {k for k, v in _NEUTRAL_DEFAULTS.items() if getattr(cfg, k) == v}
    return out if cfg.manipulation_share == 0 else out - {"manipulation_qa"}


def _locate_rows(scene3d: Any, image_id: str, width: int, height: int, rng: random.Random, n: int) -> list[QAPair]:
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

        dense = sim_dense_targets(sim, cfg.dense_grid, cfg.fine_grid)
    return sim.rgb, rows, dense


SCENES_PER_SHARD = 500  # scenes per row shard: the unit a killed run redoes


def _cache_key(cfg: SimDataConfig) -> str:
    # Fields at their neutral default are left out of the key: caches written before they existed stay valid.
    text = cfg.model_dump_json(exclude={"workers"} | _neutral(cfg))
    if cfg.dense_grid:  # the dense targets' labelling rule is part of the data (older caches are re-rendered)
        text += f"dense-v{DENSE_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def write_sim_dataset(root: str | Path, cfg: SimDataConfig, progress: bool = True) -> Path:
    """Render ``cfg.n_scenes`` scenes and write the dataset under ``root`` (resuming a killed run); returns ``root``.

    Deterministic in ``cfg`` (scene seeds, room cycle and QA seeds are fixed; worker order does not matter).
    """
    root = Path(root).resolve()
    check_writable(root)
    with single_writer(root), sigterm_as_interrupt():
        remove_stale_temporaries(root)
        _write(root, cfg, progress)
    return root


def _manifest(root: Path, cfg: SimDataConfig, shards_total: int, n_inputs: int) -> Manifest:
    key = _cache_key(cfg)
    manifest = load_manifest(root)
    if manifest is not None and manifest.config_hash != key:
        raise ValueError(f"{root / 'manifest.json'} was written for another sim split "
                         f"({json.dumps(manifest.config, sort_keys=True)}); use a new folder or delete it")
    if manifest is None:
        # Rows an earlier writer left without a manifest (it wrote data/shard-00000.parquet) would be read twice.
        for stale in (root / "data").glob("*.parquet"):
            stale.unlink()
        manifest = Manifest(source="sim", config=cfg.model_dump(mode="json", exclude={"workers"}), config_hash=key,
                            inputs_hash=key, seed=cfg.seed,
                            backends={"detector": "ground-truth", "segmenter": "ground-truth", "depth": "sensor"})
    manifest.packages = package_versions()
    manifest.runner = {"workers": cfg.workers}
    manifest.counts.images_found = manifest.counts.images_selected = n_inputs
    manifest.counts.shards_total = shards_total
    manifest.complete = False
    manifest.last_run_shards = []
    return manifest


def _write(root: Path, cfg: SimDataConfig, progress: bool) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    scene_shards = chunk([(i, s, cfg) for i, s in enumerate(scene_seeds(cfg.seed, cfg.n_scenes))], SCENES_PER_SHARD)
    n_traj = manipulation_trajectories(cfg) if cfg.manipulation_share > 0 else 0
    total = len(scene_shards) + (1 if n_traj else 0)  # the manipulation frames are the last shard
    manifest = _manifest(root, cfg, total, cfg.n_scenes + n_traj)
    save_manifest(root, manifest)
    pool = mp.get_context("spawn").Pool(cfg.workers) if cfg.workers > 1 else None  # spawn: no inherited GL context
    bar = tqdm(total=sum(len(s) for i, s in enumerate(scene_shards) if not manifest.shard_done(i, root)),
               disable=not progress, desc="sim scenes")
    t0 = time.perf_counter()
    try:
        for index, tasks in enumerate(scene_shards):
            if manifest.shard_done(index, root):
                continue
            t = time.perf_counter()
            results = pool.imap(_scene_rows, tasks, chunksize=8) if pool else map(_scene_rows, tasks)
            items = [(f"{i:06d}", f"seed {seed}", res) for (i, seed, _), res in zip(tasks, results, strict=True)]
            _save_shard(root, manifest, index, total, _progress(items, bar), t)
        if not any(manifest.shards[str(i)].qa_pairs for i in range(len(scene_shards))):
            raise ValueError(f"no QA rows generated for {cfg.n_scenes} scenes (seed {cfg.seed})")
        if n_traj and not manifest.shard_done(total - 1, root):
            t = time.perf_counter()
            _save_shard(root, manifest, total - 1, total, _manipulation_items(cfg, pool, progress), t)
        manifest.complete = all(manifest.shard_done(i, root) for i in range(total))
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        wall = time.perf_counter() - t0
        manifest.timings_s["wall_last_run"] = round(wall, 3)
        manifest.timings_s["wall_total"] = round(manifest.timings_s.get("wall_total", 0.0) + wall, 3)
        save_manifest(root, manifest)
    atomic_write_text(root / "simdata_config.json", cfg.model_dump_json(indent=2, exclude=_neutral(cfg) - {"fine_grid"}))


def _progress(items: Iterable[Any], bar: Any) -> Iterator[Any]:
    for item in items:
        bar.update(1)
        yield item


def _save_shard(root: Path, manifest: Manifest, index: int, total: int, items: Iterable[Any], t0: float) -> None:
    """Write the images (and dense labels) of one shard's renders, then its rows; the manifest then lists it.
    ``items``: (image id, what, render result or None when the sim rejected the seed)."""

    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    dropped: list[DroppedRow] = []
    for image_id, what, res in items:
        ids.append(image_id)
        if res is None:
            dropped.append(DroppedRow(image_id=image_id, file="", reason=f"the simulator rejected {what}",
                                      stage="render"))
            continue
        rgb, scene_rows, dense = res
        if not scene_rows:
            dropped.append(DroppedRow(image_id=image_id, file="", reason=f"no questions for {what}", stage="qa"))
            continue
        image = root / scene_rows[0]["image"]
        atomic_write(image, lambda tmp, rgb=rgb: Image.fromarray(rgb).save(tmp, format="PNG"))
        if dense is not None:
            atomic_write(dense_path(image), lambda tmp, dense=dense: save_dense(tmp, dense))
        rows += scene_rows
    parquet, jsonl = write_rows(root, index, total, rows)
    manifest.shards[str(index)] = ShardRecord(
        index=index, parquet=parquet, jsonl=jsonl, image_ids=ids, images_ok=len(ids) - len(dropped),
        qa_pairs=len(rows), qa_by_type=dict(sorted(Counter(r["qtype"] for r in rows).items())), dropped=dropped,
        timings_s={"render_and_write": round(time.perf_counter() - t0, 4)},
    )  # fmt: skip
    manifest.last_run_shards.append(index)
    save_manifest(root, manifest)


def cached_sim_dataset(cache: str | Path, cfg: SimDataConfig, progress: bool = True) -> Path:
    """``write_sim_dataset`` into ``cache/sim-<seed>-<n_scenes>-<hash of cfg>``, reused when already complete."""
    root = Path(cache) / f"sim-{cfg.seed}-{cfg.n_scenes}-{_cache_key(cfg)}"
    if (root / "simdata_config.json").is_file():
        return root
    return write_sim_dataset(root, cfg, progress)


def manipulation_trajectories(cfg: SimDataConfig) -> int:
    """How many manipulation trajectories ``cfg.manipulation_share`` asks for (each gives several frames)."""

    return math.ceil(cfg.manipulation_share * cfg.n_scenes / FRAMES_PER_TRAJECTORY)


def _manipulation_rows(args: tuple[int, SimDataConfig]) -> list[tuple[Any, list[dict[str, Any]], Any]]:
    """(rgb, rows, dense targets or None) per frame of manipulation trajectory ``index`` of split ``cfg.seed``."""
    index, cfg = args

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
            dense = sim_dense_targets(frame, cfg.dense_grid, cfg.fine_grid)
        out.append((frame.rgb, rows, dense))
    return out


def _manipulation_items(cfg: SimDataConfig, pool: Any, progress: bool) -> Iterator[tuple[str, str, Any]]:
    """(image id, what, render result) per manipulation frame, in trajectory order (deterministic in ``cfg``)."""

    tasks = [(j, cfg) for j in range(manipulation_trajectories(cfg))]
    results = pool.imap(_manipulation_rows, tasks, chunksize=4) if pool else map(_manipulation_rows, tasks)
    with tqdm(total=len(tasks) * FRAMES_PER_TRAJECTORY, disable=not progress, desc="manipulation frames") as bar:
        for j, frames in enumerate(results):
            for k, res in enumerate(frames):
                bar.update(1)
                yield f"manip-{j:05d}-{k}", f"manipulation trajectory {j} frame {k}", res
