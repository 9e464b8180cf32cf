"""Training loop: AdamW + warmup/cosine, gradient accumulation, loss on answer tokens only, resumable
checkpoints (weights + optimizer + scheduler + RNG: a resumed run reproduces the loss curve), JSONL metrics.

Batches are a pure function of (seed, step), so resuming needs no data-loader state.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import pickle
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.distributed import close_world, init_world
from spatialvlm_core.train_config import TrainConfig
from spatialvlm_core.train_recipes import recipe_for

CHECKPOINTS = "checkpoints"
STATE_FILE = "training_state.pt"
METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "train_config.json"


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    import torch

    # Plain ints, floats, strings and tensors only: the state loads with torch.load(weights_only=True).
    name, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    st = {"python": [py_version, list(py_state), py_gauss],
          "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                    "has_gauss": int(has_gauss), "cached": float(cached)},
          "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _load_state(path: Path) -> dict[str, Any]:
    """The optimiser/scheduler/RNG state of a checkpoint, never unpickling code (``weights_only=True``)."""
    import torch

    try:
        return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path}: refusing to load a training state that needs arbitrary unpickling (written by "
                         f"an older version, or crafted); start the run again without --resume ({e})") from e


def _set_rng_state(st: dict[str, Any]) -> None:
    import torch

    version, state, gauss = st["python"]
    random.setstate((version, tuple(state), gauss))
    n = st["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


@functools.lru_cache(maxsize=4)
def _epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(n: int, seed: int, step: int, micro: int, batch_size: int, grad_accum: int) -> list[int]:
    """Indices of one micro-batch: epochs are seeded permutations, so the order depends on (seed, step) only."""
    start = (step * grad_accum + micro) * batch_size
    return [int(_epoch_permutation(n, seed, c // n)[c % n]) for c in range(start, start + batch_size)]


def step_rows(cfg: TrainConfig, n: int, qual_rows: list[int], step: int, micro: int) -> list[int]:
    """Rows of one micro-batch: qualitative rows only during the ``qualitative_first_steps`` curriculum, then all
    ``n`` rows (the mix starts at its first epoch). A pure function of the step, like ``batch_indices``."""
    if step < cfg.qualitative_first_steps:
        picks = batch_indices(len(qual_rows), cfg.seed, step, micro, cfg.batch_size, cfg.grad_accum)
        return [qual_rows[i] for i in picks]
    return batch_indices(n, cfg.seed, step - cfg.qualitative_first_steps, micro, cfg.batch_size, cfg.grad_accum)


def _latest_checkpoint(out: Path) -> Path | None:
    ck = out / CHECKPOINTS
    steps = sorted((int(p.name.split("-")[1]), p) for p in ck.glob("step-*") if (p / STATE_FILE).is_file())
    return steps[-1][1] if steps else None


def _lr_lambda(cfg: TrainConfig):  # type: ignore[no-untyped-def]
    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def _resolve_device(name: str) -> str:
    import torch

    if name != "auto":
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def _autocast_dtype(cfg: TrainConfig, device: str) -> Any:
    import torch

    if cfg.precision == "fp32" or (cfg.precision == "auto" and device == "cpu"):
        return None
    if cfg.precision == "fp16":
        return torch.float16
    if cfg.precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def build_model(cfg: TrainConfig, texts: list[str]) -> Any:
    from spatialvlm_core.model import create_model, list_presets

    overrides: dict[str, Any] = {}
    if cfg.freeze_vision is not None:
        overrides["freeze_vision"] = cfg.freeze_vision
    if cfg.lm_mode is not None:
        overrides["lm_mode"] = cfg.lm_mode
    if cfg.preset in list_presets():
        model = create_model(cfg.preset, tokenizer_texts=texts, **overrides)
    else:
        model = create_model(cfg.preset, **overrides)
    if cfg.init_vision:
        _load_vision(model, Path(cfg.init_vision))
    return model


def _load_vision(model: Any, ckpt: Path) -> None:
    """Copy the ``vision.*`` weights of checkpoint ``ckpt`` into ``model`` (same tower architecture)."""
    from safetensors.torch import load_file

    from spatialvlm_core.model.base import WEIGHTS_FILE

    f = ckpt / WEIGHTS_FILE
    if not f.is_file():
        raise FileNotFoundError(f"init_vision: {f} not found")
    state = {k[len("vision."):]: v for k, v in load_file(str(f)).items() if k.startswith("vision.")}
    if not hasattr(model, "vision") or not state:
        raise ValueError(f"init_vision: {f} has no vision tower weights for this model")
    try:
        model.vision.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"init_vision: the tower in {f} does not match the preset: {e}") from e


def _is_qualitative(e: Any) -> bool:
    from spatialvlm_core.dataset.sim_splits import LOCATE_QTYPE

    return e.qa is not None and e.qa.category == "qualitative" and e.qa.qtype != LOCATE_QTYPE


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train; returns a summary (final loss, samples/s, output dir). Resumes from ``out/checkpoints``."""
    import torch
    from tqdm import tqdm

    from spatialvlm_core.data import load_qa_dataset, mix_datasets
    from spatialvlm_core.model import load_checkpoint

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    # One process unless launched by torchrun / accelerate / --num-processes; NCCL when training on GPUs.
    world = init_world(cfg.batch_size, cuda=_resolve_device(cfg.device).startswith("cuda"))
    examples = load_qa_dataset(cfg.data, cfg.max_examples)
    if cfg.qtypes is not None:
        examples = [e for e in examples if e.qa is not None and e.qa.qtype in cfg.qtypes]
        if not examples:
            raise ValueError(f"{cfg.data}: no rows of question types {cfg.qtypes}")
    examples = [e for e in examples for _ in range(cfg.qualitative_repeat if _is_qualitative(e) else 1)]
    examples = mix_datasets(examples, cfg.spatial_fraction, cfg.seed)
    texts = [t for e in examples for t in (e.question, e.answer)]
    qual_rows = [i for i, e in enumerate(examples) if _is_qualitative(e)]
    if cfg.qualitative_first_steps > 0 and not qual_rows:
        raise ValueError(f"{cfg.data}: qualitative_first_steps needs qualitative rows; the dataset has none")

    seed_everything(cfg.seed)
    resume_from = _latest_checkpoint(out) if cfg.resume else None
    model = load_checkpoint(resume_from) if resume_from else build_model(cfg, texts)
    device = _resolve_device(cfg.device)
    if world.size > 1 and device == "cuda":
        device = f"cuda:{world.local_rank}"
    model.to(device).train()
    params = model.trainable_parameters()
    if not params:
        raise ValueError("nothing to train: every parameter is frozen")
    recipe = recipe_for(model, cfg)
    opt = torch.optim.AdamW(recipe.param_groups(params), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    amp = _autocast_dtype(cfg, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp is torch.float16)
    start = 0
    # Rank 0 writes the metrics, checkpoints and the model; the other ranks compute the same steps.
    metrics_path = out / METRICS_FILE if world.main else Path(os.devnull)
    if resume_from is not None:
        st = _load_state(resume_from / STATE_FILE)
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        scaler.load_state_dict(st["scaler"])
        _set_rng_state(st["rng"])
        start = int(st["step"])
        # Drop metrics logged after the checkpoint so the file holds one consistent curve.
        if world.main and metrics_path.exists():
            keep = [ln for ln in metrics_path.read_text().splitlines() if ln and json.loads(ln)["step"] <= start]
            metrics_path.write_text("".join(k + "\n" for k in keep))
    elif world.main and metrics_path.exists():
        metrics_path.unlink()
    if world.main:
        (out / CONFIG_FILE).write_text(cfg.to_json())

    writer = None
    if cfg.tensorboard and world.main:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tb"))
        except ImportError:
            print("tensorboard is not installed; metrics go to metrics.jsonl only")

    recipe.prepare(examples, metrics_path, resumed=resume_from is not None)
    eval_examples = load_qa_dataset(cfg.eval_data, cfg.eval_max) if cfg.eval_data and world.main else []
    t0 = time.perf_counter()
    window_t, window_n, loss_val = time.perf_counter(), 0, float("nan")
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=not (cfg.progress and world.main),
               desc="train")
    with metrics_path.open("a") as mf:
        for step in bar:
            total = 0.0
            for micro in range(cfg.grad_accum):
                idx = step_rows(cfg, len(examples), qual_rows, step, micro)
                ex = world.shard([examples[i] for i in idx])
                batch = recipe.batch(ex)
                with torch.autocast(device_type=device.split(":")[0], dtype=amp or torch.float32, enabled=amp is not None):
                    loss, parts = recipe.loss(batch)
                    loss = loss / cfg.grad_accum
                scaler.scale(loss).backward()
                total += float(loss.detach())
            world.average_gradients(params)
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            sched.step()
            loss_val = world.mean(total, device)
            window_n += cfg.batch_size * cfg.grad_accum
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps:
                sps = window_n / max(1e-9, time.perf_counter() - window_t)
                rec = {"step": done, "loss": round(loss_val, 6), "lr": sched.get_last_lr()[0],
                       "samples_per_s": round(sps, 2), "elapsed_s": round(time.perf_counter() - t0, 2)}
                for k, v in parts.items():
                    rec[f"loss_{k}"] = round(v, 6)  # last micro-batch's parts (answer tokens, relation, dense)
                mf.write(json.dumps(rec) + "\n")
                mf.flush()
                if writer is not None:
                    writer.add_scalar("loss", loss_val, done)
                    writer.add_scalar("samples_per_s", sps, done)
                bar.set_postfix(loss=f"{loss_val:.4f}", sps=f"{sps:.1f}")
                window_t, window_n = time.perf_counter(), 0
            if eval_examples and (done % cfg.eval_every == 0 or done == cfg.steps):
                scores = _eval_now(model, eval_examples)
                mf.write(json.dumps({"step": done, "eval": scores}) + "\n")
                mf.flush()
                if cfg.progress:
                    bar.write(f"step {done} eval: " + ", ".join(f"{k}={v:.3f}" for k, v in scores.items()))
            if world.main and done % cfg.checkpoint_every == 0 and done < cfg.steps:
                _save_checkpoint(model, opt, sched, scaler, out, done, cfg.keep_checkpoints)
    if writer is not None:
        writer.close()
    model.eval()
    if world.main:
        model.save(out)
    close_world(world)
    return {"out": str(out), "final_loss": loss_val, "steps": cfg.steps, "examples": len(examples),
            "elapsed_s": time.perf_counter() - t0, "processes": world.size}


def _eval_now(model: Any, examples: list[Any]) -> dict[str, float]:
    """Score the model on the fixed held-out subset, then return it to training mode."""
    from spatialvlm_core.infer import SpatialVLM
    from spatialvlm_core.model.evaluate import evaluate

    scores = evaluate(SpatialVLM(model), examples)
    model.train()
    keep = ("qualitative_accuracy", "parse_rate", "within_50_200", "within_90_110")
    return {k: round(float(scores[k]), 4) for k in keep}


def _save_checkpoint(model: Any, opt: Any, sched: Any, scaler: Any, out: Path, step: int, keep: int) -> None:
    import torch

    d = out / CHECKPOINTS / f"step-{step}"
    model.save(d)
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                "rng": _rng_state(), "step": step}, d / STATE_FILE)
    old = sorted((int(p.name.split("-")[1]), p) for p in (out / CHECKPOINTS).glob("step-*"))
    for _, p in old[:-keep]:
        shutil.rmtree(p, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m spatialvlm_core.train --config run.json``: one process of a run, as torchrun / accelerate launch
    start it (``spatialvlm train`` is the command-line front end, ``train_cli.py``)."""
    ap = argparse.ArgumentParser(prog="python -m spatialvlm_core.train")
    ap.add_argument("--config", required=True, type=Path, help="TrainConfig JSON (spatialvlm train writes one)")
    args = ap.parse_args(argv)
    if not args.config.is_file():
        raise FileNotFoundError(f"config file not found: {args.config}")
    summary = train(TrainConfig.from_json(args.config.read_text()))
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
