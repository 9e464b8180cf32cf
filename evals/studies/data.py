"""Study datasets, rendered once from the synthetic world and shared by every study point.

Each scene is rendered once; its spatial questions are generated once per label-noise sigma (the noise is
applied to the 3D boxes before question generation, ``QAConfig.label_noise``), so the noise arms differ in their
labels only. The non-spatial task is object colour ("What colour is the bed?" -> "It is red."), a standard
general-VQA category, answered from the sim's exact colour attribute. Layout under ROOT:

    images/NNNNNN.png (+ .dense.npz)        training renders; rows name them ``../images/NNNNNN.png``
    spatial-s<sigma>/data/*.parquet           spatial QA (+ grounding rows) with label noise sigma (m)
    colour/data/*.parquet                     non-spatial colour rows on the same images
    heldout-images/, heldout-spatial/, heldout-colour/   held-out scenes (other seeds), clean labels
    mix-p<share>/data/...                     written on demand by ``mix_dataset``
    study_data.json                           the config
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.dataset.reader import read_dataset_rows
from spatialvlm_core.dataset.shards import write_rows
from spatialvlm_core.dataset.sim_splits import qa_rows
from spatialvlm_core.types import QAPair

COLOUR_QTYPE = "object_colour"
CONFIG_FILE = "study_data.json"
_COLOUR_Q = ("What colour is the {name}?", "What is the colour of the {name}?", "Which colour is the {name}?")
_COLOUR_A = ("It is {colour}.", "The {name} is {colour}.", "{colour}.")


class StudyDataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train_scenes: int = Field(gt=0)
    eval_scenes: int = Field(gt=0)
    sigmas: list[float] = Field(default_factory=lambda: [0.0, 0.1, 0.2, 0.3])
    width: int = 128
    height: int = 96
    qa_per_scene: int = Field(24, ge=1)  # make_model's recipe
    eval_qa_per_scene: int = Field(16, ge=1)
    locate_per_scene: int = Field(4, ge=0)
    colour_per_scene: int = Field(3, ge=1)
    # 0: no dense vision targets. The studies train on the answers (and the relation head's QA labels) alone,
    # as the paper's VLM did: a dense loss would give the unfrozen tower a signal the frozen one never gets.
    dense_grid: int = 0
    fine_grid: int = 0
    workers: int = Field(1, ge=1)


def sigma_dir(sigma: float) -> str:
    return f"spatial-s{sigma:g}"


def colour_rows(scene3d: Any, image_id: str, scene_seed: int, n: int) -> list[QAPair]:
    """Up to ``n`` colour questions about objects whose category is unique in the scene (so "the bed" names one)."""
    from collections import Counter

    from spatialvlm_core.questions.generator import referable

    names = Counter(o.name for o in scene3d.objects)
    objs = [o for o in referable(scene3d) if names[o.name] == 1 and o.attributes.get("color")]
    rng = random.Random(scene_seed)
    rng.shuffle(objs)
    out = []
    for o in objs[:n]:
        colour = o.attributes["color"]
        ans = rng.choice(_COLOUR_A).format(name=o.name, colour=colour)
        out.append(QAPair(
            id=f"{image_id}-colour-{o.id}", image_id=image_id, qtype=COLOUR_QTYPE, category="qualitative",
            kind="choice", question=rng.choice(_COLOUR_Q).format(name=o.name), answer=ans[0].upper() + ans[1:],
            choice=colour, object_ids=[o.id], provenance={"aux": True, "task": "colour"},
        ))  # fmt: skip
    return out


def _rows(qas: list[QAPair], captions: dict[str, str], image: str) -> list[dict[str, Any]]:
    return qa_rows(qas, captions, image)  # the rows dataset/sim_splits.py writes, so choice scoring reads them alike


def _scene(args: tuple[int, int, bool, StudyDataConfig]) -> dict[str, Any] | None:
    """Render one scene: rgb, dense targets (training only), spatial rows per sigma, colour rows."""
    index, scene_seed, train, cfg = args
    os.environ.setdefault("MUJOCO_GL", "egl")
    from spatialvlm_core.dataset.sim_splits import QUALITATIVE_TYPES, QUANTITATIVE_TYPES, _locate_rows
    from spatialvlm_core.questions import QAConfig, generate_qa
    from spatialvlm_core.reconstruct import reconstruct
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene

    rooms = sorted(ROOMS)
    try:
        sim = generate_scene(
            scene_seed, SimConfig(width=cfg.width, height=cfg.height, room=rooms[index % len(rooms)])
        )
    except ValueError:
        return None
    scene3d = reconstruct(sim.frame(), detector="ground-truth", segmenter="ground-truth", depth="sensor")
    image = f"../{'images' if train else 'heldout-images'}/{index:06d}.png"
    captions = {o.id: o.caption for o in scene3d.objects}
    spatial: dict[float, list[dict[str, Any]]] = {}
    for sigma in cfg.sigmas if train else [0.0]:
        qcfg = QAConfig(
            qualitative_share=0.5,
            imperial_share=0.0,
            allow=QUALITATIVE_TYPES + QUANTITATIVE_TYPES,
            label_noise=sigma,
            strict_share=False,
        )
        qas = generate_qa(scene3d, cfg.qa_per_scene if train else cfg.eval_qa_per_scene, scene_seed, qcfg)
        if train and cfg.locate_per_scene:
            # Grounding answers come from the exact render, not the (possibly noisy) 3D labels.
            qas += _locate_rows(
                scene3d, sim.image_id, cfg.width, cfg.height, random.Random(scene_seed), cfg.locate_per_scene
            )
        spatial[sigma] = _rows(qas, captions, image)
    colour = _rows(colour_rows(scene3d, sim.image_id, scene_seed, cfg.colour_per_scene), captions, image)
    dense = None
    if train and cfg.dense_grid:
        from spatialvlm_core.dataset.dense_labels import sim_dense_targets

        dense = sim_dense_targets(sim, cfg.dense_grid, cfg.fine_grid)
    return {"index": index, "rgb": sim.rgb, "dense": dense, "spatial": spatial, "colour": colour}


def _write_rows(root: Path, rows: list[dict[str, Any]]) -> None:
    """One shard through the datasets' one writer (Parquet + JSONL, atomic)."""
    if not rows:
        raise ValueError(f"{root}: no rows to write")
    write_rows(root, 0, 1, rows)


def render_study_data(root: str | Path, cfg: StudyDataConfig, progress: bool = True) -> Path:
    """Render the training and held-out scenes and write every variant under ``root``; reused when complete."""
    from PIL import Image
    from tqdm import tqdm

    from spatialvlm_core.dataset.dense_labels import dense_path, save_dense
    from spatialvlm_core.dataset.splits import scene_seeds
    from spatialvlm_core.make_model import EVAL_SEED, SEED

    root = Path(root)
    done = root / CONFIG_FILE
    if done.is_file() and StudyDataConfig.model_validate_json(done.read_text()).model_dump(
        exclude={"workers"}
    ) == cfg.model_dump(exclude={"workers"}):
        return root
    for train, n, seed in ((True, cfg.train_scenes, SEED), (False, cfg.eval_scenes, EVAL_SEED)):
        img_dir = root / ("images" if train else "heldout-images")
        img_dir.mkdir(parents=True, exist_ok=True)
        tasks = [(i, s, train, cfg) for i, s in enumerate(scene_seeds(seed, n))]
        spatial: dict[float, list[dict[str, Any]]] = {}
        colour: list[dict[str, Any]] = []
        pool = mp.get_context("spawn").Pool(cfg.workers) if cfg.workers > 1 else None
        try:
            results = pool.imap(_scene, tasks, chunksize=8) if pool else map(_scene, tasks)
            for res in tqdm(
                results, total=n, disable=not progress, desc="train scenes" if train else "held-out"
            ):
                if res is None:
                    continue
                Image.fromarray(res["rgb"]).save(img_dir / f"{res['index']:06d}.png")
                if res["dense"] is not None:
                    save_dense(dense_path(img_dir / f"{res['index']:06d}.png"), res["dense"])
                for sigma, rows in res["spatial"].items():
                    spatial.setdefault(sigma, []).extend(rows)
                colour += res["colour"]
        finally:
            if pool:
                pool.close()
                pool.join()
        if train:
            for sigma, rows in spatial.items():
                _write_rows(root / sigma_dir(sigma), rows)
            _write_rows(root / "colour", colour)
        else:
            _write_rows(root / "heldout-spatial", spatial[0.0])
            _write_rows(root / "heldout-colour", colour)
    done.write_text(cfg.model_dump_json(indent=2))
    return root


def mix_dataset(root: str | Path, share: float) -> Path:
    """Clean spatial rows plus colour rows (cycled) so that spatial rows are ``share`` of the mix.

    The spatial rows are the same in every mix (share 1 is ``spatial-s0`` itself); with a fixed step budget a
    lower share means fewer spatial and more colour examples per step. Share 0 is the colour rows alone.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"spatial share must be in [0, 1], got {share}")
    root = Path(root)
    if share == 1.0:
        return root / sigma_dir(0.0)
    out = root / f"mix-p{share:g}"
    if any((out / "data").glob("*.parquet")):  # any shard name: mixes written by older versions too
        return out
    colour = read_dataset_rows(root / "colour")
    if share == 0.0:
        rows = colour
    else:
        spatial = read_dataset_rows(root / sigma_dir(0.0))
        n_colour = round(len(spatial) * (1.0 - share) / share)
        rows = spatial + [
            dict(colour[i % len(colour)], id=f"{colour[i % len(colour)]['id']}-r{i // len(colour)}")
            for i in range(n_colour)
        ]
    _write_rows(out, rows)  # the runner writes the mixes before it starts the training processes
    return out
