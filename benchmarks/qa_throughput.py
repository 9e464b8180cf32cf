"""QA pairs per second of ``generate_qa`` from ready ``Scene3D``s (single process, one core).

    .venv/bin/python benchmarks/qa_throughput.py [--scenes 200] [--per-scene 30] [--objects 8]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from spatialvlm_core.questions import QAConfig, generate_qa
from spatialvlm_core.questions.testing import random_scene


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenes", type=int, default=200)
    ap.add_argument("--per-scene", type=int, default=30)
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--label-noise", type=float, default=0.0)
    args = ap.parse_args()

    rng = random.Random(0)
    scenes = [random_scene(rng, n_objects=args.objects, scene_id=f"bench{i}", canonical=i % 5 != 0)
              for i in range(args.scenes)]
    config = QAConfig(label_noise=args.label_noise)
    generate_qa(scenes[0], n=args.per_scene, config=config)  # warm caches / imports

    t0 = time.perf_counter()
    qas = [q for i, s in enumerate(scenes) for q in generate_qa(s, n=args.per_scene, seed=i, config=config)]
    dt = time.perf_counter() - t0

    cats = Counter(q.category for q in qas)
    preds = [q for q in qas if q.kind == "predicate"]
    print(f"scenes: {len(scenes)} ({args.objects} objects, 80% canonical), questions/scene asked: {args.per_scene}")
    print(f"QA pairs: {len(qas)} in {dt:.2f} s -> {len(qas) / dt:,.0f} QA pairs/s (1 process)")
    print(f"qualitative share: {cats['qualitative'] / len(qas):.3f}; "
          f"predicates true: {sum(bool(q.truth_bool) for q in preds) / max(1, len(preds)):.3f}; "
          f"types used: {len({q.qtype for q in qas})}")


if __name__ == "__main__":
    main()
