"""Spatial QA synthesis at scale: filter -> perceive+lift+name -> ask, written as a sharded, resumable dataset.

Stages are injectable: ``PipelineConfig`` names the backends (it round-trips through JSON and goes into the
manifest), and a ``StagesFactory`` turns it into callables, once per worker process or Ray actor. The default
factory wires ``perception``, ``reconstruct`` and ``questions``; tests pass small fakes.

Determinism: each image's QA seed is derived from the global seed and its image id, and shards are fixed
groups of images in id order, so the output does not depend on the runner, worker count or order.

Errors: ``ValueError`` from reading or a stage means "this input is bad" and lands in dropped.jsonl; any
other exception is a bug or an interruption and stops the run (finished shards stay; a re-run resumes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.shards import (
    DroppedRow,
    Manifest,
    ShardRecord,
    atomic_copy,
    atomic_write_jsonl,
    atomic_write_parquet,
    atomic_write_text,
    check_writable,
    chunk,
    load_manifest,
    package_versions,
    qa_to_row,
    save_manifest,
    shard_jsonl_name,
    shard_parquet_name,
)
from spatialvlm_core.sources import DroppedInput, InputRecord, discover, read_frame, safe_id
from spatialvlm_core.types import Frame, QAPair, Scene3D


# --------------------------------------------------------------------------- configuration
class PipelineConfig(BaseModel):
    """Everything that decides the dataset's content (runner and worker count do not)."""

    model_config = ConfigDict(extra="forbid")

    detector: str = "ground-truth"
    segmenter: str = "box-depth"
    depth: str = "sensor"
    clip: str = "transformers"
    filter: bool = False  # CLIP scene filter (off by default: synthetic scenes are all indoor)
    filter_threshold: float = Field(default=0.5, ge=0, le=1)
    clip_naming: bool = False  # CLIP disambiguation of object captions (needs a CLIP backend)
    # Constructor kwargs per backend kind, e.g. {"clip": {"model": "/models/clip"}, "detector": {...}}.
    backend_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    seed: int = 0
    qa_per_image: int | None = None  # None: the question generator's default
    limit: int | None = Field(default=None, ge=1)
    shard_size: int = Field(default=32, ge=1)
    images: Literal["copy", "reference"] = "copy"
    require_depth: bool | None = None  # None: required exactly when depth == "sensor"
    qa_config: dict[str, Any] = Field(default_factory=dict)  # passed to questions.QAConfig
    reconstruct_options: dict[str, Any] = Field(default_factory=dict)  # extra kwargs for reconstruct()

    @property
    def depth_required(self) -> bool:
        return self.depth == "sensor" if self.require_depth is None else self.require_depth

    def backends(self) -> dict[str, str]:
        b = {"detector": self.detector, "segmenter": self.segmenter, "depth": self.depth}
        if self.filter or self.clip_naming:
            b["clip"] = self.clip
        return b

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class RunOptions(BaseModel):
    """How to run; never changes what is written."""

    model_config = ConfigDict(extra="forbid")

    runner: Literal["local", "ray"] = "local"
    workers: int = Field(default=1, ge=1)
    progress: bool = True
    start_method: Literal["spawn", "forkserver", "fork"] = "spawn"  # spawn: safe with torch/OpenMP threads


class FilterDecisionLike(Protocol):
    keep: bool
    score: float
    reason: str


@dataclass
class Stages:
    """The callables one worker runs per image."""

    reconstruct: Callable[[Frame], Scene3D]
    ask: Callable[[Scene3D, int], list[QAPair]]  # (scene, per-image seed) -> QA pairs
    filter: Callable[[Frame], FilterDecisionLike] | None = None


StagesFactory = Callable[[PipelineConfig], Stages]


def _backend(kind: str, name: str, options: dict[str, Any] | None = None) -> Any:
    """Build a named backend once per worker, so models load once, not once per image.

    Unknown names fail here, before any image, with a ValueError naming the backend (a typo must not
    turn into a dataset whose every image was dropped).
    """
    from spatialvlm_core import reconstruct as rec

    # reconstruct's resolver: perception registry first, then its cheap built-ins (ground truth, sensor).
    resolve = rec.resolve_backend
    return resolve(kind, name, **(options or {}))


def _clip(config: PipelineConfig) -> Any:
    from spatialvlm_core import perception

    return perception.create_clip(config.clip, **config.backend_options.get("clip", {}))


def default_stages(config: PipelineConfig) -> Stages:
    """Real backends by name; heavy imports happen here, inside the worker, not at module import."""
    from spatialvlm_core.questions import QAConfig, generate_qa
    from spatialvlm_core.reconstruct import reconstruct

    detector = _backend("detector", config.detector, config.backend_options.get("detector"))
    segmenter = _backend("segmenter", config.segmenter, config.backend_options.get("segmenter"))
    depth = _backend("depth", config.depth, config.backend_options.get("depth"))
    qa_config = QAConfig(**config.qa_config)
    clip = _clip(config) if config.clip_naming else None

    def _reconstruct(frame: Frame) -> Scene3D:
        return reconstruct(frame, detector=detector, segmenter=segmenter, depth=depth, clip=clip,
                           **config.reconstruct_options)  # fmt: skip

    def _ask(scene: Scene3D, seed: int) -> list[QAPair]:
        return generate_qa(scene, n=config.qa_per_image, seed=seed, config=qa_config)

    scene_filter = None
    if config.filter:
        from spatialvlm_core.perception.scene_filter import SceneFilter

        sf = SceneFilter(clip or _clip(config), threshold=config.filter_threshold)
        scene_filter = lambda frame: sf.check(frame.rgb, frame.image_id)  # noqa: E731

    return Stages(reconstruct=_reconstruct, ask=_ask, filter=scene_filter)


def image_seed(seed: int, image_id: str) -> int:
    """Per-image seed from the global seed and the image id: independent of order and worker count."""
    h = hashlib.sha256(f"{seed}\x00{image_id}".encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF  # 31 bits: valid for every RNG we feed


# --------------------------------------------------------------------------- one image
class ImageResult(BaseModel):
    """What one image produced; crosses process (and Ray) boundaries as JSON."""

    model_config = ConfigDict(extra="forbid")

    image_id: str
    scene_id: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
    scene_json: str | None = None
    image_src: str | None = None
    image_dst: str | None = None  # path relative to the dataset root; None with --images reference
    dropped: DroppedRow | None = None
    timings_s: dict[str, float] = Field(default_factory=dict)


def dataset_image_path(record: InputRecord, config: PipelineConfig) -> tuple[str, str | None]:
    """(value of the ``image`` column, copy destination or None)."""
    if config.images == "reference":
        return str(record.image_path), None
    rel = f"images/{record.image_id}" if record.kind == "image" else f"images/{record.image_id}.png"
    return rel, rel


def process_image(record: InputRecord, stages: Stages, config: PipelineConfig) -> ImageResult:
    sid = safe_id(record.image_id)
    timings: dict[str, float] = {}
    stage = "read"

    def drop(reason: str) -> ImageResult:
        return ImageResult(
            image_id=record.image_id, scene_id=sid, timings_s=timings,
            dropped=DroppedRow(image_id=record.image_id, file=record.path, reason=reason, stage=stage),
        )  # fmt: skip

    t = time.perf_counter()
    try:
        frame = read_frame(record, config.depth_required, f"required by depth backend {config.depth!r}")
        timings["read"] = time.perf_counter() - t
        if stages.filter is not None:
            stage, t = "filter", time.perf_counter()
            decision = stages.filter(frame)
            timings["filter"] = time.perf_counter() - t
            if not decision.keep:
                return drop(f"scene filter (score {decision.score:.3f}): {decision.reason}")
        stage, t = "reconstruct", time.perf_counter()
        scene = stages.reconstruct(frame).model_copy(update={"scene_id": sid})
        timings["reconstruct"] = time.perf_counter() - t
        stage, t = "ask", time.perf_counter()
        qas = stages.ask(scene, image_seed(config.seed, record.image_id))
        timings["ask"] = time.perf_counter() - t
    except ValueError as e:  # bad input (see module doc); everything else propagates and stops the run
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t
        return drop(str(e))
    image_col, dst = dataset_image_path(record, config)
    rows = [qa_to_row(qa.model_copy(update={"image_id": record.image_id}), image_col, sid) for qa in qas]
    return ImageResult(
        image_id=record.image_id, scene_id=sid, rows=rows, scene_json=scene.model_dump_json(),
        image_src=str(record.image_path), image_dst=dst, timings_s=timings,
    )  # fmt: skip


# --------------------------------------------------------------------------- one shard
class ShardTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    total: int
    records: list[InputRecord]


def write_shard(out: Path, task: ShardTask, results: Sequence[ImageResult]) -> ShardRecord:
    """Images and scenes first, then the row files: a shard is complete once the manifest lists it."""
    t = time.perf_counter()
    by_id = {r.image_id: r for r in results}
    ordered = [by_id[rec.image_id] for rec in task.records]  # stable order whatever the arrival order
    rows: list[dict[str, Any]] = []
    for r in ordered:
        if r.dropped is not None:
            continue
        if r.image_dst is not None and r.image_src is not None:
            atomic_copy(Path(r.image_src), out / r.image_dst)
        if r.scene_json is not None:
            atomic_write_text(out / "scenes" / f"{r.scene_id}.json", r.scene_json)
        rows.extend(r.rows)
    parquet, jsonl = shard_parquet_name(task.index, task.total), shard_jsonl_name(task.index)
    atomic_write_jsonl(out / jsonl, rows)
    atomic_write_parquet(out / parquet, rows)
    timings: Counter[str] = Counter()
    for r in ordered:
        timings.update(r.timings_s)
    timings["write"] += time.perf_counter() - t
    return ShardRecord(
        index=task.index, parquet=parquet, jsonl=jsonl, image_ids=[r.image_id for r in ordered],
        images_ok=sum(r.dropped is None for r in ordered), qa_pairs=len(rows),
        qa_by_type=dict(sorted(Counter(row["qtype"] for row in rows).items())),
        dropped=[r.dropped for r in ordered if r.dropped is not None],
        timings_s={k: round(v, 4) for k, v in sorted(timings.items())},
    )  # fmt: skip


def run_shard(
    task: ShardTask, stages: Stages, config: PipelineConfig, out: Path,
    on_image: Callable[[ImageResult], None] | None = None,
) -> ShardRecord:  # fmt: skip
    results = []
    for rec in task.records:
        r = process_image(rec, stages, config)
        results.append(r)
        if on_image is not None:
            on_image(r)
    return write_shard(out, task, results)


# --------------------------------------------------------------------------- local runner
_WORKER: dict[str, Any] = {}


def _init_worker(factory: StagesFactory, config: PipelineConfig) -> None:
    _WORKER["stages"] = factory(config)  # once per process: model backends load once
    _WORKER["config"] = config


def _worker_run_shard(task: ShardTask, out: str) -> ShardRecord:
    return run_shard(task, _WORKER["stages"], _WORKER["config"], Path(out))


class Progress:
    """tqdm bar in images with QA/s beside it; a no-op when disabled."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="img", desc="synth", disable=not enabled, file=sys.stderr)
        self.qa = 0
        self.t0 = time.perf_counter()

    def update(self, images: int, qa: int) -> None:
        self.qa += qa
        self.bar.update(images)
        dt = max(time.perf_counter() - self.t0, 1e-9)
        self.bar.set_postfix_str(f"{self.qa / dt:.1f} QA/s, {self.qa} QA", refresh=False)

    def close(self) -> None:
        self.bar.close()


def run_local(
    tasks: Sequence[ShardTask], config: PipelineConfig, out: Path, factory: StagesFactory,
    options: RunOptions, on_shard: Callable[[ShardRecord], None],
) -> None:  # fmt: skip
    progress = Progress(sum(len(t.records) for t in tasks), options.progress)
    try:
        if options.workers == 1 or len(tasks) <= 1:
            stages = factory(config)
            for task in tasks:
                rec = run_shard(task, stages, config, out, lambda r: progress.update(1, len(r.rows)))
                on_shard(rec)
            return
        ctx = get_context(options.start_method)
        with ProcessPoolExecutor(
            max_workers=min(options.workers, len(tasks)), mp_context=ctx,
            initializer=_init_worker, initargs=(factory, config),
        ) as pool:  # fmt: skip
            pending = {pool.submit(_worker_run_shard, t, str(out)) for t in tasks}
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in done:
                    if fut.exception() is None:
                        rec = fut.result()
                        on_shard(rec)
                        progress.update(len(rec.image_ids), rec.qa_pairs)
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    for f in pending:
                        f.cancel()
                    # let shards already running finish and be recorded, so nothing written is lost
                    for f in wait(pending).done:
                        if not f.cancelled() and f.exception() is None:
                            on_shard(f.result())
                    raise failed[0].exception()  # type: ignore[misc]
    finally:
        progress.close()


# --------------------------------------------------------------------------- entry point
def _inputs_hash(records: Sequence[InputRecord]) -> str:
    return hashlib.sha256("\n".join(r.image_id for r in records).encode()).hexdigest()[:16]


def _discovery_rows(dropped: Sequence[DroppedInput]) -> list[DroppedRow]:
    return [DroppedRow(image_id=d.image_id, file=d.file, reason=d.reason, stage=d.stage) for d in dropped]


def synth_dataset(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: PipelineConfig | None = None,
    *,
    options: RunOptions | None = None,
    stages_factory: StagesFactory | None = None,
) -> Manifest:
    """Build (or resume) the dataset in ``out`` from ``source``; returns the final manifest."""
    config = config or PipelineConfig()
    options = options or RunOptions()
    factory = stages_factory or default_stages
    out_dir = Path(out).resolve()
    check_writable(out_dir)  # before any work
    found = discover(source, exclude=[out_dir])  # an output inside the source folder is not an input
    records = found.records[: config.limit] if config.limit else found.records
    shards = chunk(records, config.shard_size)
    tasks = [ShardTask(index=i, total=len(shards), records=s) for i, s in enumerate(shards)]

    manifest = load_manifest(out_dir)
    if manifest is not None:
        if manifest.config_hash != config.digest():
            raise ValueError(
                f"{out_dir / 'manifest.json'} was written with a different config "
                f"({json.dumps(manifest.config, sort_keys=True)}); use a new --out or delete it"
            )
        if manifest.inputs_hash != _inputs_hash(records):
            raise ValueError(f"{out_dir} was built from different inputs than {source!s}; use a new --out")
    else:
        manifest = Manifest(
            source=str(source) if isinstance(source, (str, os.PathLike)) else json.dumps([str(s) for s in source]),
            config=config.model_dump(mode="json"), config_hash=config.digest(),
            inputs_hash=_inputs_hash(records), seed=config.seed, backends=config.backends(),
        )  # fmt: skip
    manifest.packages = package_versions()
    manifest.runner = options.model_dump(mode="json")
    manifest.discovery_dropped = _discovery_rows(found.dropped)
    manifest.counts.images_found = len(found.records) + len(found.dropped)
    manifest.counts.images_selected = len(records)
    manifest.counts.shards_total = len(tasks)
    manifest.complete = False
    pending = [t for t in tasks if not manifest.shard_done(t.index, out_dir)]

    def on_shard(rec: ShardRecord) -> None:
        manifest.shards[str(rec.index)] = rec
        save_manifest(out_dir, manifest)

    t0 = time.perf_counter()
    try:
        if options.runner == "ray":
            from spatialvlm_core.ray_runner import run_ray

            run_ray(pending, config, out_dir, factory, options, on_shard)
        else:
            run_local(pending, config, out_dir, factory, options, on_shard)
        manifest.complete = all(manifest.shard_done(t.index, out_dir) for t in tasks)
    finally:
        wall = time.perf_counter() - t0
        manifest.timings_s["wall_last_run"] = round(wall, 3)
        manifest.timings_s["wall_total"] = round(manifest.timings_s.get("wall_total", 0.0) + wall, 3)
        save_manifest(out_dir, manifest)
    return manifest


# --------------------------------------------------------------------------- synthetic sources
def render_sim_scenes(
    out: Path, n: int, base_seed: int, width: int = 320, height: int = 240, split: str | None = None
) -> Path:
    """Render ``n`` MuJoCo scenes (seeds base_seed..base_seed+n-1) into ``out/scene_XXXXX``; resumable."""
    from spatialvlm_core import sim

    fields = getattr(sim.SimConfig, "model_fields", None) or getattr(sim.SimConfig, "__dataclass_fields__", {})
    kwargs: dict[str, Any] = {"width": width, "height": height}
    if split is not None and "split" in fields:  # held-out object instances for the benchmark, when offered
        kwargs["split"] = split
    rooms = sorted(getattr(sim, "ROOMS", {})) or [None]
    for i in range(n):
        scene_dir = out / f"scene_{i:05d}"
        if (scene_dir / "scene.json").is_file():  # already rendered by an interrupted run
            continue
        room = rooms[(base_seed + i) % len(rooms)]  # cycle room types so every split covers them all
        cfg = sim.SimConfig(**kwargs, **({"room": room} if room else {}))
        try:
            scene = sim.generate_scene(base_seed + i, cfg)
        except ValueError as e:  # a layout the sim rejects: skip that seed, keep the others
            print(f"render_sim_scenes: skipped seed {base_seed + i} ({room}): {e}", file=sys.stderr)
            continue
        sim.save_scene(scene, scene_dir)
    return out


def synth_sim_dataset(
    out: str | os.PathLike[str], n_images: int, seed: int = 0, *, config: PipelineConfig | None = None,
    options: RunOptions | None = None, width: int = 320, height: int = 240, split: str | None = None,
) -> Manifest:  # fmt: skip
    """Render ``n_images`` synthetic scenes into ``out/.scenes`` and synth them into ``out`` (ground truth)."""
    out_dir = Path(out).resolve()
    check_writable(out_dir)
    raw = render_sim_scenes(out_dir / ".scenes", n_images, seed * 1_000_003, width, height, split)
    cfg = (config or PipelineConfig()).model_copy(update={"seed": seed})
    return synth_dataset(raw, out_dir, cfg, options=options or RunOptions(progress=False))


def make_splits(
    out: str | os.PathLike[str],
    train_scenes: int,
    bench_scenes: int,
    seed: int = 0,
    *,
    config: PipelineConfig | None = None,
    options: RunOptions | None = None,
    width: int = 320,
    height: int = 240,
) -> dict[str, Manifest]:
    """Render synthetic scenes for train and a held-out bench split, then synth each into out/<split>.

    The two splits draw scene seeds from disjoint ranges (bench can never repeat a training scene) and,
    when the sim offers ``SimConfig.split``, different object instances.
    """
    out_dir = Path(out).resolve()
    check_writable(out_dir)
    config = config or PipelineConfig()
    ranges = {"train": (seed * 10_000_000, train_scenes), "bench": (seed * 10_000_000 + 5_000_000, bench_scenes)}
    manifests: dict[str, Manifest] = {}
    for split, (base, n) in ranges.items():
        if n > 5_000_000:
            raise ValueError(f"--{split}-scenes must be <= 5000000, got {n}")
        raw = render_sim_scenes(out_dir / "raw" / split, n, base, width, height, split)
        split_config = config.model_copy(update={"seed": config.seed + (0 if split == "train" else 1)})
        manifests[split] = synth_dataset(raw, out_dir / split, split_config, options=options)
    return manifests


# --------------------------------------------------------------------------- CLI
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


def _cmd_synth(args: argparse.Namespace) -> int:
    options = RunOptions(runner=args.runner, workers=args.workers, progress=not args.no_progress)
    source = args.source[0] if len(args.source) == 1 else args.source
    m = synth_dataset(source, args.out, _config_from_args(args), options=options)
    if args.export == "llava":
        from spatialvlm_core.exports import export_llava

        print(f"wrote {export_llava(args.out)}")
    c = m.counts
    print(f"{args.out}: {c.images_ok} images, {c.qa_pairs} QA pairs, {c.images_dropped} dropped, "
          f"{c.shards_done}/{c.shards_total} shards in {m.timings_s.get('wall_last_run', 0):.1f}s")  # fmt: skip
    return 0


def _cmd_make_splits(args: argparse.Namespace) -> int:
    options = RunOptions(runner=args.runner, workers=args.workers, progress=not args.no_progress)
    ms = make_splits(args.out, args.train_scenes, args.bench_scenes, args.seed, config=_config_from_args(args),
                     options=options, width=args.width, height=args.height)  # fmt: skip
    for split, m in ms.items():
        print(f"{split}: {m.counts.images_ok} images, {m.counts.qa_pairs} QA pairs")
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
