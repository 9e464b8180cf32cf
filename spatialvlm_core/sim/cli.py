"""``spatialvlm sim``: render synthetic scenes to folders, or ``spatialvlm sim show DIR`` to look at one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from spatialvlm_core.atomic import remove_stale_temporaries, sigterm_as_interrupt, single_writer
from spatialvlm_core.sim.config import SimConfig
from spatialvlm_core.sim.io import load_scene, save_scene
from spatialvlm_core.sim.scene import generate_scene
from spatialvlm_core.sim.show import draw_overview


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size must look like 320x240, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"--size must be at least 16x16, got {text!r}")
    return w, h


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "sim",
        help="render synthetic indoor scenes with exact ground truth",
        description="spatialvlm sim --scenes N --seed S --out DIR  |  spatialvlm sim show DIR/scene_0000 [--out PNG]",
    )
    p.add_argument("action", nargs="?", choices=["generate", "show"], default="generate")
    p.add_argument("path", nargs="?", help="show: the scene folder to draw")
    p.add_argument("--scenes", type=int, default=10, help="number of scenes to render")
    p.add_argument("--seed", type=int, default=0, help="seed of scene 0 (scene i uses seed + i)")
    p.add_argument("--out", help="generate: output folder; show: output PNG (default DIR/show.png)")
    p.add_argument("--size", type=_size, default=(320, 240), help="image size WxH")
    p.add_argument("--room", default="living_room", help="living_room | bedroom | kitchen | office")
    p.add_argument("--min-objects", type=int, default=5)
    p.add_argument("--max-objects", type=int, default=9)
    p.add_argument("--max-roll", type=float, default=10.0, help="max camera roll in degrees (<= 30)")
    p.add_argument("--gap", nargs=3, metavar=("A", "B", "METRES"), help="affordance layout: e.g. sofa armchair 1.2")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        return _show(args)
    return _generate(args)


def _show(args: argparse.Namespace) -> int:
    if not args.path:
        raise ValueError("sim show needs a scene folder: spatialvlm sim show DIR/scene_0000")
    sim = load_scene(args.path)
    out = Path(args.out) if args.out else Path(args.path) / "show.png"
    draw_overview(sim.rgb, sim.instances, sim.scene).save(out)
    print(out)
    return 0


def _generate(args: argparse.Namespace) -> int:
    if not args.out:
        raise ValueError("sim needs --out DIR")
    if args.scenes < 0:
        raise ValueError(f"--scenes must be >= 0, got {args.scenes}")
    gap = None
    if args.gap:
        try:
            gap = (args.gap[0], args.gap[1], float(args.gap[2]))
        except ValueError:
            raise ValueError(f"--gap METRES must be a number, got {args.gap[2]!r}") from None
    w, h = args.size
    cfg = SimConfig(width=w, height=h, room=args.room, min_objects=args.min_objects, max_objects=args.max_objects,
                    max_roll_deg=args.max_roll, gap=gap)  # fmt: skip
    out = Path(args.out)
    done = present = 0
    try:
        # One writer per folder; SIGTERM unwinds like Ctrl-C so the scene being written leaves no temporary.
        with single_writer(out), sigterm_as_interrupt():
            stale = remove_stale_temporaries(out, recursive=False)  # left by a killed run
            if stale:
                print(f"removed {len(stale)} unfinished scene folder(s) of an interrupted run", file=sys.stderr)
            for i in tqdm(range(args.scenes), desc="sim", unit="scene"):
                d = out / f"scene_{i:04d}"
                if (d / "scene.json").is_file():
                    present += 1
                    continue  # resumable: an existing folder is complete (writes are atomic)
                save_scene(generate_scene(args.seed + i, cfg), d)
                done += 1
    except KeyboardInterrupt:
        print(f"interrupted: {present + done} of {args.scenes} scenes are in {out}; re-run the same command to "
              "resume", file=sys.stderr)  # fmt: skip
        return 130
    print(f"{done} scenes written, {present} already present, in {out}")
    return 0
