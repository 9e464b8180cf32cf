"""`make model`: render a synthetic spatial QA dataset (sim -> reconstruct -> generate_qa), train the
``tiny-relation-points`` preset with a fixed seed (tower warm-up, tower frozen, relation-head warm-up, VLM steps),
score it on a held-out split (different scene seeds) and ship it under ``spatialvlm_core/assets/default_model/``
(safetensors + config + tokenizer, eval.json / eval.md beside them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from spatialvlm_core.dataset.reader import load_qa_dataset
from spatialvlm_core.dataset.sim_splits import SimDataConfig, cached_sim_dataset
from spatialvlm_core.dataset.splits import split_seed
from spatialvlm_core.infer import MEMBERS_DIR, SpatialVLM
from spatialvlm_core.model.evaluate import evaluate, image_use_check, relation_head_check
from spatialvlm_core.model.presets import get_preset
from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR
from spatialvlm_core.train import TrainConfig, train

# The one splitter's (dataset.splits) train and held-out split seeds: 0 and 1, whose scenes never meet.
SEED = split_seed("train")
EVAL_SEED = split_seed("held_out")
MAX_BYTES = 30 * 1024 * 1024
# The shipped recipe: dense-only tower warm-up, tower frozen, relation-head warm-up, then the VLM steps.
STEPS = 3600
RELATION_WARMUP = 15
DEFAULT_CACHE = Path(os.environ.get("SPATIALVLM_CACHE", Path.home() / ".cache" / "spatialvlm")) / "simdata"


def sim_splits(cache: Path, train_scenes: int, eval_scenes: int, label_noise: float = 0.0,
               progress: bool = True, workers: int = 1, dense_grid: int = 8,
               fine_grid: int = 0, manipulation_share: float = 0.0) -> tuple[Path, Path]:
    """(train, held-out) datasets rendered from the synthetic world; cached by their config.

    The training split carries dense per-token vision targets (``dense_grid`` x ``dense_grid``, and with
    ``fine_grid`` the point map's, model/point_grounding.py); the held-out
    split has images and questions only. ``manipulation_share``: manipulation frames (a gripper over a tabletop,
    sim/manipulation.py) per training scene; 0 leaves the split as before.
    """

    train = cached_sim_dataset(cache, SimDataConfig(n_scenes=train_scenes, seed=SEED, locate_per_scene=4,
                                                    label_noise=label_noise, workers=workers,
                                                    dense_grid=dense_grid, fine_grid=fine_grid,
                                                    manipulation_share=manipulation_share), progress)
    return train, held_out_split(cache, eval_scenes, progress, workers)


def held_out_split(cache: Path, eval_scenes: int, progress: bool = True, workers: int = 1) -> Path:
    """The held-out dataset (images and questions, disjoint scene seeds); cached by its config."""

    return cached_sim_dataset(cache, SimDataConfig(n_scenes=eval_scenes, seed=EVAL_SEED, qa_per_scene=16,
                                                   workers=workers), progress)


def eval_markdown(scores: dict[str, Any], summary: dict[str, Any], args: dict[str, Any], tool: Any = None) -> str:
    bar = {"qualitative_accuracy": 0.85, "parse_rate": 0.99, "within_50_200": 0.75, "within_90_110": 0.25}
    lines = [f"# Default SpatialVLM ({args.get('preset', 'tiny')} preset): held-out synthetic split", "",
             f"Command: `python -m spatialvlm_core.make_model` ({json.dumps(args)})", ""]
    if tool is not None:
        lines += [f"Scored tool: `{tool.source}`: {describe_tool(tool)}", ""]
    lines += [
             f"Training: {summary['steps']} steps, {summary['examples']} QA rows, "
             f"{summary['elapsed_s'] / 60:.1f} min on CPU, final loss {summary['final_loss']:.3f}", "",
             "| metric | value | bar |", "|---|---|---|"]
    for k in ("qualitative_accuracy", "predicate_accuracy", "choice_accuracy", "parse_rate", "within_50_200",
              "within_90_110", "median_rel_error", "n_qualitative", "n_quantitative"):
        v = scores[k]
        lines.append(f"| {k} | {v:.3f} | {'>= ' + format(bar[k], '.2f') if k in bar else ''} |")
    lines += ["", "Per question type (qualitative: accuracy; quantitative: within [0.5x, 2x]):", "",
              "| type | n | score |", "|---|---|---|"]
    for t, d in scores.get("per_type", {}).items():
        lines.append(f"| {t} | {d['n']} | {d['score']:.3f} |")
    head = scores.get("relation_head")
    if head:
        lines += ["", "Relation head alone (its decision's sign and its log-value estimate, before the language model "
                  "verbalises them; all held-out rows):", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in head.items()]
    check = scores.get("image_use")
    if check:
        lines += ["", "Image-use check (first 600 held-out rows; the same questions with the images shuffled across "
                  "rows: a model that reads the image must lose accuracy):", "",
                  "| metric | true images | shuffled images |", "|---|---|---|"]
        for k, v in check["true_images"].items():
            lines.append(f"| {k} | {v:.3f} | {check['shuffled_images'][k]:.3f} |")
    return "\n".join(lines) + "\n"


def describe_tool(tool: Any) -> str:
    """How the scored tool answers: where its numbers come from and which members pool them."""
    if not tool.head_numbers:
        return "answers as generated (numbers as the language model wrote them)."
    parts = ["words and yes/no from the main model; length numbers from the relation head's estimate"]
    if tool.mirror:
        parts.append("pooled with the mirrored image")
    if tool.members:
        parts.append(f"and with {len(tool.members)} member model(s) under `{MEMBERS_DIR}/`")
    return ", ".join(parts) + "."


def _eval_only(args: argparse.Namespace) -> int:
    """Re-score a shipped model (e.g. after a decoding change); keeps its training summary."""

    prev = args.out / "eval.json"
    if not prev.is_file():
        raise FileNotFoundError(f"--eval-only: {prev} not found (run make_model first)")
    summary = json.loads(prev.read_text())["train"]
    # Scoring needs the held-out split only: the 5,000-scene training split is not rendered for it.
    held = args.eval_data or held_out_split(args.cache, args.eval_scenes, workers=args.workers)
    tool = SpatialVLM.load(args.out)
    held_examples = load_qa_dataset(held)
    scores = evaluate(tool, held_examples, per_type=True)
    scores["image_use"] = image_use_check(tool, held_examples[:600])
    scores["relation_head"] = relation_head_check(tool.model, held_examples)
    prev.write_text(json.dumps({"eval": scores, "train": summary}, indent=2, default=str))
    (args.out / "eval.md").write_text(eval_markdown(scores, summary, {k: str(v) for k, v in vars(args).items()
                                                                       if k not in ("out", "cache", "eval_only", "seed", "member_of", "work")},
                                                    tool))
    print(json.dumps(scores, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make_model", description=__doc__)
    ap.add_argument("--data", type=Path, help="existing training dataset dir (default: render one)")
    ap.add_argument("--eval-data", type=Path, help="held-out dataset dir (default: render one)")
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where rendered datasets are kept")
    ap.add_argument("--scenes", type=int, default=5000, help="training scenes")
    ap.add_argument("--eval-scenes", type=int, default=150)
    ap.add_argument("--manipulation-share", type=float, default=0.0,
                    help="manipulation frames (a gripper over a tabletop: the dense-reward job) per training scene, "
                         "e.g. 0.2; 0: none (the split as before)")
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--preset", default="tiny-relation-points",
                    help="model preset (tiny-relation-color: without the point map; tiny-relation: without colour "
                         "grounding either; tiny: without the relation head)")
    ap.add_argument("--dense-weight", type=float, default=1.0, help="weight of the per-token vision loss (0: off)")
    ap.add_argument("--vision-warmup", type=int, default=2000,
                    help="dense-only tower steps before the VLM steps (0: off; see spatialvlm_core/train/warmup_vision.py)")
    ap.add_argument("--freeze-vision", action=argparse.BooleanOptionalAction, default=True,
                    help="train the tower in the warm-up only (--vision-warmup), frozen for the VLM steps")
    ap.add_argument("--relation-warmup", type=int, default=RELATION_WARMUP,
                    help="epochs of relation-head-only training on the frozen tower (needs --freeze-vision)")
    ap.add_argument("--workers", type=int, default=2, help="processes rendering the datasets")
    ap.add_argument("--work", type=Path, help="keep the training run here (checkpoints; a re-run resumes)")
    ap.add_argument("--eval-only", action="store_true", help="re-score the model already in --out")
    ap.add_argument("--seed", type=int, default=SEED,
                    help="training seed (weights, batch order); the rendered datasets keep their own fixed seeds")
    ap.add_argument("--member-of", type=Path,
                    help="write the model into DIR/members/seed-N (an ensemble member of the checkpoint in DIR, "
                         "e.g. the shipped one) instead of --out; then re-score DIR with --eval-only --out DIR")
    args = ap.parse_args(argv)
    if args.member_of is not None:
        if not (args.member_of / "config.json").is_file():
            raise FileNotFoundError(f"--member-of {args.member_of}: no checkpoint there (config.json missing)")
        args.out = args.member_of / MEMBERS_DIR / f"seed-{args.seed}"
    if args.eval_only:
        return _eval_only(args)
    if args.steps <= 0 or args.scenes <= 0 or args.eval_scenes <= 0:
        raise ValueError("--steps, --scenes and --eval-scenes must be positive")
    if args.relation_warmup > 0 and not args.freeze_vision:
        raise ValueError("--relation-warmup needs --freeze-vision: the head trains on the frozen tower's output")
    if args.freeze_vision and args.vision_warmup <= 0:
        raise ValueError("--freeze-vision needs --vision-warmup N: otherwise the frozen tower is random")

    t0 = time.perf_counter()
    if args.data is None or args.eval_data is None:

        fine = get_preset(args.preset).vision.fine_grid  # the point map's targets, when the preset has one
        train_dir, held_dir = sim_splits(args.cache, args.scenes, args.eval_scenes, workers=args.workers,
                                         fine_grid=fine, manipulation_share=args.manipulation_share)
    data = args.data or train_dir
    eval_data = args.eval_data or held_dir
    print(f"data ready in {time.perf_counter() - t0:.0f} s: train {data}, held-out {eval_data}")
    with tempfile.TemporaryDirectory(prefix="spatialvlm-make-model-") as tmp:
        run = args.work or Path(tmp) / "run"
        cfg = TrainConfig(data=str(data), out=str(run), preset=args.preset, steps=args.steps, batch_size=args.batch_size,
                          lr=args.lr, warmup_steps=100, seed=args.seed, checkpoint_every=500, resume=args.work is not None,
                          eval_data=str(eval_data), eval_every=500, eval_max=300, dense_weight=args.dense_weight,
                          vision_warmup_steps=args.vision_warmup, relation_warmup_epochs=args.relation_warmup,
                          freeze_vision=args.freeze_vision)
        summary = train(cfg)
        tool = SpatialVLM.load(run)
        held_examples = load_qa_dataset(eval_data)
        scores = evaluate(tool, held_examples, per_type=True)
        scores["image_use"] = image_use_check(tool, held_examples[:600])
        scores["relation_head"] = relation_head_check(tool.model, held_examples)
        print(json.dumps({"train": summary, "eval": scores}, indent=2))
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.mkdir(parents=True)
        for name in ("config.json", "model.safetensors", "tokenizer", "train_config.json", "metrics.jsonl"):
            src = run / name
            (shutil.copytree if src.is_dir() else shutil.copyfile)(src, args.out / name)  # no 0600 temp modes
    # The temp paths in train_config.json mean nothing to a user: keep the recipe, not the paths.
    tc = json.loads((args.out / "train_config.json").read_text())
    tc.update(data="<make_model sim train split>", out=str(DEFAULT_MODEL_DIR.name), eval_data="<held-out split>")
    (args.out / "train_config.json").write_text(json.dumps(tc, indent=2))
    (args.out / "eval.json").write_text(json.dumps({"eval": scores, "train": summary}, indent=2, default=str))
    (args.out / "eval.md").write_text(eval_markdown(scores, summary, {k: str(v) for k, v in vars(args).items()
                                                                       if k not in ("out", "cache", "work")}, tool))
    size = (args.out / "model.safetensors").stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{args.out}/model.safetensors is {size / 2**20:.1f} MB, over the 30 MB limit")
    print(f"wrote {args.out} ({size / 2**20:.1f} MB) in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
