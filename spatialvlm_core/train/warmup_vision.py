"""Vision warm-up: train the tower's dense head alone before the VLM sees any answer.

Word grounding (model/composed/) routes each named object's tokens into the question through the dense head's
class probabilities. Trained jointly from random weights, the head is poor for the first ~1,500 steps, so the
language model spends them on a pointer that points nowhere and settles on caption priors. A few minutes of
dense-only steps over the dataset's distinct images (the tower alone costs about a third of a full step) give
the LM a working pointer from its first step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from tqdm import tqdm

from spatialvlm_core.dataset.dense_labels import DenseCache
from spatialvlm_core.dataset.reader import ImageCache


def vision_warmup(model: Any, image_paths: list[Path], steps: int, batch_size: int, lr: float, seed: int,
                  metrics: IO[str] | None = None, progress: bool = True, images: Any = None,
                  dense: Any = None) -> dict[str, float]:
    """``steps`` AdamW steps of the dense loss over ``image_paths`` (those with dense targets), tower only.

    ``images`` / ``dense``: the caller's ``ImageCache`` / ``DenseCache``, so training decodes each file once.
    Returns ``{"steps": ..., "images": ..., "final_loss": ...}``; raises ``ValueError`` when the model has no
    dense head or no image has targets.
    """
    vision = getattr(model, "vision", None)
    if vision is None or getattr(vision, "dense_head", None) is None:
        raise ValueError("vision warm-up needs a model whose vision tower has a dense head (vision.dense_classes)")
    dense = dense if dense is not None else DenseCache()
    paths = [p for p in sorted(set(image_paths)) if dense(p) is not None]  # each image once, however many rows
    if not paths:
        where = Path(paths_all[0]).parent if (paths_all := sorted(set(image_paths))) else "the dataset"
        raise ValueError(
            f"vision warm-up: no image under {where} has dense targets (<stem>.dense.npz beside it). They are the "
            "simulator's per-token labels, which `synth` and `make-splits` do not write: train this dataset with "
            "vision_warmup_steps=0 (--vision-warmup-steps 0), or render one that has them with "
            "spatialvlm_core.make_model.sim_splits (the README's training recipe)")
    images = images if images is not None else ImageCache(model.preset.vision.image_size)
    # A tower frozen for the VLM steps (freeze_vision) is still the one thing the warm-up trains: its pretraining.
    frozen = {id(p) for p in vision.parameters() if not p.requires_grad}
    vision.requires_grad_(True)
    params = list(vision.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    rng = np.random.default_rng(seed)
    order: list[int] = []
    loss_val = float("nan")
    vision.train()
    bar = tqdm(range(steps), disable=not progress, desc="vision warm-up")
    for step in bar:
        if len(order) < batch_size:
            order += rng.permutation(len(paths)).tolist()
        idx, order = order[:batch_size], order[batch_size:]
        batch = model.dense_batch([dense(paths[i]) for i in idx])
        tokens = vision(model.pixels([images(paths[i]) for i in idx]))
        loss = model.dense_loss(tokens, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss_val = float(loss.detach())
        if (step + 1) % 10 == 0 or step + 1 == steps:
            bar.set_postfix(loss=f"{loss_val:.4f}")
            if metrics is not None:
                # "step": 0 keeps these lines when a resumed run trims its metrics back to a checkpoint.
                metrics.write(json.dumps({"step": 0, "warmup_step": step + 1, "loss_dense": round(loss_val, 6)}) + "\n")
    for p in vision.parameters():
        p.requires_grad_(id(p) not in frozen)
    if metrics is not None:
        metrics.flush()
    return {"steps": steps, "images": len(paths), "final_loss": loss_val}
