"""Real frames with metric truth (``../shared/real``): object sizes, depths, distances and interval coverage.

Run: ``.venv/bin/python -m evals.real [--rgb-only] [--segmenter auto|region-grow|box-depth] [--gravity] [--out DIR]``

Frames with 3D boxes (KITTI 000008, nuScenes, SUN RGB-D) are reconstructed from their exact 2D boxes (the
projected truth boxes, labelled with the dataset's class) through the public ``reconstruct``:

- RGB-D (default): the frame's sensor depth (dense Kinect or sparse LiDAR; objects the sensor missed are placed
  by their class size on the measured floor);
- ``--rgb-only``: the depth is hidden and used only as truth; metric scale comes from the ``size-prior``
  backend (class sizes, floor contact, camera height and horizon; single-view metrology).

Per object: whole-object size (length/width/height, horizontal sides sorted) against the truth box, depth of
the box centre along the optical axis, and pairwise centre distances; every quantity's stated interval
(``types.INTERVAL_LEVEL``) is checked for coverage. Frames without boxes but with depth (NYU, KITTI demo) are
run through the built-in detector: each detected object's near-face depth against the sensor's median depth in
its box (in RGB-only mode that is the size-prior estimate against the sensor).
``--gravity`` passes the dataset's known up vector (``camera.json``) as ``Frame.gravity_up`` (an IMU).
Pictures (image with boxes, top-down view with intervals and the truth) go to ``--out`` (default out/real),
never into the repository: the frames are test material.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.dataset.frame_folder import load_frame_folder
from spatialvlm_core.json_file import read_json_file
from spatialvlm_core.reconstruct import reconstruct
from spatialvlm_core.size_priors import z_for
from spatialvlm_core.types import (
    INTERVAL_LEVEL,
    Detection,
    Detections,
    Frame,
    Object3D,
    Scene3D,
)

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
MIN_BOX_PX = 8.0


@dataclass
class RealFrame:
    name: str
    frame: Frame
    truth: list[dict[str, Any]]  # truth.json objects (empty without boxes)
    depth: np.ndarray | None  # sensor depth (truth), also when hidden from the frame
    gravity: tuple[float, float, float] | None


def load_real(directory: Path, rgb_only: bool = False, gravity: bool = False) -> RealFrame:
    """One frame of ``../shared/real`` as a ``Frame`` (+ its truth); clear errors naming the file."""
    full = load_frame_folder(directory)
    truth_p = directory / "truth.json"
    truth = read_json_file(truth_p, "truth file")[1]["objects"] if truth_p.exists() else []
    frame = full.model_copy(update={"depth": None if rgb_only else full.depth,
                                    "gravity_up": full.gravity_up if gravity else None})
    return RealFrame(directory.name, frame, truth, full.depth, full.gravity_up)


def truth_detections(rf: RealFrame) -> tuple[Detections, list[int]]:
    """The exact 2D boxes as detections (ids = truth index), skipping boxes too small to measure."""
    w, h = rf.frame.size
    items, kept = [], []
    for i, o in enumerate(rf.truth):
        x0, y0, x1, y1 = o["box2d"]
        if y1 - y0 < MIN_BOX_PX or x1 - x0 < 2:
            continue
        items.append(Detection(label=o["name"].replace("_", " "), score=1.0, box_xyxy=(x0, y0, x1, y1),
                               gt_id=f"t{i}"))
        kept.append(i)
    return Detections(image_id=rf.name, width=w, height=h, items=items, backend="truth-boxes"), kept


def _cam_from_scene(scene: Scene3D) -> np.ndarray:
    m = scene.camera.matrix() if scene.camera is not None else np.eye(4)
    return np.linalg.inv(m)


def centre_cam(o: Object3D, scene: Scene3D) -> np.ndarray:
    c = _cam_from_scene(scene)
    return c[:3, :3] @ np.asarray(o.obb.center) + c[:3, 3]


def sigma_along(o: Object3D, scene: Scene3D, direction_cam: np.ndarray) -> float:
    """1-sigma of the object's centre along a camera-frame direction (diagonal scene-frame sigmas)."""
    if o.center_sigma is None:
        return 0.0
    m = scene.camera.matrix() if scene.camera is not None else np.eye(4)
    d_scene = m[:3, :3] @ (direction_cam / np.linalg.norm(direction_cam))
    return float(math.sqrt(sum((d_scene[i] * o.center_sigma[i]) ** 2 for i in range(3))))


def sizes_of(o: Object3D, scene: Scene3D) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, lo, hi) as (long side, short side, height)."""
    s = np.asarray(o.obb.size, float)
    lo = np.asarray(o.size_lo if o.size_lo is not None else s, float)
    hi = np.asarray(o.size_hi if o.size_hi is not None else s, float)
    if not scene.canonical:  # camera frame: (x, y, z) = (across, height, along the view)
        s, lo, hi = s[[0, 2, 1]], lo[[0, 2, 1]], hi[[0, 2, 1]]
    if s[1] > s[0]:
        s, lo, hi = s[[1, 0, 2]], lo[[1, 0, 2]], hi[[1, 0, 2]]
    return s, lo, hi


@dataclass
class Tally:
    size_ratio: list[float] = field(default_factory=list)  # est / true per (object, axis)
    size_all: list[bool] = field(default_factory=list)  # all three axes within 25 %
    size_cover: list[bool] = field(default_factory=list)
    depth_ratio: list[float] = field(default_factory=list)
    depth_cover: list[bool] = field(default_factory=list)
    dist_ratio: list[float] = field(default_factory=list)
    dist_cover: list[bool] = field(default_factory=list)
    sensor_ratio: list[float] = field(default_factory=list)  # detector objects vs the sensor (no boxes)
    missing: int = 0
    n_objects: int = 0

    def add(self, other: Tally) -> None:
        for k, v in other.__dict__.items():
            if isinstance(v, list):
                getattr(self, k).extend(v)
        self.missing += other.missing
        self.n_objects += other.n_objects


def _share(xs: list[bool]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


def _within(ratios: list[float], tol: float) -> float:
    r = np.asarray(ratios, float)
    return float(np.mean(np.abs(r - 1) <= tol)) if len(r) else float("nan")


def _within2x(ratios: list[float]) -> float:
    r = np.asarray(ratios, float)
    return float(np.mean((r >= 0.5) & (r <= 2.0))) if len(r) else float("nan")


def score_boxes(rf: RealFrame, scene: Scene3D, kept: list[int]) -> Tally:
    t = Tally()
    z = z_for(INTERVAL_LEVEL)
    by_id = {o.id: o for o in scene.objects}
    est: dict[int, tuple[np.ndarray, Object3D]] = {}
    for i in kept:
        o = by_id.get(f"t{i}")
        tr = rf.truth[i]
        t.n_objects += 1
        if o is None:
            t.missing += 1
            continue
        ts = np.asarray(tr["size"], float)
        ts = np.array([max(ts[0], ts[1]), min(ts[0], ts[1]), ts[2]])
        s, lo, hi = sizes_of(o, scene)
        ratios = s / ts
        t.size_ratio.extend(ratios.tolist())
        t.size_all.append(bool(np.all(np.abs(ratios - 1) <= 0.25)))
        t.size_cover.extend(((lo <= ts) & (ts <= hi)).tolist())
        c = centre_cam(o, scene)
        tc = np.asarray(tr["center_cam"], float)
        t.depth_ratio.append(float(c[2] / tc[2]))
        sd = sigma_along(o, scene, np.array([0.0, 0.0, 1.0]))
        t.depth_cover.append(bool(abs(c[2] - tc[2]) <= z * sd))
        est[i] = (c, o)
    ids = sorted(est)
    for a_i, a in enumerate(ids):
        for b in ids[a_i + 1:]:
            ca, oa = est[a]
            cb, ob = est[b]
            d = float(np.linalg.norm(ca - cb))
            td = float(np.linalg.norm(np.asarray(rf.truth[a]["center_cam"]) - np.asarray(rf.truth[b]["center_cam"])))
            if td < 1e-6:
                continue
            t.dist_ratio.append(d / td)
            u = (ca - cb) / max(d, 1e-9)
            sd = math.hypot(sigma_along(oa, scene, u), sigma_along(ob, scene, u))
            t.dist_cover.append(bool(abs(d - td) <= z * sd))
    return t


def score_detector(rf: RealFrame, scene: Scene3D) -> Tally:
    """Detected objects (no truth boxes): near-face depth against the sensor's median depth in the box."""
    t = Tally()
    if rf.depth is None:
        return t
    for o in scene.objects:
        if o.box_2d is None:
            continue
        x0, y0, x1, y1 = (round(v) for v in o.box_2d)
        # Central half of the box: the object, not its background.
        cx0, cx1 = x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4
        cy0, cy1 = y0 + (y1 - y0) // 4, y1 - (y1 - y0) // 4
        patch = rf.depth[cy0:cy1 + 1, cx0:cx1 + 1]
        patch = patch[patch > 0]
        if patch.size < 10:
            continue
        vis = o.visible_aabb or o.aabb
        c = _cam_from_scene(scene)
        corners = np.array([[vis.min[0], vis.min[1], vis.min[2]], [vis.max[0], vis.max[1], vis.max[2]]])
        near = float(np.min((corners @ c[:3, :3].T + c[:3, 3])[:, 2])) if scene.canonical else float(vis.min[2])
        t.n_objects += 1
        t.sensor_ratio.append(max(near, 0.05) / float(np.median(patch)))
    return t


def picture(rf: RealFrame, scene: Scene3D, kept: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a0, a1) = plt.subplots(1, 2, figsize=(13, 5))
    a0.imshow(rf.frame.rgb)
    a0.set_axis_off()
    a0.set_title(f"{rf.name}: {len(scene.objects)} objects")
    by_id = {o.id: o for o in scene.objects}
    cmap = plt.get_cmap("tab10")
    for k, o in enumerate(scene.objects):
        col = cmap(k % 10)
        if o.box_2d is not None:
            x0, y0, x1, y1 = o.box_2d
            a0.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=col, lw=1.5))
        c = centre_cam(o, scene)
        # Top-down in the camera frame: x right, z forward; the estimate, its size interval and the truth.
        s, _lo, hi = sizes_of(o, scene)
        for ext, ls in ((s, "-"), (hi, ":")):
            a1.add_patch(plt.Rectangle((c[0] - ext[1] / 2, c[2] - ext[0] / 2), ext[1], ext[0], fill=False,
                                       color=col, ls=ls, lw=1))
        sd = sigma_along(o, scene, np.array([0.0, 0.0, 1.0])) * z_for(INTERVAL_LEVEL)
        a1.errorbar(c[0], c[2], yerr=sd, color=col, fmt="o", ms=3)
    for i in kept:
        tc = rf.truth[i]["corners_cam"]
        tcx = np.asarray(tc)[[0, 1, 2, 3, 0]]
        a1.plot(tcx[:, 0], tcx[:, 2], "k-", lw=0.8)
        if f"t{i}" not in by_id:
            a1.plot(rf.truth[i]["center_cam"][0], rf.truth[i]["center_cam"][2], "kx")
    a1.plot(0, 0, "k^")
    a1.set_aspect("equal")
    a1.grid(alpha=0.3)
    a1.set_xlabel("x (m, right)")
    a1.set_ylabel("z (m, forward)")
    a1.set_title(f"top-down: estimate (colour, dotted = {INTERVAL_LEVEL:.0%} high size), truth (black)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(root: Path, rgb_only: bool, segmenter: str, gravity: bool, out: Path | None,
        frames: list[str] | None = None) -> dict[str, Any]:
    rows = []
    boxes_total, det_total = Tally(), Tally()
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if frames and d.name not in frames:
            continue
        rf = load_real(d, rgb_only=rgb_only, gravity=gravity)
        if rf.depth is None and not rf.truth:
            continue  # no truth at all (the Unsplash photo)
        if rf.truth:
            dets, kept = truth_detections(rf)
            detector: Any = lambda f, dets=dets: dets  # noqa: E731
        else:
            kept, detector = [], "yolox-onnx"
        depth = "size-prior" if rgb_only else "sensor"
        try:
            scene = reconstruct(rf.frame, detector=detector, segmenter=segmenter, depth=depth)
        except Exception as e:  # one frame's failure is a row, not the end of the eval
            rows.append({"frame": rf.name, "error": f"{type(e).__name__}: {e}"})
            continue
        t = score_boxes(rf, scene, kept) if rf.truth else score_detector(rf, scene)
        (boxes_total if rf.truth else det_total).add(t)
        rows.append({"frame": rf.name, "canonical": scene.canonical, "objects": t.n_objects, "missing": t.missing,
                     "size25": _within(t.size_ratio, 0.25), "depth25": _within(t.depth_ratio, 0.25),
                     "depth2x": _within2x(t.depth_ratio), "dist2x": _within2x(t.dist_ratio),
                     "cover": _share(t.size_cover + t.depth_cover + t.dist_cover),
                     "sensor25": _within(t.sensor_ratio, 0.25), "sensor2x": _within2x(t.sensor_ratio)})
        if out is not None:
            picture(rf, scene, kept, out / f"{rf.name}{'_rgb' if rgb_only else ''}.png")
    b = boxes_total
    summary = {
        "objects": b.n_objects, "missing": b.missing,
        "size_within_25": _within(b.size_ratio, 0.25), "size_all_axes_within_25": _share(b.size_all),
        "depth_within_25": _within(b.depth_ratio, 0.25), "depth_within_2x": _within2x(b.depth_ratio),
        "dist_within_2x": _within2x(b.dist_ratio), "dist_pairs": len(b.dist_ratio),
        "coverage_size": _share(b.size_cover), "coverage_depth": _share(b.depth_cover),
        "coverage_dist": _share(b.dist_cover),
        "coverage_all": _share(b.size_cover + b.depth_cover + b.dist_cover),
        "detector_objects": det_total.n_objects, "detector_depth_within_25": _within(det_total.sensor_ratio, 0.25),
        "detector_depth_within_2x": _within2x(det_total.sensor_ratio),
    }
    return {"rows": rows, "summary": summary}


def _report(res: dict[str, Any], mode: str, args: argparse.Namespace) -> str:
    s = res["summary"]
    lines = [f"# Real frames: {mode}", "",
             f"Command: `python -m evals.real{' --rgb-only' if args.rgb_only else ''}"
             f"{' --gravity' if args.gravity else ''} --segmenter {args.segmenter}`; frames from `../shared/real` "
             f"(exact 2D boxes where the frame has 3D boxes, else the built-in detector); intervals at "
             f"{INTERVAL_LEVEL:.0%}.", "",
             "| frame | canonical | objects | sizes within 25 % | depth within 25 % | depth within 2x | "
             "distances within 2x | interval coverage | detector depth vs sensor within 25 % |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        if "error" in r:
            lines.append(f"| {r['frame']} | error: {r['error']} | | | | | | | |")
            continue
        lines.append(f"| {r['frame']} | {r['canonical']} | {r['objects']} | {r['size25']:.2f} | {r['depth25']:.2f} | "
                     f"{r['depth2x']:.2f} | {r['dist2x']:.2f} | {r['cover']:.2f} | {r['sensor25']:.2f} |")
    lines += ["", f"Boxed objects: {s['objects']} ({s['missing']} not reconstructed). Sizes within 25 %: "
              f"{s['size_within_25']:.1%} of (object, axis) pairs, all three axes {s['size_all_axes_within_25']:.1%}. "
              f"Centre depth within 25 % {s['depth_within_25']:.1%}, within 2x {s['depth_within_2x']:.1%}. "
              f"Centre distances within 2x {s['dist_within_2x']:.1%} of {s['dist_pairs']} pairs.", "",
              f"Interval coverage: sizes {s['coverage_size']:.1%}, depth {s['coverage_depth']:.1%}, distances "
              f"{s['coverage_dist']:.1%}, all {s['coverage_all']:.1%}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=REAL, help="folder of real frames (../shared/real)")
    ap.add_argument("--rgb-only", action="store_true", help="hide the depth: metric scale from size priors")
    ap.add_argument("--segmenter", default="auto", help="auto (what reconstruct picks: region-grow) or a name")
    ap.add_argument("--gravity", action="store_true", help="pass the dataset's up vector as Frame.gravity_up")
    ap.add_argument("--frames", nargs="*", default=None)
    ap.add_argument("--out", type=Path, default=Path("out/real"))
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--report", type=Path, default=None, help="also write this markdown report (tables only)")
    args = ap.parse_args(argv)
    if not args.root.is_dir():
        print(f"real frames not found at {args.root} (expected ../shared/real beside the checkout)", file=sys.stderr)
        return 2
    res = run(args.root, args.rgb_only, args.segmenter, args.gravity, args.out, args.frames)
    mode = "RGB only (size-prior depth)" if args.rgb_only else f"RGB-D (sensor depth, {args.segmenter})"
    print(f"# real frames, {mode}{', known gravity' if args.gravity else ''}; intervals at {INTERVAL_LEVEL:.0%}")
    print(f"{'frame':28s} {'canon':>5s} {'objs':>4s} {'miss':>4s} {'size25':>7s} {'dep25':>6s} {'dep2x':>6s} "
          f"{'dist2x':>6s} {'cover':>6s} {'sens25':>6s} {'sens2x':>6s}")
    for r in res["rows"]:
        if "error" in r:
            print(f"{r['frame']:28s} ERROR {r['error']}")
            continue
        print(f"{r['frame']:28s} {r['canonical']!s:>5s} {r['objects']:4d} {r['missing']:4d} {r['size25']:7.2f} "
              f"{r['depth25']:6.2f} {r['depth2x']:6.2f} {r['dist2x']:6.2f} {r['cover']:6.2f} {r['sensor25']:6.2f} "
              f"{r['sensor2x']:6.2f}")
    s = res["summary"]
    print(f"boxed objects {s['objects']} ({s['missing']} not reconstructed): sizes within 25% {s['size_within_25']:.1%} "
          f"(all three axes {s['size_all_axes_within_25']:.1%}); depth within 25% {s['depth_within_25']:.1%}, "
          f"within 2x {s['depth_within_2x']:.1%}; centre distances within 2x {s['dist_within_2x']:.1%} "
          f"({s['dist_pairs']} pairs)")
    print(f"interval coverage at {INTERVAL_LEVEL:.0%}: sizes {s['coverage_size']:.1%}, depth {s['coverage_depth']:.1%}, "
          f"distances {s['coverage_dist']:.1%}, all {s['coverage_all']:.1%}")
    print(f"detector objects on frames without boxes: {s['detector_objects']}, near-face depth vs sensor within 25% "
          f"{s['detector_depth_within_25']:.1%}, within 2x {s['detector_depth_within_2x']:.1%}")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(_report(res, mode, args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
