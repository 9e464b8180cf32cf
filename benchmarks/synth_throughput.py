"""Synthesis throughput: QA pairs/s from ready scenes, and end-to-end images/s per runner.

    .venv/bin/python benchmarks/synth_throughput.py [--scenes 96] [--width 256 --height 192] [--no-ray]

End-to-end runs use synthetic MuJoCo scenes with ground-truth perception (detector "ground-truth", depth
"sensor"), so the figures measure the pipeline (read, lift, name, ask, write), not a neural network.
Worker/actor start-up is included in the local and Ray timings (it is part of a real run); Ray's own cluster
start is not (``ray.init`` happens before the clock starts).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def render_scenes(root: Path, n: int, width: int, height: int, seed: int = 1000) -> list[Path]:
    from spatialvlm_core import sim

    dirs = []
    for i in range(n):
        d = root / f"scene_{i:05d}"
        sim.save_scene(sim.generate_scene(seed + i, sim.SimConfig(width=width, height=height)), d)
        dirs.append(d)
    return dirs


def qa_rate(scene_dirs: list[Path], seconds: float) -> tuple[float, int]:
    """QA pairs/s of ``generate_qa`` alone, on scenes reconstructed once beforehand."""
    from spatialvlm_core.dataset.sources import discover, read_frame
    from spatialvlm_core.pipeline import PipelineConfig, default_stages

    cfg = PipelineConfig()
    stages = default_stages(cfg)
    recs = discover([str(d) for d in scene_dirs]).records
    scenes = [stages.reconstruct(read_frame(r, require_depth=True)) for r in recs]
    n_qa, k, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n_qa += len(stages.ask(scenes[k % len(scenes)], k))
        k += 1
    return n_qa / (time.perf_counter() - t0), k


def end_to_end(src: Path, out: Path, runner: str, workers: int) -> tuple[float, float, int]:
    from spatialvlm_core.pipeline import PipelineConfig, RunOptions, synth_dataset

    cfg = PipelineConfig(shard_size=8)
    t0 = time.perf_counter()
    m = synth_dataset(src, out, cfg, options=RunOptions(runner=runner, workers=workers, progress=False))
    wall = time.perf_counter() - t0
    if not m.complete:
        raise RuntimeError(f"{runner} x{workers} run did not complete")
    return m.counts.images_selected / wall, m.counts.qa_pairs / wall, m.counts.qa_pairs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=480)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--qa-seconds", type=float, default=3.0)
    p.add_argument("--no-ray", action="store_true")
    args = p.parse_args(argv)
    try:
        from spatialvlm_core import sim  # noqa: F401
    except ImportError as e:
        print(f"synth_throughput: the MuJoCo sim is not available ({e})", file=sys.stderr)
        return 1

    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at start"
          + (" (busy: multi-worker figures understate the speed-up)" if load > 0.5 * (os.cpu_count() or 1) else ""))
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        dirs = render_scenes(root / "src", args.scenes, args.width, args.height)
        print(f"rendered {len(dirs)} scenes {args.width}x{args.height} in {time.perf_counter() - t0:.1f}s")

        rate, calls = qa_rate(dirs, args.qa_seconds)
        print(f"generate_qa from ready Scene3D: {rate:,.0f} QA pairs/s ({calls} calls)")

        results: dict[str, float] = {}
        runs = [("local", 1), ("local", 2)] + ([] if args.no_ray else [("ray", 2)])
        if not args.no_ray:
            from spatialvlm_core.pipeline.ray_runner import ensure_ray

            ensure_ray(2)
        for runner, workers in runs:
            ips, qps, n_qa = end_to_end(root / "src", root / f"out-{runner}-{workers}", runner, workers)
            results[f"{runner}x{workers}"] = ips
            print(f"end-to-end {runner:5s} {workers} worker(s): {ips:6.2f} images/s, {qps:8.1f} QA/s ({n_qa} QA)")
        print(f"local speed-up 1 -> 2 workers: {results['localx2'] / results['localx1']:.2f}x")
        if "rayx2" in results:
            print(f"ray 2 actors vs local 1 worker: {results['rayx2'] / results['localx1']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
