"""The SpatialVLM paper's three training studies on the synthetic world, with seeds and intervals.

    python -m evals.train_studies render [--root .devdata/studies]        # datasets (needs MuJoCo), once
    python -m evals.train_studies run --data .devdata/studies --out OUT   # every point x seed, in parallel
    python -m evals.train_studies report --results OUT/results.json       # evals/reports/study_*.md + PNG

Studies (evals/studies/report.py): (a) frozen vs unfrozen vision tower; (b) Gaussian label noise sigma 0, 0.1,
0.2, 0.3 m on the 3D boxes before question generation; (c) the share of spatial rows (0, 25, 50, 100%) in a mix
with a non-spatial task (object colour questions on the same renders). On a GPU: ``scripts/device_studies.sh``.
``one`` trains and scores a single point (what ``run`` starts per process). ``relation [--steps 800]``: the
older one-seed probe of one relation, tiny vs tiny-relation (evals/reports/train_relation.md).

``TrainConfig.spatial_fraction`` is not used for (c): it mixes in a "dominant colour of the picture" task that
is near-constant on the sim's renders, and it cannot express a share of 0.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evals.studies.data import StudyDataConfig, render_study_data
from evals.studies.relation import relation_study
from evals.studies.report import write_reports
from evals.studies.runner import POINTS, run_all, run_one

REPORTS = Path(__file__).parent / "reports"
DEFAULT_ROOT = Path(".devdata/studies")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="evals.train_studies", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="render the study datasets (MuJoCo)")
    r.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    r.add_argument("--train-scenes", type=int, default=800)
    r.add_argument("--eval-scenes", type=int, default=100)
    r.add_argument("--workers", type=int, default=2)
    for name in ("run", "one"):
        p = sub.add_parser(
            name, help="train and score " + ("every point x seed" if name == "run" else "one point")
        )
        p.add_argument("--data", type=Path, default=DEFAULT_ROOT)
        p.add_argument("--steps", default="3000", help="training steps per run ('auto' for run: calibrate)")
        p.add_argument("--batch-size", type=int, default=32)
        p.add_argument("--device", default="auto")
    run = sub.choices["run"]
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--points", nargs="+", default=list(POINTS))
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    run.add_argument("--jobs", type=int, default=2, help="training processes at once")
    run.add_argument("--deadline", type=float, default=None, help="start no run after this many seconds")
    run.add_argument(
        "--max-wall",
        type=float,
        default=None,
        help="start no run that the slowest finished one says would end after this many seconds",
    )
    run.add_argument(
        "--calibrate-steps", type=int, default=60, help="with --steps auto: steps per calibration run"
    )
    run.add_argument("--min-steps", type=int, default=300, help="with --steps auto: at least this many")
    run.add_argument(
        "--train-budget",
        type=float,
        default=170.0,
        help="with --steps auto: seconds of training one run gets, at the calibrated speed",
    )
    one = sub.choices["one"]
    one.add_argument("--point", choices=sorted(POINTS), required=True)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--json", type=Path, required=True, help="where the result row goes")
    one.add_argument("--no-eval", action="store_true", help="train only (calibration)")
    rel = sub.add_parser("relation", help="one relation, tiny vs tiny-relation (one seed)")
    rel.add_argument("--steps", type=int, default=800)
    rel.add_argument("--batch-size", type=int, default=32)
    rel.add_argument("--out", type=Path, default=REPORTS / "train_relation.md")
    rep = sub.add_parser("report", help="reports and plots from a results JSON")
    rep.add_argument("--results", type=Path, required=True)
    rep.add_argument("--out-dir", type=Path, default=REPORTS)
    rep.add_argument("--no-plots", action="store_true")
    args = ap.parse_args(argv)

    if args.cmd in ("run", "one"):
        auto = args.cmd == "run" and args.steps == "auto"
        if not auto and not args.steps.isdigit():
            raise ValueError(
                f"--steps must be a positive integer{' or auto' if args.cmd == 'run' else ''}, "
                f"got {args.steps!r}"
            )
        args.steps = None if auto else int(args.steps)
        if args.steps == 0 or args.batch_size <= 0:
            raise ValueError("--steps and --batch-size must be positive")
    if args.cmd in ("run", "one") and not (args.data / "study_data.json").is_file():
        raise FileNotFoundError(
            f"no study datasets under {args.data}: run `python -m evals.train_studies render "
            f"--root {args.data}` first"
        )
    if args.cmd == "render":
        cfg = StudyDataConfig(
            train_scenes=args.train_scenes, eval_scenes=args.eval_scenes, workers=args.workers
        )
        print(render_study_data(args.root, cfg))
    elif args.cmd == "one":
        row = run_one(
            args.data, args.point, args.seed, args.steps, args.batch_size, args.device, score=not args.no_eval
        )
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(row, indent=1))
        print(json.dumps({k: v for k, v in row.items() if k != "loss_curve"}))
    elif args.cmd == "run":
        if args.jobs <= 0:
            raise ValueError("--jobs must be positive")
        print(
            run_all(
                args.data,
                args.out,
                args.points,
                args.seeds,
                args.steps,
                args.batch_size,
                args.device,
                args.jobs,
                args.deadline,
                train_budget_s=args.train_budget,
                max_wall_s=args.max_wall,
                step_range=(args.min_steps, 3600),
                calibrate_steps=args.calibrate_steps,
            )
        )
    elif args.cmd == "relation":
        from spatialvlm_core.make_model import DEFAULT_CACHE

        print(relation_study(args.steps, args.batch_size, DEFAULT_CACHE, args.out))
    else:
        for f in write_reports(args.results, args.out_dir, plots=not args.no_plots):
            print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
