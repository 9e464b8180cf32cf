"""Resumable checkpoints: the model's own save, plus optimiser, scheduler, scaler and RNG state in a
``training_state.pt`` that loads with ``weights_only=True`` (plain ints, floats, strings and tensors only), so a
resumed run reproduces the loss curve and a crafted state file cannot run code."""

from __future__ import annotations

import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatialvlm_core.train.distributed import World

CHECKPOINTS = "checkpoints"
STATE_FILE = "training_state.pt"


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    st = {"python": [py_version, list(py_state), py_gauss],
          "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                    "has_gauss": int(has_gauss), "cached": float(cached)},
          "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    version, state, gauss = st["python"]
    random.setstate((version, tuple(state), gauss))
    n = st["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def load_state(path: Path) -> dict[str, Any]:
    """The optimiser/scheduler/RNG state of a checkpoint, never unpickling code (``weights_only=True``)."""
    try:
        return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path}: refusing to load a training state that needs arbitrary unpickling (written by "
                         f"an older version, or crafted); start the run again without --resume ({e})") from e


def latest_checkpoint(out: Path) -> Path | None:
    ck = out / CHECKPOINTS
    steps = sorted((int(p.name.split("-")[1]), p) for p in ck.glob("step-*") if (p / STATE_FILE).is_file())
    return steps[-1][1] if steps else None


def restore(ckpt: Path, model: Any, opt: Any, sched: Any, scaler: Any, world: World) -> int:
    """Load a checkpoint's optimiser, scheduler, scaler and RNG state; returns its step."""
    st = load_state(ckpt / STATE_FILE)
    world.load_optimizer_state(model, opt, st["optimizer"])
    sched.load_state_dict(st["scheduler"])
    scaler.load_state_dict(st["scaler"])
    set_rng_state(st["rng"])
    return int(st["step"])


def save_model(model: Any, path: Path, world: World) -> None:
    """Rank 0 writes the model; under FSDP every rank first gathers its shards (so every rank calls this)."""
    with world.full_weights(model):
        if world.main:
            model.save(path)


def save_checkpoint(model: Any, opt: Any, sched: Any, scaler: Any, out: Path, step: int, keep: int,
                    world: World) -> None:
    """Every rank calls this (under FSDP it gathers); rank 0 writes."""
    d = out / CHECKPOINTS / f"step-{step}"
    optimizer = world.optimizer_state(model, opt)
    save_model(model, d, world)
    if not world.main:
        return
    torch.save({"optimizer": optimizer, "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                "rng": rng_state(), "step": step}, d / STATE_FILE)
    old = sorted((int(p.name.split("-")[1]), p) for p in (out / CHECKPOINTS).glob("step-*"))
    for _, p in old[:-keep]:
        shutil.rmtree(p, ignore_errors=True)
