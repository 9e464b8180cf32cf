"""``spatialvlm synth`` and ``spatialvlm make-splits``: argument parsing around ``synth_dataset``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialvlm_core.dataset.shards import load_manifest
from spatialvlm_core.pipeline.config import PipelineConfig, RunOptions
from spatialvlm_core.pipeline.run import synth_dataset
from spatialvlm_core.pipeline.sim_source import make_splits


def parse_backend_options(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["clip.model=/m/clip", "detector.score_threshold=0.3"]`` -> {"clip": {"model": ...}, ...}.

    Values are JSON when they parse as JSON (numbers, booleans), else plain strings.
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        kind, dot, name = key.partition(".")
        if not sep or not dot or kind not in ("detector", "segmenter", "depth", "clip") or not name:
            raise ValueError(f"--backend-option {item!r}: expected KIND.KEY=VALUE with KIND in "
                             "detector|segmenter|depth|clip")  # fmt: skip
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(kind, {})[name] = value
    return out


def _config_from_args(args: argparse.Namespace) -> PipelineConfig:
    return PipelineConfig(
        detector=args.detector, segmenter=args.segmenter, depth=args.depth, clip=args.clip,
        filter=args.filter, filter_threshold=args.filter_threshold, clip_naming=args.clip_naming,
        backend_options=parse_backend_options(args.backend_option), seed=args.seed,
        qa_per_image=args.qa_per_image, limit=args.limit, shard_size=args.shard_size, images=args.images,
    )  # fmt: skip


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runner", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=int, default=1, help="worker processes (local) or actors (ray)")
    p.add_argument("--detector", default="ground-truth")
    p.add_argument("--segmenter", default="box-depth")
    p.add_argument("--depth", default="sensor")
    p.add_argument("--clip", default="transformers", help="CLIP backend for --filter")
    p.add_argument("--filter", action="store_true", help="drop non-indoor images with the CLIP scene filter")
    p.add_argument("--filter-threshold", type=float, default=0.5)
    p.add_argument("--clip-naming", action="store_true", help="CLIP disambiguation of object captions")
    p.add_argument("--backend-option", action="append", default=[], metavar="KIND.KEY=VALUE",
                   help="backend constructor option, e.g. clip.model=/models/clip (repeatable)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qa-per-image", type=int, default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--shard-size", type=int, default=32)
    p.add_argument("--images", choices=["copy", "reference"], default="copy")
    p.add_argument("--no-progress", action="store_true")


def _interrupted(out: str | os.PathLike[str]) -> int:
    m = load_manifest(Path(out).resolve())
    done = f"{m.counts.shards_done}/{m.counts.shards_total} shards are saved" if m else "nothing was saved"
    print(f"interrupted: {done} in {out}; re-run the same command to resume", file=sys.stderr)
    return 130


def _cmd_synth(args: argparse.Namespace) -> int:
    options = RunOptions(runner=args.runner, workers=args.workers, progress=not args.no_progress)
    source = args.source[0] if len(args.source) == 1 else args.source
    try:
        m = synth_dataset(source, args.out, _config_from_args(args), options=options)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: workers are stopped, finished shards recorded
        return _interrupted(args.out)
    if args.export == "llava":
        from spatialvlm_core.dataset.exports import export_llava  # pyarrow: only when exporting

        print(f"wrote {export_llava(args.out)}")
    c = m.counts
    print(f"{args.out}: {c.images_ok} images, {c.qa_pairs} QA pairs, {c.images_dropped} dropped, "
          f"{c.shards_done}/{c.shards_total} shards ({len(m.last_run_shards)} written by this run) "
          f"in {m.timings_s.get('wall_last_run', 0):.1f}s")  # fmt: skip
    if c.qa_pairs == 0:
        raise ValueError(_why_no_qa(Path(args.out), c.images_dropped))
    return 0


def _why_no_qa(out: Path, dropped: int) -> str:
    """Why a run wrote no QA pair: the commonest reason in dropped.jsonl, with the flag that fixes it."""
    from collections import Counter

    reasons: Counter[str] = Counter()
    log = out / "dropped.jsonl"
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                reasons[str(json.loads(line).get("reason", "?"))] += 1
            except json.JSONDecodeError:
                continue
    msg = f"{out}: no QA pairs written ({dropped} image(s) dropped, see {log})"
    if reasons:
        reason, n = reasons.most_common(1)[0]
        msg += f"; {n} because: {reason}"
        if "depth file" in reason:
            msg += "; photos without a depth map need --depth size-prior (no weights) or a depth model"
    return msg


def _cmd_make_splits(args: argparse.Namespace) -> int:
    options = RunOptions(runner=args.runner, workers=args.workers, progress=not args.no_progress)
    try:
        ms = make_splits(args.out, args.train_scenes, args.bench_scenes, args.seed, config=_config_from_args(args),
                         options=options, width=args.width, height=args.height)  # fmt: skip
    except KeyboardInterrupt:
        print(f"interrupted: re-run the same command to resume {args.out}", file=sys.stderr)
        return 130
    for split, m in ms.items():
        print(f"{split}: {m.counts.images_ok} images, {m.counts.qa_pairs} QA pairs")
    for split, m in ms.items():
        if m.counts.qa_pairs == 0:  # an empty split would train or score on nothing: say so, exit non-zero
            raise ValueError(_why_no_qa(Path(args.out) / split, m.counts.images_dropped))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("synth", help="synthesise a spatial QA dataset from images or synthetic scenes")
    p.add_argument("--source", required=True, nargs="+", help="folder(s), glob(s) or files")
    p.add_argument("--out", required=True, help="dataset folder (re-running resumes)")
    p.add_argument("--export", choices=["llava"], default=None, help="also write a chat-format JSON")
    _add_common(p)
    p.set_defaults(func=_cmd_synth)

    s = subparsers.add_parser("make-splits", help="render synthetic train/bench scenes and synth both")
    s.add_argument("--out", required=True)
    s.add_argument("--train-scenes", type=int, default=2000)
    s.add_argument("--bench-scenes", type=int, default=300)
    s.add_argument("--width", type=int, default=320)
    s.add_argument("--height", type=int, default=240)
    _add_common(s)
    s.set_defaults(func=_cmd_make_splits)
