"""Lifting speed: one 640x480 frame with 10 objects (exact depth + masks), single core.

Run: ``.venv/bin/python benchmarks/lifting.py [--repeats 20] [--width 640 --height 480 --objects 10]``.
Bar: median wall time <= 50 ms. The scene is the analytic ray-cast room of ``tests/test_lifting_scenes.py``
(deterministic, no MuJoCo); CPU time is printed too because wall time suffers on a shared machine.
"""

from __future__ import annotations

import os

# One core: BLAS and friends must not fan out (set before numpy is imported).
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the analytic scene lives with the tests

from test_lifting_scenes import room_scene  # noqa: E402

from spatialvlm_core.lifting import lift  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--objects", type=int, default=10)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sc = room_scene(pitch_deg=25, roll_deg=5, n_boxes=args.objects, width=args.width, height=args.height)
    frame, dets = sc.frame(), sc.detections()
    lift(frame, dets)  # warm-up (imports, caches)
    wall, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        scene = lift(frame, dets)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    px = sum(int(d.mask.sum()) for d in dets.items)
    print(f"lift {args.width}x{args.height}, {len(dets)} detections ({px} mask pixels), "
          f"{len(scene.objects)} objects lifted, 1 core, {args.repeats} runs")
    print(f"  wall  median {1e3 * statistics.median(wall):6.1f} ms   min {1e3 * min(wall):6.1f} ms")
    print(f"  cpu   median {1e3 * statistics.median(cpu):6.1f} ms   min {1e3 * min(cpu):6.1f} ms")
    print(f"  bar 50 ms: {'PASS' if statistics.median(wall) <= 0.05 else 'FAIL'} (median wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
