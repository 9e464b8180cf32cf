"""`make model`: build (or take) a spatial QA dataset, train the ``tiny`` preset with a fixed seed, score it
on held-out data and ship it under ``spatialvlm_core/assets/default_model/`` (safetensors, <= 30 MB)."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from spatialvlm_core.infer import DEFAULT_MODEL_DIR

SEED = 0
MAX_BYTES = 30 * 1024 * 1024


def build_dataset(out: Path, n_images: int, seed: int, source: str | None = None) -> Path:
    """The pipeline's dataset from ``source`` (e.g. a folder of rendered sim scenes), else the numpy toy
    dataset (same format) when no source is given."""
    if source is not None:
        from spatialvlm_core.pipeline import PipelineConfig, synth_dataset

        synth_dataset(source, out, PipelineConfig(seed=seed, limit=n_images))
        return out
    from spatialvlm_core.model.toydata import write_toy_dataset

    print("no --source given: training on the toy box dataset")
    return write_toy_dataset(out, n_images=n_images, seed=seed)


def main(argv: list[str] | None = None) -> int:
    from spatialvlm_core.data import load_qa_dataset
    from spatialvlm_core.infer import SpatialVLM
    from spatialvlm_core.model.evaluate import evaluate
    from spatialvlm_core.train import TrainConfig, train

    ap = argparse.ArgumentParser(prog="make_model", description=__doc__)
    ap.add_argument("--data", type=Path, help="existing dataset dir (default: synthesise one)")
    ap.add_argument("--source", help="pipeline source to synthesise the dataset from (sim scene folders)")
    ap.add_argument("--eval-data", type=Path, help="held-out dataset dir (default: synthesise one)")
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="spatialvlm-make-model-") as tmp:
        work = Path(tmp)
        data = args.data or build_dataset(work / "train", args.images, SEED, args.source)
        eval_data = args.eval_data or build_dataset(work / "eval", 100, SEED + 1000)
        cfg = TrainConfig(data=str(data), out=str(work / "run"), preset="tiny", steps=args.steps,
                          batch_size=args.batch_size, lr=2e-3, seed=SEED, checkpoint_every=500, resume=False)
        summary = train(cfg)
        scores = evaluate(SpatialVLM.load(work / "run"), load_qa_dataset(eval_data))
        print(json.dumps({"train": summary, "eval": scores}, indent=2))
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.mkdir(parents=True)
        for name in ("config.json", "model.safetensors", "tokenizer", "train_config.json", "metrics.jsonl"):
            src = work / "run" / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, args.out / name)
        (args.out / "eval.json").write_text(json.dumps(scores, indent=2))
    size = (args.out / "model.safetensors").stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{args.out}/model.safetensors is {size / 2**20:.1f} MB, over the 30 MB limit")
    print(f"wrote {args.out} ({size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
