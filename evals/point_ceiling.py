"""Ceiling of point grounding: how well the closest cells of two objects on an exact G x G point map measure
their footprint gap and their closest distance.

For held-out sim scenes (seeds as ``make_model``'s held-out split), every pixel's exact 3D point in the heading
frame (``point_grounding.heading_frame_points``) and the exact instance mask give, per cell of a G x G split, the
median point of the object covering at least half of it. ``point_grounding.point_pair_features`` (the model's own
code) then measures each pair of objects; the truth is ``geometry.footprint_gap`` / ``geometry.box_distance``
of the exact boxes (pairs with a truth of at least 20 cm). Visible cells see an object's near surfaces only, so
the estimate runs long: the table gives its bias (median log ratio) and the spread once that is removed, which a
learned head can absorb. This bounds what the model can reach with a perfect point map and perfect grounding.
Run: ``.venv/bin/python -m evals.point_ceiling [--scenes 60] [--grids 12 24 48]``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os

import numpy as np


def scene_pairs(index: int, grids: list[int]) -> dict[int, list[tuple[float, float, float, float]]]:
    """Per grid: (estimated gap, true gap, estimated closest distance, true closest distance) per object pair."""
    import torch

    from spatialvlm_core import geometry
    from spatialvlm_core.make_model import EVAL_SEED
    from spatialvlm_core.model.dense_targets import _cells
    from spatialvlm_core.model.point_grounding import EPS_M, heading_frame_points, point_pair_features
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene

    rooms = sorted(ROOMS)
    try:
        sim = generate_scene(EVAL_SEED * 1_000_003 + index, SimConfig(width=128, height=96,
                                                                      room=rooms[index % len(rooms)]))
    except ValueError:
        return {}
    k = sim.intrinsics
    pts = heading_frame_points(sim.depth, k.fx, k.fy, k.cx, k.cy, sim.pose.matrix())
    inst = np.asarray(sim.instances)
    objs = {o.mask_id: o for o in sim.scene.objects if o.mask_id is not None}
    out: dict[int, list[tuple[float, float, float, float]]] = {}
    for g in grids:
        xyz = np.zeros((g * g, 3))
        owner = np.zeros(g * g, dtype=np.int64)
        for r, rs in enumerate(_cells(inst.shape[0], g)):
            for c, cs in enumerate(_cells(inst.shape[1], g)):
                ids = inst[rs, cs].ravel()
                vals, counts = np.unique(ids, return_counts=True)
                top = int(vals[np.argmax(counts)])
                if top > 0 and counts.max() >= 0.5 * ids.size:
                    owner[r * g + c] = top
                    xyz[r * g + c] = np.median(pts[rs, cs].reshape(-1, 3)[ids == top], 0)
        t_xyz = torch.from_numpy(xyz)[None]
        rows = []
        for a, b in itertools.combinations(objs.values(), 2):
            ma, mb = (torch.from_numpy(owner == o.mask_id).double()[None] for o in (a, b))
            if ma.sum() == 0 or mb.sum() == 0:
                continue
            f = point_pair_features(ma, mb, t_xyz)[0]
            est_gap, est_min = (math.exp(float(f[i])) - EPS_M for i in (10, 11))
            rows.append((est_gap, geometry.footprint_gap(a, b), est_min, geometry.box_distance(a, b)))
        out[g] = rows
    return out


def summary(pairs: list[tuple[float, float]]) -> dict[str, float]:
    a = np.array([p for p in pairs if p[1] >= 0.2])
    lr = np.log(np.maximum(a[:, 0], 1e-3) / a[:, 1])
    bias = float(np.median(lr))
    d = lr - bias
    return {"n": len(a), "bias": bias, "within_90_110": float(np.mean(np.abs(np.exp(lr) - 1) <= 0.1)),
            "debiased_within_90_110": float(np.mean(np.abs(np.exp(d) - 1) <= 0.1)),
            "debiased_within_80_120": float(np.mean(np.abs(np.exp(d) - 1) <= 0.2)),
            "debiased_median_abs_log": float(np.median(np.abs(d)))}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=60)
    ap.add_argument("--grids", type=int, nargs="+", default=[12, 24, 48])
    args = ap.parse_args(argv)
    per: dict[int, list[tuple[float, float, float, float]]] = {g: [] for g in args.grids}
    for i in range(args.scenes):
        for g, rows in scene_pairs(i, args.grids).items():
            per[g] += rows
    print(f"# Point-map ceiling: exact points and instance masks, {args.scenes} held-out sim scenes\n")
    print("| grid | quantity | pairs | bias (median log ratio) | within 10% | debiased within 10% | "
          "debiased within 20% | debiased median abs log |")
    print("|---|---|---|---|---|---|---|---|")
    for g in args.grids:
        for name, pairs in (("footprint gap", [(r[0], r[1]) for r in per[g]]),
                            ("closest distance", [(r[2], r[3]) for r in per[g]])):
            s = summary(pairs)
            print(f"| {g}x{g} | {name} | {s['n']} | {s['bias']:+.3f} | {s['within_90_110']:.1%} | "
                  f"{s['debiased_within_90_110']:.1%} | {s['debiased_within_80_120']:.1%} | "
                  f"{s['debiased_median_abs_log']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
