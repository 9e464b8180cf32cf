"""Weight-free box segmenters against exact truth: ``region-grow`` vs ``box-depth`` (same boxes, same depth).

Run: ``.venv/bin/python -m evals.segmentation [--scenes 24] [--real ../shared/real] [--tol 0.1]``

- sim (``spatialvlm_core.sim``, held-out seeds from 10000, rooms in turn, plus the end-on/occluded presets of
  ``spatialvlm_core.sim.presets``): boxes from the exact instance masks; per object the mask IoU with the exact
  mask, and the share of mask pixels whose 3D point (sensor depth, true pose) lies inside the object's true box
  (grown by 2 cm: surface points sit on its faces).
- real (``/work/shared/real`` frames with 3D boxes: SUN RGB-D, KITTI, nuScenes): boxes = ``truth.json`` box2d;
  per object with depth points in its box, precision = share of the mask's depth points inside the true 3D box
  (grown by ``--tol``: LiDAR parallax and timing put true surface points 10-30 cm off), recall = share of the
  box's depth points (inside box2d and the grown 3D box) that the mask got. Truth is not exhaustive (unlabelled
  furniture next to a labelled object counts as outside).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.dataset.frame_folder import load_frame_folder
from spatialvlm_core.perception import create_segmenter
from spatialvlm_core.perception.detect_gt import GroundTruthDetector
from spatialvlm_core.types import CameraIntrinsics, Detection, Detections, Frame

HELD_OUT_SEED = 10000
SEGMENTERS = ("region-grow", "box-depth")
DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "real"


@dataclass
class Tally:
    """Per-object figures of one segmenter on one group of frames."""

    a: list[float] = field(default_factory=list)  # IoU (sim) or precision (real)
    b: list[float] = field(default_factory=list)  # inside-box share (sim) or recall (real)
    seconds: float = 0.0
    boxes: int = 0

    def row(self) -> tuple[float, float, float, float]:
        ms = 1000 * self.seconds / max(self.boxes, 1)
        med = statistics.median(self.a) if self.a else float("nan")
        return float(np.mean(self.a)) if self.a else float("nan"), med, float(np.mean(self.b)) if self.b else float("nan"), ms


def inside_obb(pts: np.ndarray, center: np.ndarray, axes: np.ndarray, half: np.ndarray, tol: float) -> np.ndarray:
    """Which points (N, 3) lie in the oriented box (rows of ``axes`` = unit box axes) grown by ``tol``."""
    local = (pts - center) @ axes.T
    return np.all(np.abs(local) <= half + tol, axis=1)


def backproject(depth: np.ndarray, k: CameraIntrinsics, mask: np.ndarray) -> np.ndarray:
    v, u = np.nonzero(mask)
    z = depth[v, u].astype(np.float64)
    return np.stack([(u - k.cx) / k.fx * z, (v - k.cy) / k.fy * z, z], axis=1)


# --------------------------------------------------------------------------- sim


def sim_frames(n: int, start: int = HELD_OUT_SEED, presets: bool = True) -> Iterator[tuple[str, Frame, np.ndarray]]:
    """(group, frame, world_from_camera): random rooms, then the preset end-on/occluded views."""
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene

    rooms = sorted(ROOMS)
    for i, seed in enumerate(range(start, start + n)):
        sim = generate_scene(seed, SimConfig(room=rooms[i % len(rooms)]))
        yield "sim rooms", sim.frame(), sim.pose.matrix()
    if presets:
        from spatialvlm_core.sim.presets import PRESETS, preset_scene

        for name in PRESETS:
            for seed in range(start, start + max(2, n // 6)):
                try:
                    sim = preset_scene(name, seed)
                except ValueError:
                    continue  # a named object hidden from this seed's camera
                yield "sim end-on/occluded", sim.frame(), sim.pose.matrix()


def eval_sim_frame(frame: Frame, world_from_camera: np.ndarray, segs: dict[str, Any], tallies: dict[str, Tally],
                   tol: float = 0.02) -> None:
    gt = frame.ground_truth
    assert gt is not None and frame.depth is not None and frame.intrinsics is not None
    dets = GroundTruthDetector(min_pixels=50).detect(frame)
    boxes = dets.model_copy(update={"items": [d.model_copy(update={"mask": None}) for d in dets.items]})
    objs = {o.id: o for o in gt.scene.objects}
    rot, trans = world_from_camera[:3, :3], world_from_camera[:3, 3]
    for name, seg in segs.items():
        t0 = time.perf_counter()
        out = seg.segment(frame, boxes)
        tallies[name].seconds += time.perf_counter() - t0
        tallies[name].boxes += len(boxes.items)
        for g, d in zip(dets.items, out.items, strict=True):
            assert g.mask is not None and d.mask is not None and g.gt_id is not None
            union = (g.mask | d.mask).sum()
            tallies[name].a.append(float((g.mask & d.mask).sum() / max(union, 1)))
            m = d.mask & (frame.depth > 0)
            if not m.any():
                tallies[name].b.append(0.0)
                continue
            pts = backproject(frame.depth, frame.intrinsics, m) @ rot.T + trans
            ob = objs[g.gt_id].obb
            c, s = np.cos(ob.yaw), np.sin(ob.yaw)
            axes = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
            ins = inside_obb(pts, np.asarray(ob.center), axes, np.asarray(ob.size) / 2, tol)
            tallies[name].b.append(float(ins.mean()))


# --------------------------------------------------------------------------- real


def load_real(root: Path) -> Iterator[tuple[str, Frame, list[dict[str, Any]]]]:
    """(dataset, frame, truth objects) for the frames with 3D boxes and depth."""
    index = json.loads((root / "index.json").read_text())
    for entry in index["frames"]:
        if not entry.get("has_boxes") or entry.get("has_depth") in (None, "none", False):
            continue
        d = root / entry["frame"]
        frame = load_frame_folder(d)
        truth = json.loads((d / "truth.json").read_text())
        yield entry["dataset"], frame, truth["objects"]


def box_axes(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre, unit axes (rows: length, width, up) and half-sizes from the README's corner order."""
    c = corners.mean(axis=0)
    ex, ey, ez = corners[0] - corners[3], corners[0] - corners[1], corners[4] - corners[0]
    lens = np.array([np.linalg.norm(ex), np.linalg.norm(ey), np.linalg.norm(ez)])
    return c, np.stack([ex, ey, ez]) / np.maximum(lens[:, None], 1e-9), lens / 2


def eval_real_frame(frame: Frame, objects: list[dict[str, Any]], segs: dict[str, Any], tallies: dict[str, Tally],
                    tol: float, min_points: int = 10) -> int:
    """Adds one precision/recall pair per usable object; returns how many objects were used."""
    assert frame.depth is not None and frame.intrinsics is not None
    h, w = frame.depth.shape
    valid = frame.depth > 0
    used, items, refs = 0, [], []
    for o in objects:
        x0, y0, x1, y1 = o["box2d"]
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        box = np.zeros((h, w), dtype=bool)
        box[int(np.floor(y0)) : int(np.ceil(y1)) + 1, int(np.floor(x0)) : int(np.ceil(x1)) + 1] = True
        c, axes, half = box_axes(np.asarray(o["corners_cam"], dtype=np.float64))
        cand = box & valid
        ins = np.zeros((h, w), dtype=bool)
        ins[cand] = inside_obb(backproject(frame.depth, frame.intrinsics, cand), c, axes, half, tol)
        if ins.sum() < min_points:
            continue
        items.append(Detection(label=o["name"], score=1.0, box_xyxy=(x0, y0, x1 + 1, y1 + 1)))
        refs.append(ins)
        used += 1
    if not items:
        return 0
    dets = Detections(image_id=frame.image_id, width=w, height=h, items=items, backend="truth")
    for name, seg in segs.items():
        t0 = time.perf_counter()
        out = seg.segment(frame, dets)
        tallies[name].seconds += time.perf_counter() - t0
        tallies[name].boxes += len(items)
        for d, ins in zip(out.items, refs, strict=True):
            assert d.mask is not None
            m = d.mask & valid  # the mask never leaves its box, so ``ins`` covers all of its points
            tallies[name].a.append(float((m & ins).sum() / max(m.sum(), 1)) if m.any() else 0.0)
            tallies[name].b.append(float((m & ins).sum() / max(ins.sum(), 1)))
    return used


# --------------------------------------------------------------------------- main


def _table(title: str, a: str, b: str, groups: dict[str, dict[str, Tally]]) -> list[str]:
    lines = [title, "", f"| frames | segmenter | objects | mean {a} | median {a} | mean {b} | ms / box |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for g, tallies in groups.items():
        for name, t in tallies.items():
            ma, med, mb, ms = t.row()
            lines.append(f"| {g} | {name} | {len(t.a)} | {ma:.3f} | {med:.3f} | {mb:.3f} | {ms:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=24, help="random sim rooms (0: none)")
    ap.add_argument("--no-presets", action="store_true", help="skip the end-on/occluded sim presets")
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--tol", type=float, default=0.1, help="metres the true 3D box is grown by on real frames")
    ap.add_argument("--report", default=None, help="also write a markdown report here")
    args = ap.parse_args(argv)
    segs = {n: create_segmenter(n) for n in SEGMENTERS}
    out: list[str] = []
    if args.scenes > 0:
        sim_groups: dict[str, dict[str, Tally]] = {}
        for group, frame, pose in sim_frames(args.scenes, presets=not args.no_presets):
            tallies = sim_groups.setdefault(group, {n: Tally() for n in segs})
            eval_sim_frame(frame, pose, segs, tallies)
        out += _table(f"Sim ({args.scenes} rooms from seed {HELD_OUT_SEED}; GT boxes, exact depth)", "IoU",
                      "inside-box share", sim_groups)
    if args.real.is_dir():
        real_groups: dict[str, dict[str, Tally]] = {}
        for dataset, frame, objects in load_real(args.real):
            tallies = real_groups.setdefault(dataset, {n: Tally() for n in segs})
            eval_real_frame(frame, objects, segs, tallies, args.tol)
        out += ["", *_table(f"Real ({args.real}; truth box2d, sensor depth, 3D box grown by {args.tol:g} m)",
                            "precision", "recall", real_groups)]
    else:
        out += ["", f"(real frames skipped: {args.real} not found)"]
    print("\n".join(out))
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
