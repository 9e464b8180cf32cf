"""Milliseconds per box of the weight-free segmenters (``region-grow``, ``box-depth``) on one core.

Run: ``.venv/bin/python -m benchmarks.segment_speed [--scenes 6] [--size 640x480]``

Sim rooms at the given size with exact depth (dense path), boxes from the exact masks; then the real sparse
frames in ``../shared/real`` when present (sparse path). Prints mean, median and p90 ms per box.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says

from spatialvlm_core.perception import create_segmenter
from spatialvlm_core.perception.detect_gt import GroundTruthDetector
from spatialvlm_core.types import Detection, Detections, Frame

NAMES = ("region-grow", "box-depth")


def _time_boxes(seg: object, frame: Frame, dets: Detections, repeat: int = 2) -> list[float]:
    """ms per box: each box segmented alone, best of ``repeat``."""
    out = []
    for d in dets.items:
        one = dets.model_copy(update={"items": [d]})
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            seg.segment(frame, one)  # type: ignore[attr-defined]
            best = min(best, time.perf_counter() - t0)
        out.append(1000 * best)
    return out


def _line(label: str, ms: list[float]) -> str:
    a = np.asarray(ms)
    return (f"{label:38s} boxes {len(a):4d}  mean {a.mean():6.1f}  median {np.median(a):6.1f}  "
            f"p90 {np.percentile(a, 90):6.1f} ms/box")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--real", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "real")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    segs = {n: create_segmenter(n) for n in NAMES}
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene

    rooms = sorted(ROOMS)
    frames = [generate_scene(10000 + i, SimConfig(room=rooms[i % len(rooms)], width=w, height=h)).frame()
              for i in range(args.scenes)]
    for name, seg in segs.items():
        seg.segment(frames[0], GroundTruthDetector(min_pixels=50).detect(frames[0]))  # warm-up (imports)
        ms: list[float] = []
        for f in frames:
            dets = GroundTruthDetector(min_pixels=50).detect(f)
            dets = dets.model_copy(update={"items": [d.model_copy(update={"mask": None}) for d in dets.items]})
            ms += _time_boxes(seg, f, dets)
        print(_line(f"{name} sim {w}x{h} dense", ms))
    if args.real.is_dir():
        from evals.segmentation import load_real

        real = list(load_real(args.real))
        for name, seg in segs.items():
            ms = []
            for _, frame, objects in real:
                fh, fw = frame.rgb.shape[:2]
                items = [Detection(label=o["name"], score=1.0, box_xyxy=(o["box2d"][0], o["box2d"][1],
                                                                         o["box2d"][2] + 1, o["box2d"][3] + 1))
                         for o in objects if o["depth_px_in_box"] >= 10]
                if items:
                    ms += _time_boxes(seg, frame, Detections(image_id=frame.image_id, width=fw, height=fh, items=items))
            print(_line(f"{name} real sparse (SUN/KITTI/nuScenes)", ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
