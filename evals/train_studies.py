"""Training studies from the SpatialVLM paper, at toy scale on the synthetic world (CPU, minutes).

    python -m evals.train_studies frozen [--steps 300]   # frozen vs unfrozen vision tower
    python -m evals.train_studies noise  [--steps 300]   # Gaussian noise on the 3D labels before question generation
    python -m evals.train_studies relation [--steps 800] # one relation (left/right yes-no): tiny vs tiny-anchor

Each arm trains the ``tiny`` preset with the same seed and data size and is scored on the same clean held-out
split (different scene seeds). Prints a markdown table and writes it to ``evals/reports/train_<study>.md``
(``--out`` to change). Short default runs: the absolute numbers are far below the default model's; the
comparison between arms is what the study reports.

Every arm starts from the same vision tower, by default the trained tower of the shipped default model (the
paper's setting: a pretrained encoder, frozen or fine-tuned); LM and projector start fresh. Without a default
model (or with ``--init scratch``) the tower is random, so "frozen" means random features.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR

REPORTS = Path(__file__).parent / "reports"
METRICS = ("qualitative_accuracy", "parse_rate", "within_50_200", "within_90_110", "median_rel_error")


def run_arm(name: str, data: Path, held: Path, steps: int, batch_size: int, preset: str = "tiny",
            **train_kw: Any) -> dict[str, Any]:
    from spatialvlm_core.data import load_qa_dataset
    from spatialvlm_core.infer import SpatialVLM
    from spatialvlm_core.model.evaluate import evaluate
    from spatialvlm_core.train import TrainConfig, train

    with tempfile.TemporaryDirectory(prefix=f"spatialvlm-study-{name}-") as tmp:
        cfg = TrainConfig(data=str(data), out=tmp, preset=preset, steps=steps, batch_size=batch_size, lr=1e-3,
                          warmup_steps=min(100, steps // 10), seed=0, checkpoint_every=10**9, resume=False,
                          progress=False, **train_kw)
        summary = train(cfg)
        qtypes = train_kw.get("qtypes")
        scores = evaluate(SpatialVLM.load(tmp), [e for e in load_qa_dataset(held)
                                                 if qtypes is None or (e.qa is not None and e.qa.qtype in qtypes)])
    row = {"arm": name, "train_min": summary["elapsed_s"] / 60, "final_loss": summary["final_loss"], **scores}
    print(f"{name}: " + ", ".join(f"{k}={row[k]:.3f}" for k in ("final_loss", *METRICS)), flush=True)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = ["arm", "final_loss", *METRICS, "train_min"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out.append("| " + " | ".join(str(r[h]) if h == "arm" else f"{r[h]:.3f}" for h in head) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from spatialvlm_core.make_model import DEFAULT_CACHE, EVAL_SEED, SEED
    from spatialvlm_core.model.simdata import SimDataConfig, cached_sim_dataset

    ap = argparse.ArgumentParser(prog="evals.train_studies", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", choices=["frozen", "noise", "relation"])
    ap.add_argument("--steps", type=int, default=None, help="per arm (default: 300; relation: 800)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--scenes", type=int, default=600, help="training scenes per arm")
    ap.add_argument("--eval-scenes", type=int, default=60)
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.1, 0.3], help="label sigmas (m)")
    ap.add_argument("--init", default="default",
                    help="starting tower: 'default' (shipped model), 'scratch', or a checkpoint directory")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--out", type=Path, help="markdown report (default evals/reports/train_<study>.md)")
    args = ap.parse_args(argv)
    if args.steps is None:
        args.steps = 800 if args.study == "relation" else 300
    if args.steps <= 0 or args.scenes <= 0:
        raise ValueError("--steps and --scenes must be positive")
    if any(s < 0 for s in args.noise):
        raise ValueError(f"--noise sigmas must be >= 0, got {args.noise}")

    t0 = time.perf_counter()
    held = cached_sim_dataset(args.cache, SimDataConfig(n_scenes=args.eval_scenes, seed=EVAL_SEED, qa_per_scene=16),
                              progress=False)

    def train_split(noise: float) -> Path:
        # Same recipe as make_model: dense vision targets come from the exact render, so noise reaches the QA
        # labels only (as with a clean depth sensor and noisy 3D boxes).
        return cached_sim_dataset(args.cache, SimDataConfig(n_scenes=args.scenes, seed=SEED, locate_per_scene=4,
                                                            label_noise=noise, dense_grid=8, workers=2),
                                  progress=False)

    rows: list[dict[str, Any]] = []
    init = None
    if args.init == "default":
        if (DEFAULT_MODEL_DIR / "model.safetensors").is_file():
            init = str(DEFAULT_MODEL_DIR)
        else:
            print(f"no default model at {DEFAULT_MODEL_DIR}: every arm starts from a random tower")
    elif args.init != "scratch":
        if not (Path(args.init) / "model.safetensors").is_file():
            raise FileNotFoundError(f"--init {args.init}: no model.safetensors there")
        init = args.init
    shown = "the default model" if init == str(DEFAULT_MODEL_DIR) else init
    note = f"vision tower initialised from {shown or 'random weights'}"
    if args.study == "frozen":
        data = train_split(0.0)
        for frozen in (False, True):
            rows.append(run_arm("frozen vision" if frozen else "unfrozen vision", data, held, args.steps,
                                args.batch_size, freeze_vision=frozen, init_vision=init))
    elif args.study == "relation":
        # make_model's 5,000-scene split: one relation has ~4,600 rows there (600 scenes would repeat them).
        from spatialvlm_core.make_model import sim_splits

        data, held_main = sim_splits(args.cache, 5000, 150, progress=False, workers=2)
        for preset in ("tiny", "tiny-anchor"):
            # Frozen tower: the study is about the LM learning to read it (and a frozen tower is served cached).
            rows.append(run_arm(preset, data, held_main, args.steps, args.batch_size, preset=preset,
                                qtypes=["left_right_predicate"], init_vision=init, freeze_vision=init is not None))
        note += ("; tower frozen; trained and scored on left_right_predicate only (make_model's train split and its "
                 "150-scene held-out split)")
    else:
        for sigma in args.noise:
            rows.append(run_arm(f"label noise {sigma:g} m", train_split(sigma), held, args.steps, args.batch_size,
                                init_vision=init))
        note += "; noise: Gaussian sigma on every object's 3D position and size before question generation"
    scored = 150 if args.study == "relation" else args.eval_scenes
    presets = "tiny and tiny-anchor presets" if args.study == "relation" else "tiny preset"
    scenes = "" if args.study == "relation" else f" --scenes {args.scenes}"
    md = (f"# Training study: {args.study}\n\nCommand: `python -m evals.train_studies {args.study} --steps "
          f"{args.steps}{scenes}`; {presets}, batch {args.batch_size}, seed 0; {note}. "
          f"Scored on {scored} held-out scenes (clean labels).\n\n{table(rows)}\n")
    out = args.out or REPORTS / f"train_{args.study}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md)
    (out.with_suffix(".json")).write_text(json.dumps(rows, indent=2))
    print(md)
    print(f"wrote {out} in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
