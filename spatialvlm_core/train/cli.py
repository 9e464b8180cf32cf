"""``spatialvlm train``: arguments around ``train.train``; importing this module stays light (no torch), so every
``spatialvlm`` command starts fast."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from spatialvlm_core.train.config import TrainConfig

# TrainConfig's numeric fields with a flag of their own (the rest come through --config).
_NUMBERS: tuple[tuple[str, type], ...] = (
    ("steps", int), ("batch-size", int), ("grad-accum", int), ("lr", float), ("seed", int), ("checkpoint-every", int),
    ("spatial-fraction", float), ("max-examples", int), ("dense-weight", float), ("vision-warmup-steps", int),
    ("relation-weight", float), ("relation-warmup-epochs", int))


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="train a SpatialVLM on a QA dataset")
    p.add_argument("--data", help="dataset root (data/*.parquet or data/*.jsonl); required unless in --config")
    p.add_argument("--out", help="output checkpoint directory; required unless in --config")
    p.add_argument("--preset", help="preset name or image-text-to-text checkpoint (default: tiny)")
    p.add_argument("--config", help="TrainConfig JSON; command-line flags given explicitly override it")
    for name, typ in _NUMBERS:
        p.add_argument(f"--{name}", type=typ)
    p.add_argument("--freeze-vision", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--lm-mode", choices=["full", "frozen", "lora"])
    p.add_argument("--device", default=None)
    p.add_argument("--num-processes", type=int, default=1,
                   help="data-parallel processes on this machine (gloo on CPU, NCCL on GPUs); the batch size is "
                        "the global one, split evenly")
    p.add_argument("--parallel", choices=["ddp", "fsdp"],
                   help="with --num-processes: ddp (whole model per process, default) or fsdp (sharded weights, "
                        "gradients and optimiser state; Hugging Face checkpoints)")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--tensorboard", action="store_true")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    base: dict[str, Any] = {}
    if args.config:
        cfg_path = Path(args.config)
        if not cfg_path.is_file():
            raise FileNotFoundError(f"config file not found: {cfg_path}")
        base = json.loads(cfg_path.read_text())
    for key in ("data", "out", "preset", *(n.replace("-", "_") for n, _ in _NUMBERS), "freeze_vision", "lm_mode",
                "device", "parallel"):
        v = getattr(args, key)
        if v is not None:
            base[key] = v
    missing = [f"--{k}" for k in ("data", "out") if k not in base]
    if missing:
        raise ValueError(f"train needs {' and '.join(missing)} (on the command line or in --config)")
    if args.no_resume:
        base["resume"] = False
    if args.tensorboard:
        base["tensorboard"] = True
    cfg = TrainConfig(**base)
    from spatialvlm_core.train import train  # torch: only once a run starts, not to build the parser
    from spatialvlm_core.train.distributed import launch  # torch, likewise

    if args.num_processes > 1:
        if args.num_processes > cfg.batch_size or cfg.batch_size % args.num_processes:
            raise ValueError(f"--num-processes {args.num_processes} must divide --batch-size {cfg.batch_size}")
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        launch_cfg = Path(cfg.out) / "launch_config.json"
        launch_cfg.write_text(cfg.to_json())
        return launch(launch_cfg, args.num_processes)
    summary = train(cfg)
    if summary.get("processes", 1) == 1 or int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spatialvlm-train")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv if argv[:1] == ["train"] else ["train", *argv])
    return int(args.func(args) or 0)
