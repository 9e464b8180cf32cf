"""The training loop: AdamW + warmup/cosine, gradient accumulation, mixed precision, data-parallel processes,
resumable checkpoints and JSONL metrics. It asks the model's recipe (``recipes.py``) for everything
family-specific: warm-ups, batches, loss weights, parameter groups."""

from __future__ import annotations

import functools
import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from spatialvlm_core.dataset.reader import QAExample, load_qa_dataset, mix_datasets
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.model import create_model, list_presets, load_checkpoint
from spatialvlm_core.model.base import SpatialVLMModel
from spatialvlm_core.model.evaluate import evaluate
from spatialvlm_core.train.checkpoints import latest_checkpoint, restore, save_checkpoint, save_model
from spatialvlm_core.train.config import TrainConfig
from spatialvlm_core.train.distributed import close_world, init_world
from spatialvlm_core.train.recipes import recipe_for

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "train_config.json"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@functools.lru_cache(maxsize=4)
def _epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(n: int, seed: int, step: int, micro: int, batch_size: int, grad_accum: int) -> list[int]:
    """Rows of one micro-batch out of ``n``: epochs are seeded permutations, so the order is a pure function of
    (seed, step) and resuming needs no data-loader state."""
    start = (step * grad_accum + micro) * batch_size
    return [int(_epoch_permutation(n, seed, c // n)[c % n]) for c in range(start, start + batch_size)]


def training_rows(examples: list[QAExample], cfg: TrainConfig, source: str) -> list[QAExample]:
    """The run's rows: filtered to ``cfg.qtypes``, mixed with general data."""
    if cfg.qtypes is not None:
        examples = [e for e in examples if e.qa is not None and e.qa.qtype in cfg.qtypes]
        if not examples:
            raise ValueError(f"{source}: no rows of question types {cfg.qtypes}")
    return mix_datasets(examples, cfg.spatial_fraction, cfg.seed)


def _lr_lambda(cfg: TrainConfig):  # type: ignore[no-untyped-def]
    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def _resolve_device(name: str) -> str:
    if name != "auto":
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def _autocast_dtype(cfg: TrainConfig, device: str) -> Any:
    if cfg.precision == "fp32" or (cfg.precision == "auto" and device == "cpu"):
        return None
    if cfg.precision == "fp16":
        return torch.float16
    if cfg.precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def build_model(cfg: TrainConfig, texts: list[str]) -> SpatialVLMModel:
    """A fresh model of ``cfg.preset`` (a preset name or a checkpoint to fine-tune)."""
    overrides: dict[str, Any] = {}
    if cfg.freeze_vision is not None:
        overrides["freeze_vision"] = cfg.freeze_vision
    if cfg.lm_mode is not None:
        overrides["lm_mode"] = cfg.lm_mode
    if cfg.preset in list_presets():
        return create_model(cfg.preset, tokenizer_texts=texts, **overrides)
    return create_model(cfg.preset, **overrides)


def _start_metrics(path: Path, resumed_at: int | None) -> None:
    """Drop metrics logged after the checkpoint a run resumes from, so the file holds one consistent curve."""
    if not path.exists():
        return
    if resumed_at is None:
        path.unlink()
        return
    keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= resumed_at]
    path.write_text("".join(k + "\n" for k in keep))


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train; returns a summary (final loss, samples/s, output dir). Resumes from ``out/checkpoints``."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    # One process unless launched by torchrun / accelerate / --num-processes; NCCL when training on GPUs.
    world = init_world(cfg.batch_size, cuda=_resolve_device(cfg.device).startswith("cuda"))
    examples = training_rows(load_qa_dataset(cfg.data, cfg.max_examples), cfg, str(cfg.data))

    seed_everything(cfg.seed)
    resume_from = latest_checkpoint(out) if cfg.resume else None
    model = load_checkpoint(resume_from) if resume_from else build_model(
        cfg, [t for e in examples for t in (e.question, e.answer)])
    device = _resolve_device(cfg.device)
    if world.size > 1 and device == "cuda":
        device = f"cuda:{world.local_rank}"
    model.to(device).train()
    recipe = recipe_for(model, cfg)
    if cfg.init_vision and resume_from is None:
        recipe.init_vision(Path(cfg.init_vision))
    amp = _autocast_dtype(cfg, device)
    if cfg.parallel == "fsdp":
        recipe.check_shardable(amp)
        world.fully_shard(model, model.shard_blocks())
    params = model.trainable_parameters()
    if not params:
        raise ValueError("nothing to train: every parameter is frozen")
    opt = torch.optim.AdamW(recipe.param_groups(params), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    scaler = torch.amp.GradScaler("cuda", enabled=amp is torch.float16)
    start = restore(resume_from, model, opt, sched, scaler, world) if resume_from is not None else 0
    # Rank 0 writes the metrics, checkpoints and the model; the other ranks compute the same steps.
    metrics_path = out / METRICS_FILE if world.main else Path(os.devnull)
    if world.main:
        _start_metrics(metrics_path, start if resume_from is not None else None)
        (out / CONFIG_FILE).write_text(cfg.to_json())
    writer = _tensorboard(out) if cfg.tensorboard and world.main else None

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
                rows = batch_indices(len(examples), cfg.seed, step, micro, cfg.batch_size, cfg.grad_accum)
                batch = recipe.batch(world.shard([examples[i] for i in rows]))
                with torch.autocast(device_type=device.split(":")[0], dtype=amp or torch.float32,
                                    enabled=amp is not None):
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
            if done % cfg.checkpoint_every == 0 and done < cfg.steps:
                save_checkpoint(model, opt, sched, scaler, out, done, cfg.keep_checkpoints, world)
    if writer is not None:
        writer.close()
    model.eval()
    save_model(model, out, world)
    close_world(world)
    return {"out": str(out), "final_loss": loss_val, "steps": cfg.steps, "examples": len(examples),
            "elapsed_s": time.perf_counter() - t0, "processes": world.size}


def _tensorboard(out: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional: tensorboard is an extra
    except ImportError:
        print("tensorboard is not installed; metrics go to metrics.jsonl only")
        return None
    return SummaryWriter(str(out / "tb"))


def _eval_now(model: Any, examples: list[Any]) -> dict[str, float]:
    """Score the model on the fixed held-out subset, then return it to training mode."""
    scores = evaluate(SpatialVLM(model), examples)
    model.train()
    keep = ("qualitative_accuracy", "parse_rate", "within_50_200", "within_90_110")
    return {k: round(float(scores[k]), 4) for k in keep}
