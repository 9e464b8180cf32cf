"""Synthetic sources: render MuJoCo scenes into folders the pipeline reads, then synth them (train/bench)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from spatialvlm_core.atomic import remove_stale_temporaries, sigterm_as_interrupt, single_writer
from spatialvlm_core.dataset.shards import Manifest, check_writable
from spatialvlm_core.dataset.splits import SPLIT_STRIDE, scene_seeds, split_seed
from spatialvlm_core.pipeline.config import PipelineConfig, RunOptions
from spatialvlm_core.pipeline.run import synth_dataset


def render_sim_scenes(
    out: Path, n: int, base_seed: int, width: int = 320, height: int = 240, split: str | None = None
) -> Path:
    """Render ``n`` MuJoCo scenes (seeds base_seed..base_seed+n-1) into ``out/scene_XXXXX``; resumable.

    A scene's pixels depend on its seed only (not on what was rendered before it), so a resumed folder
    equals an uninterrupted one.
    """
    from spatialvlm_core import sim  # MuJoCo: only for synthetic sources

    fields = getattr(sim.SimConfig, "model_fields", None) or getattr(
        sim.SimConfig, "__dataclass_fields__", {}
    )
    kwargs: dict[str, Any] = {"width": width, "height": height}
    if split is not None and "split" in fields:  # held-out object instances for the benchmark, when offered
        kwargs["split"] = split
    rooms = sorted(getattr(sim, "ROOMS", {})) or [None]
    with single_writer(out), sigterm_as_interrupt():
        remove_stale_temporaries(out, recursive=False)  # scene folders half-written by a killed run
        for i in range(n):
            scene_dir = out / f"scene_{i:05d}"
            if (scene_dir / "scene.json").is_file():  # already rendered by an interrupted run
                continue
            room = rooms[(base_seed + i) % len(rooms)]  # cycle room types so every split covers them all
            cfg = sim.SimConfig(**kwargs, **({"room": room} if room else {}))
            try:
                scene = sim.generate_scene(base_seed + i, cfg)
            except ValueError as e:  # a layout the sim rejects: skip that seed, keep the others
                print(f"render_sim_scenes: skipped seed {base_seed + i} ({room}): {e}", file=sys.stderr)
                continue
            sim.save_scene(scene, scene_dir)
    return out


def synth_sim_dataset(
    out: str | os.PathLike[str], n_images: int, seed: int = 0, *, config: PipelineConfig | None = None,
    options: RunOptions | None = None, width: int = 320, height: int = 240, split: str | None = None,
) -> Manifest:  # fmt: skip
    """Render ``n_images`` synthetic scenes into ``out/.scenes`` and synth them into ``out`` (ground truth)."""
    out_dir = Path(out).resolve()
    check_writable(out_dir)
    raw = render_sim_scenes(out_dir / ".scenes", n_images, scene_seeds(seed, n_images).start, width, height, split)
    cfg = (config or PipelineConfig()).model_copy(update={"seed": seed})
    return synth_dataset(raw, out_dir, cfg, options=options or RunOptions(progress=False))


def make_splits(
    out: str | os.PathLike[str],
    train_scenes: int,
    bench_scenes: int,
    seed: int = 0,
    *,
    config: PipelineConfig | None = None,
    options: RunOptions | None = None,
    width: int = 320,
    height: int = 240,
) -> dict[str, Manifest]:
    """Render synthetic scenes for train and a held-out bench split, then synth each into out/<split>.

    The two splits draw their scene seeds from the one splitter (``dataset.splits``: train split seed
    ``2 * seed``, bench ``2 * seed + 1``), so bench never repeats a training scene, and, when the sim offers
    ``SimConfig.split``, different object instances.
    """
    out_dir = Path(out).resolve()
    check_writable(out_dir)
    config = config or PipelineConfig()
    for split, n in (("train", train_scenes), ("bench", bench_scenes)):
        if not 0 <= n <= SPLIT_STRIDE:
            raise ValueError(f"--{split}-scenes must be in 0..{SPLIT_STRIDE}, got {n}")
    seeds = {"train": scene_seeds(split_seed("train", seed), train_scenes),
             "bench": scene_seeds(split_seed("held_out", seed), bench_scenes)}
    manifests: dict[str, Manifest] = {}
    for split, scenes in seeds.items():
        raw = render_sim_scenes(out_dir / "raw" / split, len(scenes), scenes.start, width, height, split)
        split_config = config.model_copy(update={"seed": config.seed + (0 if split == "train" else 1)})
        manifests[split] = synth_dataset(raw, out_dir / split, split_config, options=options)
    return manifests
