"""Answering throughput (answers/s) of the SpatialVLM tool, batched and one at a time.

Run: .venv/bin/python benchmarks/infer_speed.py [--model CKPT] [--n 64]   (default: a fresh tiny model)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from spatialvlm_core.dataset.reader import load_qa_dataset
from spatialvlm_core.dataset.toy import write_toy_dataset
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.model import create_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="checkpoint dir (default: an untrained tiny model, max 16 new tokens)")
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exs = load_qa_dataset(write_toy_dataset(Path(tmp) / "d", n_images=30, seed=0))
        exs = (exs * (args.n // len(exs) + 1))[: args.n]
        if args.model:
            tool = SpatialVLM.load(args.model)
        else:
            create_model("tiny", tokenizer_texts=[e.answer for e in exs]).save(Path(tmp) / "ck")
            tool = SpatialVLM.load(Path(tmp) / "ck")
        imgs, qs = [str(e.image) for e in exs], [e.question for e in exs]
        tool.ask_batch(imgs[:4], qs[:4])  # warm-up
        t = time.perf_counter()
        tool.ask_batch(imgs, qs)
        batched = len(exs) / (time.perf_counter() - t)
        t = time.perf_counter()
        for im, q in zip(imgs[:16], qs[:16], strict=True):
            tool.ask(im, q)
        single = 16 / (time.perf_counter() - t)
    print(f"{tool.source}: batched {batched:.1f} answers/s, one-by-one {single:.1f} answers/s")


if __name__ == "__main__":
    main()
