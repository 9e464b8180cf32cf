"""Size-prior reconstruction speed: a 640x480 photo with no depth, after detection, single core.

Run: ``.venv/bin/python benchmarks/size_prior.py [--repeats 20] [--objects 8]``. Aim: median <= 100 ms.
Times ``reconstruct(frame, detector=<fixed detections>, depth="size-prior")`` (metrology, the depth map, the
floor search on it, placement and naming), i.e. everything after the detector. The detections are the exact
2D boxes of standing objects in an analytic ray-cast room (``tests/test_lifting_scenes.py``), labelled with
furniture classes, so the run is deterministic and needs no weights. CPU time is printed too because wall time
suffers on a shared machine.
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

from spatialvlm_core.reconstruct import reconstruct  # noqa: E402
from spatialvlm_core.types import Detections  # noqa: E402

LABELS = ("chair", "table", "sofa", "cabinet", "night stand", "bed", "bookshelf", "stool", "dresser", "desk")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--objects", type=int, default=8)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sc = room_scene(pitch_deg=15, roll_deg=0, n_boxes=args.objects, width=640, height=480)
    frame = sc.frame().model_copy(update={"depth": None})  # a photo: no depth
    dets = sc.detections()
    boxes = Detections(image_id=dets.image_id, width=dets.width, height=dets.height, backend="fixed",
                       items=[d.model_copy(update={"mask": None, "label": LABELS[i % len(LABELS)]})
                              for i, d in enumerate(dets.items)])

    def run() -> object:
        return reconstruct(frame, detector=lambda f: boxes, depth="size-prior")

    run()  # warm-up (imports, caches)
    wall, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        scene = run()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"size-prior reconstruct 640x480 (no depth), {len(boxes)} detections, {len(scene.objects)} objects "
          f"placed, 1 core, {args.repeats} runs")
    print(f"  wall  median {1e3 * statistics.median(wall):6.1f} ms   min {1e3 * min(wall):6.1f} ms")
    print(f"  cpu   median {1e3 * statistics.median(cpu):6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
