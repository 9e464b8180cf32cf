"""Training throughput (samples/s) per preset on this machine: tiny, tiny-relation, tiny-relation-color, tiny-relation-points (from scratch) and smollm2 (frozen LM); and the
full training loop in 1 and 2 data-parallel processes (``--processes 1 2``: spatialvlm_core/train/distributed.py).

Run: .venv/bin/python benchmarks/train_speed.py [--presets tiny smollm2] [--steps 5] [--batch-size 16]
     .venv/bin/python benchmarks/train_speed.py --processes 1 2 [--presets tiny] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from spatialvlm_core.dataset.reader import ImageCache, load_qa_dataset
from spatialvlm_core.dataset.toy import write_toy_dataset
from spatialvlm_core.model import create_model
from spatialvlm_core.train import TrainConfig
from spatialvlm_core.train.distributed import launch


def bench(preset: str, data: Path, steps: int, batch_size: int) -> float:
    exs = load_qa_dataset(data)
    model = create_model(preset, tokenizer_texts=[t for e in exs for t in (e.question, e.answer)]).train()
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-3)
    cache = ImageCache(model.preset.vision.image_size)
    times = []
    for s in range(steps + 1):
        ex = [exs[(s * batch_size + i) % len(exs)] for i in range(batch_size)]
        t = time.perf_counter()
        batch = model.encode([cache(e.image) for e in ex], [e.question for e in ex], [e.answer for e in ex])
        batch.update(model.relation_batch([e.qa for e in ex]))  # {} for presets without a relation head
        model.loss(batch).backward()
        opt.step()
        opt.zero_grad()
        if s:  # first step warms up
            times.append(time.perf_counter() - t)
    return batch_size * len(times) / sum(times)


def bench_loop(preset: str, data: Path, steps: int, batch_size: int, processes: int, tmp: Path) -> float:
    """Global samples/s of the real training loop (median over its logged windows after the first) in
    ``processes`` data-parallel processes, launched the way ``spatialvlm train --num-processes`` launches them."""
    out = tmp / f"{preset}-{processes}"
    cfg = TrainConfig(data=str(data), out=str(out), preset=preset, steps=steps, batch_size=batch_size,
                      log_every=max(1, steps // 5), checkpoint_every=10**6, progress=False, resume=False)
    path = tmp / f"{preset}-{processes}.json"
    path.write_text(cfg.to_json())
    if launch(path, processes) != 0:
        raise RuntimeError(f"{processes}-process training failed")
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    sps = [r["samples_per_s"] for r in rows if "samples_per_s" in r][1:]
    return statistics.median(sps)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["tiny", "tiny-relation", "tiny-relation-color", "tiny-relation-points", "smollm2"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--processes", type=int, nargs="+", help="time the full loop in N data-parallel processes")
    args = ap.parse_args()
    if args.processes:
        with tempfile.TemporaryDirectory() as tmp:
            data = write_toy_dataset(Path(tmp), n_images=40, seed=0)
            for p in args.presets:
                for n in args.processes:
                    sps = bench_loop(p, data, args.steps, args.batch_size, n, Path(tmp))
                    print(f"{p:>10}: {sps:8.1f} samples/s with {n} process(es) (training loop, global batch "
                          f"{args.batch_size})", flush=True)
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        data = write_toy_dataset(Path(tmp), n_images=40, seed=0)
        for p in args.presets:
            print(f"{p:>10}: {bench(p, data, args.steps, args.batch_size):8.1f} samples/s (train step)", flush=True)


if __name__ == "__main__":
    main()
