"""``python -m spatialvlm_core.train --config run.json``: one process of a run, as torchrun / accelerate launch
start it (``spatialvlm train`` is the command-line front end, ``cli.py``)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from spatialvlm_core.train.config import TrainConfig
from spatialvlm_core.train.loop import train


def main(argv: list[str] | None = None) -> int:
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
