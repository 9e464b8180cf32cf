"""Relation warm-up: train the relation head (model/composed/relation.py) alone on a frozen tower before the VLM steps.

With the tower frozen its output per image is fixed, so each row's relation inputs (pair geometry at the prompt's
last token, prompt ids) are computed once and the head, a small MLP, trains on them for many epochs at thousands
of rows per second. The VLM steps then start with a head that already decides most questions, and the language
model learns to verbalise its decision instead of waiting on the XOR plateau (README, "Training the SpatialVLM").
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from tqdm import tqdm

from spatialvlm_core.dataset.reader import ImageCache
from spatialvlm_core.model.composed.relation import relation_loss


def relation_warmup(model: Any, examples: list[Any], epochs: int, lr: float, seed: int, batch_size: int = 256,
                    metrics: IO[str] | None = None, progress: bool = True, images: Any = None,
                    tower: Any = None, weight_decay: float = 0.1) -> dict[str, float]:
    """``epochs`` passes of the relation loss over the ``examples`` that have a relation target, head only.

    ``images``: the caller's ``ImageCache``; ``tower``: its ``TowerCache`` (the frozen tower's output per image).
    ``weight_decay``: AdamW's; 0.1 held the head 1-3 points closer to its held-out accuracy than 0.01.
    Returns ``{"rows": ..., "epochs": ..., "final_loss": ..., "decision_accuracy": ...}`` (accuracy on the last
    epoch's batches). Raises ``ValueError`` when the model has no relation head, its tower is not frozen, or no
    row has a target.
    """
    head = getattr(model, "relation", None)
    if head is None:
        raise ValueError("relation warm-up needs a model with a relation head (vision.relation_head > 0)")
    if any(p.requires_grad for p in model.vision.parameters()):
        raise ValueError("relation warm-up needs a frozen vision tower (freeze_vision): its inputs are cached")
    targets = model.relation_batch([e.qa for e in examples])
    dec, val = targets["rel_decision"], targets["rel_log_value"]
    rows = [i for i in range(len(examples)) if math.isfinite(float(dec[i])) or math.isfinite(float(val[i]))]
    if not rows:
        raise ValueError("relation warm-up: no row has a yes/no, which-of-two or metric target")
    images = images if images is not None else ImageCache(model.preset.vision.image_size)
    pair, ids, keep = _inputs(model, [examples[i] for i in rows], images, tower, progress)
    dec, val = dec[rows], val[rows]
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(rows) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    head.train()
    loss_val, correct, seen = float("nan"), 0, 0
    bar = tqdm(range(epochs), disable=not progress, desc="relation warm-up")
    for epoch in bar:
        correct = seen = 0
        for b in torch.randperm(len(rows), generator=gen).split(batch_size):
            out = head(pair[b].expand(-1, ids.shape[1], -1), ids[b], keep[b])[:, -1]
            loss = relation_loss(out, dec[b], val[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_val = float(loss.detach())
            ok = torch.isfinite(dec[b])
            correct += int(((out[ok, 0] > 0).float() == dec[b][ok]).sum())
            seen += int(ok.sum())
        acc = correct / max(1, seen)
        bar.set_postfix(loss=f"{loss_val:.3f}", acc=f"{acc:.3f}")
        if metrics is not None:
            metrics.write(json.dumps({"relation_warmup_epoch": epoch + 1, "loss": round(loss_val, 6),
                                      "decision_accuracy": round(acc, 4)}) + "\n")
            metrics.flush()
    return {"rows": len(rows), "epochs": epochs, "final_loss": loss_val, "decision_accuracy": correct / max(1, seen)}


def _inputs(model: Any, examples: list[Any], images: Any, tower: Any, progress: bool) -> tuple[Any, Any, Any]:
    """Pair geometry at each prompt's last token (R, 1, pair width) and the left-padded prompt ids and kept mask (R, T)
    - the layout generation has, so the head learns on what it will see."""

    ids = model.prompt_batch([e.question for e in examples])[0].cpu()
    pairs, keeps = [], []
    order = sorted(range(len(examples)), key=lambda i: str(examples[i].image))  # rows of one image together
    chunks = [order[k:k + 256] for k in range(0, len(order), 256)]
    with torch.no_grad():
        for chunk in tqdm(chunks, disable=not progress, desc="relation inputs"):
            paths = [Path(examples[i].image) for i in chunk]
            uniq = sorted(set(paths))
            pixels = model.pixels([images(p) for p in uniq])
            toks = tower(model, uniq, pixels) if tower is not None else model.vision(pixels)
            where = {p: j for j, p in enumerate(uniq)}
            sel = [where[p] for p in paths]
            pair, keep = model.relation_inputs(toks[sel], ids[chunk].to(toks.device), pixel_values=pixels[sel])
            pairs.append(pair[:, -1:].cpu())
            keeps.append(keep.cpu())
    inv = np.argsort(order)
    return torch.cat(pairs)[inv], ids, torch.cat(keeps)[inv]

