"""Ceiling of point grounding: how well the closest cells of two objects on an exact G x G point map measure
their footprint gap and their closest distance.

For held-out sim scenes (seeds as ``make_model``'s held-out split), every pixel's exact 3D point in the heading
frame (``point_grounding.heading_frame_points``) and the exact instance mask give, per cell of a G x G split, the
median point of the object covering at least half of it. ``point_grounding.point_pair_features`` (the model's own
code) then measures each pair of objects; the truth is ``geometry.footprint_gap`` / ``geometry.box_distance``
of the exact boxes (pairs with a truth of at least 20 cm). Visible cells see an object's near surfaces only, so
the estimate runs long: the table gives its bias (median log ratio) and the spread once that is removed, which a
learned head can absorb. This bounds what the model can reach with a perfect point map and perfect grounding.

With ``--model CKPT`` (a point-grounding checkpoint, preset ``tiny-relation-points``) it also splits the trained
model's error on the held-out gap and closest-distance rows: its own membership and points, its membership with
the exact points, the exact membership with its points, and both exact.
Run: ``.venv/bin/python -m evals.point_ceiling [--scenes 60] [--grids 12 24 48] [--model CKPT]``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
from pathlib import Path
from typing import Any

import numpy as np


def exact_cells(index: int, g: int) -> tuple[Any, np.ndarray, np.ndarray] | None:
    """The held-out scene ``index`` rendered again: (its SimScene, the g x g cells' exact points and owner mask
    ids, as ``point_grounding.cell_owners`` gives them to the training targets); None when the sim rejects the
    seed."""
    from spatialvlm_core.dataset.splits import scene_seeds
    from spatialvlm_core.make_model import EVAL_SEED
    from spatialvlm_core.model.point_grounding import cell_owners, heading_frame_points
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene

    rooms = sorted(ROOMS)
    try:
        sim = generate_scene(scene_seeds(EVAL_SEED, index + 1)[index], SimConfig(width=128, height=96,
                                                                      room=rooms[index % len(rooms)]))
    except ValueError:
        return None
    k = sim.intrinsics
    pts = heading_frame_points(sim.depth, k.fx, k.fy, k.cx, k.cy, sim.pose.matrix())
    owner, xyz = cell_owners(np.asarray(sim.instances), pts, g)
    return sim, xyz.astype(np.float64), owner


def _measure(a: Any, b: Any, xyz: Any, gap: bool) -> float:
    """Footprint gap (``gap``) or closest distance of two objects' cells, by the model's own feature code."""
    from spatialvlm_core.model.composed.points import EPS_M, point_pair_features

    return math.exp(float(point_pair_features(a[None], b[None], xyz[None])[0, 10 if gap else 11])) - EPS_M


def decompose(model_dir: Path, max_rows: int | None = None) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Per setting and quantity, (estimate, truth) over the held-out gap / min_distance rows (see the module
    docstring)."""
    import torch

    from spatialvlm_core.dataset.reader import load_qa_dataset
    from spatialvlm_core.make_model import DEFAULT_CACHE, sim_splits
    from spatialvlm_core.model import load_checkpoint
    from spatialvlm_core.model.base import to_pil

    model = load_checkpoint(model_dir).eval()
    g = model.preset.vision.fine_grid
    rows = [e for e in load_qa_dataset(sim_splits(DEFAULT_CACHE, 5000, 150)[1])
            if e.qa is not None and e.qa.qtype in ("gap", "min_distance") and len(e.qa.object_ids) == 2]
    rows = rows[:max_rows] if max_rows else rows
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    scenes: dict[int, Any] = {}
    for s in range(0, len(rows), 32):
        chunk = rows[s:s + 32]
        first, last, pred = model.point_members([to_pil(e.image) for e in chunk], [e.question for e in chunk])
        for i, e in enumerate(chunk):
            idx = int(Path(str(e.image)).stem)
            if idx not in scenes:
                scenes[idx] = exact_cells(idx, g)
            if scenes[idx] is None:
                continue
            sim, xyz, owner = scenes[idx]
            mask = {o.id: o.mask_id for o in sim.scene.objects}
            if any(o not in mask for o in e.qa.object_ids):
                continue
            ea, eb = (torch.from_numpy(owner == mask[o]).to(pred.dtype) for o in e.qa.object_ids)
            exact = torch.from_numpy(xyz).to(pred.dtype)
            gap = e.qa.qtype == "gap"
            q = "footprint gap" if gap else "closest distance"
            for name, a, b, pts in (("model membership, model points", first[i], last[i], pred[i]),
                                    ("model membership, exact points", first[i], last[i], exact),
                                    ("exact membership, model points", ea, eb, pred[i]),
                                    ("exact membership, exact points", ea, eb, exact)):
                out.setdefault(name, {}).setdefault(q, []).append((_measure(a, b, pts, gap), float(e.qa.truth)))
    return out


def scene_pairs(index: int, grids: list[int]) -> dict[int, list[tuple[float, float, float, float]]]:
    """Per grid: (estimated gap, true gap, estimated closest distance, true closest distance) per object pair."""
    import torch

    from spatialvlm_core import geometry

    out: dict[int, list[tuple[float, float, float, float]]] = {}
    for g in grids:
        cells = exact_cells(index, g)
        if cells is None:
            return {}
        sim, xyz, owner = cells
        t_xyz = torch.from_numpy(xyz)
        objs = {o.mask_id: o for o in sim.scene.objects if o.mask_id is not None}
        rows = []
        for a, b in itertools.combinations(objs.values(), 2):
            ma, mb = (torch.from_numpy(owner == o.mask_id).double() for o in (a, b))
            if ma.sum() == 0 or mb.sum() == 0:
                continue
            rows.append((_measure(ma, mb, t_xyz, True), geometry.footprint_gap(a, b),
                         _measure(ma, mb, t_xyz, False), geometry.box_distance(a, b)))
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
    ap.add_argument("--model", type=Path, help="also split this point-grounding checkpoint's error (held-out rows)")
    ap.add_argument("--max-rows", type=int, default=None, help="held-out rows for --model (default: all)")
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
    if args.model is not None:
        print(f"\n# Error split of {args.model} on the held-out gap / min_distance rows "
              "(estimate: closest cells, no learned head)\n")
        print("| setting | quantity | rows | bias | within 10% | debiased within 10% | debiased within 20% | "
              "debiased median abs log |")
        print("|---|---|---|---|---|---|---|---|")
        for name, by_q in decompose(args.model, args.max_rows).items():
            for q, pairs in by_q.items():
                s = summary(pairs)
                print(f"| {name} | {q} | {s['n']} | {s['bias']:+.3f} | {s['within_90_110']:.1%} | "
                      f"{s['debiased_within_90_110']:.1%} | {s['debiased_within_80_120']:.1%} | "
                      f"{s['debiased_median_abs_log']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
