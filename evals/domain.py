"""How well the learned model's domain check separates simulator renders from real photos.

Scores held-out simulator renders (scene seeds disjoint from the calibration's, ``domain.EVAL_FIRST`` on) and the
real photos in ``../shared/real/*/rgb.*`` and ``../shared/images/*.jpg`` with the calibration shipped beside the
model (``python -m spatialvlm_core.domain calibrate``), and prints the AUROC, how many photos are declined and how
many renders are falsely declined. The photos only measure the check; they never set its threshold.

    python -m evals.domain [--scenes 300] [--model DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from spatialvlm_core.domain import EVAL_FIRST, RENDER_SIZE, DomainCheck, features, render_sim

SHARED = Path(__file__).resolve().parents[2] / "shared"


def real_photos(shared: Path = SHARED) -> list[Path]:
    """The real test photos: every frame's rgb image under shared/real and the photos under shared/images."""
    return sorted(shared.glob("real/*/rgb.*")) + sorted(shared.glob("images/*.jpg"))


def auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting half (the Mann-Whitney statistic)."""
    neg, pos = np.asarray(negatives, float), np.asarray(positives, float)
    if not len(neg) or not len(pos):
        raise ValueError("AUROC needs scores of both classes")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def main(argv: list[str] | None = None) -> int:
    from spatialvlm_core.model import create_model
    from spatialvlm_core.model_dir import resolve_model_dir

    ap = argparse.ArgumentParser(prog="python -m evals.domain", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint directory (default: the shipped model)")
    ap.add_argument("--scenes", type=int, default=300, help="held-out simulator scenes to score")
    ap.add_argument("--shared", type=Path, default=SHARED, help="folder holding real/ and images/")
    args = ap.parse_args(argv)
    model_dir = resolve_model_dir(args.model)
    check = DomainCheck.load(model_dir)
    if check is None:
        raise SystemExit(f"{model_dir} has no domain calibration; run `python -m spatialvlm_core.domain calibrate`")
    photos = real_photos(args.shared)
    if not photos:
        raise SystemExit(f"no real photos under {args.shared} (real/*/rgb.*, images/*.jpg)")
    model = create_model(str(model_dir)).eval()
    t0 = time.perf_counter()
    renders = render_sim(EVAL_FIRST, args.scenes)
    sim = check.distances(features(model, renders))
    real = check.distances(features(model, [str(p) for p in photos]))
    bigger = render_sim(EVAL_FIRST, min(args.scenes, 100), size=(320, 240))
    sim_big = check.distances(features(model, bigger))
    declined = real > check.threshold
    print(f"domain check of {model_dir.name}: threshold {check.threshold:.2f} (calibration: "
          f"{check.meta.get('scenes')}, {check.meta.get('percentile')} th percentile x {check.meta.get('margin')})")
    print(f"held-out sim renders {RENDER_SIZE[0]}x{RENDER_SIZE[1]}: n={len(sim)}, scenes {EVAL_FIRST}.., "
          f"median {np.median(sim):.2f}, max {sim.max():.2f}, falsely declined {(sim > check.threshold).sum()}")
    print(f"sim renders 320x240 (not the training size): n={len(sim_big)}, median {np.median(sim_big):.2f}, "
          f"max {sim_big.max():.2f}, declined {(sim_big > check.threshold).sum()}")
    print(f"real photos: n={len(real)}, min {real.min():.2f}, median {np.median(real):.2f}, "
          f"declined {declined.sum()} of {len(real)}")
    for p, s in sorted(zip(photos, real, strict=True), key=lambda x: x[1]):
        print(f"  {s:8.2f}  {'declined' if s > check.threshold else 'ACCEPTED'}  {p.relative_to(args.shared)}")
    print(f"AUROC (sim renders vs real photos): {auroc(sim, real):.4f}   ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
