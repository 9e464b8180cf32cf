"""Synthetic scene throughput: frames/s INCLUDING layout sampling, MJCF build/compile and rendering.

    .venv/bin/python benchmarks/sim_render.py [--frames 30]
"""

from __future__ import annotations

import argparse
import time

from spatialvlm_core.sim import SimConfig, generate_scene, get_renderer


def bench(width: int, height: int, frames: int) -> float:
    get_renderer(width, height)  # GL context creation is one-off per size; keep it out of the rate
    generate_scene(10_000, SimConfig(width=width, height=height))
    t0 = time.perf_counter()
    for i in range(frames):
        generate_scene(i, SimConfig(width=width, height=height, room=("living_room", "bedroom", "kitchen", "office")[i % 4]))
    return frames / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args()
    for w, h in ((320, 240), (640, 480)):
        print(f"{w}x{h}: {bench(w, h, args.frames):.1f} frames/s (scene construction + rgb/depth/segmentation)")


if __name__ == "__main__":
    main()
