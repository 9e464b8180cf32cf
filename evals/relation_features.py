"""Relation-head feature study: which grounding features decide held-out relations best, the head alone.

For each preset named, a fresh relation head is trained (``relation_warmup``, the shipped recipe's head-only
stage) on the frozen vision tower of a trained checkpoint (default: the shipped model), then scored alone on the
held-out split (``relation_head_check``). The tower, dense head and tokenizer are shared, so the presets differ in
the head's inputs only: ``tiny-relation`` pools class tokens; ``tiny-relation-color`` adds colour-aware grounding
(model/composed/color.py) and word dropout; ``tiny-relation-points`` adds the point map's features
(model/composed/points.py; needs a tower with a point map, like the shipped one). Run:

    .venv/bin/python -m evals.relation_features [--presets tiny-relation tiny-relation-color] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def head_on_tower(checkpoint: Path, preset: str, train: list[Any], held: list[Any], epochs: int, seed: int,
                  weight_decay: float) -> dict[str, float]:
    import torch

    from spatialvlm_core.model import load_checkpoint
    from spatialvlm_core.model.composed.model import ComposedVLM
    from spatialvlm_core.model.evaluate import relation_head_check
    from spatialvlm_core.model.presets import get_preset
    from spatialvlm_core.train import seed_everything
    from spatialvlm_core.train.warmup_relation import relation_warmup

    base = load_checkpoint(checkpoint)
    seed_everything(seed)
    model = ComposedVLM(get_preset(preset), base.tokenizer)
    shared = {k: v for k, v in base.state_dict().items() if not k.startswith("relation.")}
    missing = model.load_state_dict(shared, strict=False).missing_keys
    if any(not k.startswith("relation.") for k in missing):
        raise ValueError(f"{checkpoint}: preset {preset!r} needs weights the checkpoint lacks: {missing[:4]}")
    model.vision.requires_grad_(False)
    t0 = time.perf_counter()
    fit = relation_warmup(model, train, epochs, 3e-3, seed, weight_decay=weight_decay, progress=False)
    with torch.no_grad():
        scores = relation_head_check(model.eval(), held) or {}
    return {"train_decision_accuracy": fit["decision_accuracy"], **scores, "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    from spatialvlm_core.dataset.reader import load_qa_dataset
    from spatialvlm_core.make_model import DEFAULT_CACHE, sim_splits
    from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_MODEL_DIR, help="trained model whose tower is used")
    ap.add_argument("--presets", nargs="+", default=["tiny-relation", "tiny-relation-color", "tiny-relation-points"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--max-train", type=int, default=None, help="training rows (default: all of the split)")
    ap.add_argument("--out", type=Path, default=Path("evals/reports/relation_features.json"))
    args = ap.parse_args(argv)

    train_dir, held_dir = sim_splits(DEFAULT_CACHE, 5000, 150)
    train, held = load_qa_dataset(train_dir, args.max_train), load_qa_dataset(held_dir)
    rows = []
    for preset in args.presets:
        for seed in args.seeds:
            r = head_on_tower(args.checkpoint, preset, train, held, args.epochs, seed, args.weight_decay)
            rows.append({"preset": preset, "seed": seed, **r})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\nHead alone on the tower of {args.checkpoint}, {args.epochs} epochs, weight decay {args.weight_decay}; "
          f"held-out {len(held)} rows\n")
    print("| preset | seed | train decisions | held-out decisions | values within 2x | within 10% |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['seed']} | {r['train_decision_accuracy']:.3f} | {r['decision_accuracy']:.3f} | "
              f"{r['value_within_50_200']:.3f} | {r['value_within_90_110']:.3f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
