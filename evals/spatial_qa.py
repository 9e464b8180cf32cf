"""Spatial QA benchmark: the learned SpatialVLM against geometric answers and a blind prior.

Run: ``.venv/bin/python -m evals.spatial_qa [--data BENCH_DIR] [--train TRAIN_DIR] [--model CKPT|default|none]
[--n-scenes 40] [--out REPORT_DIR]``

The bench is a pipeline dataset (``--data``: ``data/*.parquet`` rows with QAPair columns + ``image`` +
``scene_id``, and ``scenes/<id>.json``), or, without ``--data``, a held-out bench built here from the
simulator (seeds 900000+, rooms in turn): render, reconstruct with ground-truth masks and sensor depth,
``generate_qa``. Rows:

- learned: ``SpatialVLM.load(CKPT).ask_batch`` (default checkpoint ``spatialvlm_core/assets/default_model``;
  skipped with a note when absent);
- geometric, GT depth: ``GeometricVLM`` on the reconstruction the questions came from (the ceiling: only the
  human rounding of the answer separates it from the truth);
- geometric, noisy depth: ``GeometricVLM`` re-reconstructing each frame from depth with a +10 % scale error and
  per-pixel noise sigma = 0.005 d^2 (``evals.reconstruction.corrupt_depth``); needs the frames' depth (sim
  bench, or ``--raw`` / the scene folders next to a dataset);
- blind prior: no image; per question type the training set's median value / majority yes-no / majority
  position of the chosen object (from ``--train``, else from the bench itself, which flatters it).

Prints a table; writes ``report.md``, ``results.json``, ``predictions.jsonl`` and plots into ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from evals.qa_metrics import PairScore, Summary, score_prediction, summarize
from evals.report import (
    fmt,
    markdown_table,
    plot_bars_by_type,
    plot_log_error_histograms,
    plot_pred_vs_true,
    text_table,
)
from spatialvlm_core.dataset.reader import read_dataset_rows
from spatialvlm_core.dataset.shards import row_to_qa
from spatialvlm_core.geometric_vlm import GeometricVLM, quantity_kind
from spatialvlm_core.questions import QAConfig, format_length, generate_qa, parse_answer, referable
from spatialvlm_core.types import Answer, Frame, QAPair, Scene3D

HELD_OUT_SEED = 900000
NOISY_DEPTH = {"scale": 0.10, "noise_k": 0.005}  # +10 % scale, sigma = 0.005 d^2 (2 cm at 2 m)


# --------------------------------------------------------------------------- the bench
@dataclass
class BenchImage:
    image_id: str
    scene: Scene3D  # the reconstruction the questions were generated from
    qa: list[QAPair]
    image: Any  # what the learned model sees: an image path or an HxWx3 array
    frame: Frame | None = None  # with depth (and ground truth): lets the geometric rows re-reconstruct


@dataclass
class Bench:
    images: list[BenchImage]
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def pairs(self) -> list[QAPair]:
        return [q for im in self.images for q in im.qa]


def build_sim_bench(n_scenes: int, seed: int = HELD_OUT_SEED, qa_per_scene: int = 20, width: int = 320,
                    height: int = 240, log: Callable[[str], None] = print) -> Bench:
    """Render ``n_scenes`` held-out sim scenes, reconstruct with ground-truth masks + sensor depth, ask."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    from spatialvlm_core.reconstruct import reconstruct
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene

    if n_scenes < 1:
        raise ValueError(f"--n-scenes must be >= 1, got {n_scenes}")
    rooms = sorted(ROOMS)
    images: list[BenchImage] = []
    notes: list[str] = []
    for s in range(seed, seed + n_scenes):
        try:
            sim = generate_scene(s, SimConfig(room=rooms[s % len(rooms)], width=width, height=height))
        except ValueError as e:  # a layout the sim rejects: skip that seed
            notes.append(f"seed {s} skipped by the simulator: {e}")
            continue
        frame = sim.frame()
        scene = reconstruct(frame, detector="ground-truth", segmenter="ground-truth", depth="sensor")
        scene = scene.model_copy(update={"scene_id": frame.image_id})
        qa = generate_qa(scene, n=qa_per_scene, seed=s, config=QAConfig())
        images.append(BenchImage(frame.image_id, scene, qa, frame.rgb, frame))
    log(f"bench: {len(images)} sim scenes, {sum(len(i.qa) for i in images)} questions")
    return Bench(images, f"simulator seeds {seed}..{seed + n_scenes - 1} (built by this eval)", notes)


def _read_rows(data_dir: Path) -> list[dict[str, Any]]:
    try:
        rows = read_dataset_rows(data_dir)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{data_dir}: no data/*.parquet (is it a dataset written by `spatialvlm synth`?)") from e
    for col in ("question", "qtype", "image", "scene_id"):
        if rows and col not in rows[0]:
            raise ValueError(f"{data_dir}: data rows have no {col!r} column")
    return rows


def load_pairs(data_dir: str | Path) -> list[QAPair]:
    """QA pairs of a dataset (e.g. the train split, for the blind prior)."""
    d = Path(data_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {d}")
    return [row_to_qa(r) for r in _read_rows(d)]


def load_dataset_bench(data_dir: str | Path, raw_dir: str | Path | None = None, limit: int | None = None,
                       log: Callable[[str], None] = print) -> Bench:
    """A pipeline dataset as a bench. Frames with depth are looked up in ``raw_dir`` (or the renderer's
    folders next to the dataset: ``DATA/.scenes``, ``DATA/../raw/<split>``) by image id."""
    d = Path(data_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"--data folder not found: {d}")
    rows = _read_rows(d)
    by_scene: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_scene[r["scene_id"]].append(r)
    raw_roots = [Path(raw_dir)] if raw_dir else [d / ".scenes", d.parent / "raw" / d.name]
    if raw_dir and not Path(raw_dir).is_dir():
        raise FileNotFoundError(f"--raw folder not found: {raw_dir}")
    images: list[BenchImage] = []
    missing_frames = 0
    for sid in sorted(by_scene)[:limit]:
        scene_path = d / "scenes" / f"{sid}.json"
        if not scene_path.is_file():
            raise FileNotFoundError(f"{scene_path}: scene of {len(by_scene[sid])} rows is missing")
        try:
            scene = Scene3D.model_validate_json(scene_path.read_text())
        except ValueError as e:
            raise ValueError(f"{scene_path}: not a valid Scene3D ({e})") from e
        first = by_scene[sid][0]
        img = Path(first["image"])
        img = img if img.is_absolute() else d / img
        frame = None
        for root in raw_roots:
            cand = root / str(first["image_id"])
            if (cand / "depth.npy").is_file():
                from spatialvlm_core.sim import load_scene

                frame = load_scene(cand).frame()
                break
        missing_frames += frame is None
        images.append(BenchImage(str(first["image_id"]), scene, [row_to_qa(r) for r in by_scene[sid]], str(img),
                                 frame))
    notes = []
    if missing_frames:
        notes.append(f"{missing_frames}/{len(images)} images have no depth frame (looked in "
                     f"{', '.join(map(str, raw_roots))}): the noisy-depth row skips their questions")
    log(f"bench: {len(images)} images, {sum(len(i.qa) for i in images)} questions from {d}")
    return Bench(images, str(d), notes)


def candidates_for(pair: QAPair, scene: Scene3D) -> list[str]:
    """Captions a choice answer could name: both offered (binary choice, question order) or the scene's
    nameable objects except the anchor (open choice)."""
    caps = {o.id: o.caption for o in scene.objects}
    if pair.kind != "choice":
        return []
    if pair.qtype in ("closest_object_choice", "nearest_to_camera_choice", "tallest_choice"):
        anchor = pair.object_ids[0] if pair.qtype == "closest_object_choice" else None
        return [o.caption for o in referable(scene) if o.id != anchor]
    return [caps[i] for i in pair.object_ids if i in caps]


# --------------------------------------------------------------------------- answerers
class NoisySensorDepth:
    """The frame's sensor depth corrupted by ``evals.reconstruction.corrupt_depth`` (seeded per image)."""

    def __init__(self, scale: float = 0.0, noise_k: float = 0.0, flying: float = 0.0, seed: int = 0) -> None:
        self.kw = {"scale": scale, "noise_k": noise_k, "flying": flying}
        self.seed = seed
        self.name = "sensor+noise(" + ", ".join(f"{k}={v:g}" for k, v in self.kw.items() if v) + ")"

    def predict(self, frame: Frame) -> np.ndarray:
        from evals.reconstruction import corrupt_depth

        if frame.depth is None:
            raise ValueError(f"noisy sensor depth needs frame.depth; frame {frame.image_id!r} has none")
        h = int.from_bytes(hashlib.sha256(f"{self.seed}|{frame.image_id}".encode()).digest()[:4], "little")
        return corrupt_depth(frame.depth, np.random.default_rng(h), **self.kw)


class BlindPrior:
    """Answers from the question type alone: median value, majority yes/no, majority chosen position."""

    def __init__(self, pairs: Sequence[QAPair]) -> None:
        if not pairs:
            raise ValueError("BlindPrior needs at least one training QA pair")
        by_type: dict[str, list[QAPair]] = defaultdict(list)
        for p in pairs:
            by_type[p.qtype].append(p)
        self.yes: dict[str, bool] = {}
        self.first: dict[str, bool] = {}
        self.caption: dict[str, str] = {}
        self.value: dict[str, float] = {}
        for qtype, ps in by_type.items():
            kind = ps[0].kind
            if kind == "predicate":
                self.yes[qtype] = sum(bool(p.truth_bool) for p in ps) * 2 >= len(ps)
            elif kind == "choice":
                winners = [p.provenance.get("winner_id") for p in ps]
                firsts = [w == p.object_ids[0] for w, p in zip(winners, ps, strict=True) if w]
                if firsts:
                    self.first[qtype] = sum(firsts) * 2 >= len(firsts)
                self.caption[qtype] = Counter(p.choice for p in ps if p.choice).most_common(1)[0][0] \
                    if any(p.choice for p in ps) else ""
            elif quantity_kind(qtype) == "clock":
                self.value[qtype] = Counter(p.value for p in ps if p.value is not None).most_common(1)[0][0]
            else:
                vals = [p.truth for p in ps if p.truth is not None]
                if vals:
                    self.value[qtype] = float(statistics.median(vals))

    def answer(self, pair: QAPair, candidates: Sequence[str]) -> Answer:
        q = pair.qtype
        if pair.kind == "predicate":
            text = "Yes." if self.yes.get(q, True) else "No."
        elif pair.kind == "choice":
            if q in self.first and len(candidates) == 2:
                text = f"{candidates[0 if self.first[q] else 1]}."
            else:
                text = f"{self.caption.get(q, 'I cannot tell')}."
        elif q not in self.value:
            text = "I cannot tell."
        else:
            v, kind = self.value[q], quantity_kind(q)
            if kind == "length":
                text = format_length(v, random.Random(0), "metric", hedge=False)[0] + "."
            elif kind == "clock":
                text = f"{int(v)} o'clock."
            elif kind == "deg":
                text = f"{int(5 * round(v / 5))} degrees."
            else:
                text = f"{round(v)}."
        return parse_answer(text, source="blind-prior")


# --------------------------------------------------------------------------- evaluation
class ModelResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    summary: Summary | None = None
    seconds: float = 0.0
    skipped: str | None = None  # why the row was not run
    n_answered: int = 0


@dataclass
class Run:
    result: ModelResult
    scores: list[PairScore] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    pairs: list[QAPair] = field(default_factory=list)


def score_run(name: str, description: str, bench: Bench, answer: Callable[[BenchImage], list[Answer] | None],
              log: Callable[[str], None] = print) -> Run:
    """Ask one answerer every question of the bench (image by image) and score the answers."""
    t0 = time.perf_counter()
    run = Run(ModelResult(name=name, description=description))
    for im in bench.images:
        answers = answer(im)
        if answers is None:  # this answerer cannot see this image (e.g. no depth)
            continue
        if len(answers) != len(im.qa):
            raise RuntimeError(f"{name}: {len(answers)} answers for {len(im.qa)} questions on {im.image_id}")
        for qa, a in zip(im.qa, answers, strict=True):
            run.scores.append(score_prediction(qa, a, candidates_for(qa, im.scene)))
            run.answers.append(a)
            run.pairs.append(qa)
    run.result.seconds = time.perf_counter() - t0
    run.result.n_answered = len(run.scores)
    run.result.summary = summarize(run.scores) if run.scores else None
    log(f"  {name}: {len(run.scores)} answers in {run.result.seconds:.1f} s")
    return run


def learned_answerer(model_path: str | Path | None, batch_size: int = 32) -> Callable[[BenchImage], list[Answer]]:
    from spatialvlm_core.infer import SpatialVLM

    tool = SpatialVLM.load(model_path, batch_size=batch_size)

    def answer(im: BenchImage) -> list[Answer]:
        return tool.ask_batch([im.image] * len(im.qa), [q.question for q in im.qa])

    return answer


def geometric_answerer(depth: Any = "sensor", use_given_scene: bool = False
                       ) -> Callable[[BenchImage], list[Answer] | None]:
    """Answers from a re-reconstruction of the frame (or the given scene when asked / no frame)."""
    tool = GeometricVLM(depth=depth, name="geometric")

    def answer(im: BenchImage) -> list[Answer] | None:
        if use_given_scene:
            target: Any = im.scene
        elif im.frame is not None and im.frame.depth is not None:
            target = im.frame
        else:
            return None
        return [tool.ask(target, q.question) for q in im.qa]

    return answer


def resolve_model_path(spec: str) -> tuple[Path | None, str | None]:
    """(checkpoint dir, reason it is skipped)."""
    from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR

    if spec == "none":
        return None, "not requested (--model none)"
    path = DEFAULT_MODEL_DIR if spec == "default" else Path(spec)
    if not path.is_dir():
        what = "default checkpoint" if spec == "default" else "checkpoint"
        return None, f"{what} not found at {path}"
    return path, None


# --------------------------------------------------------------------------- report
ROW_HEADERS = ("model", "questions", "qual. acc %", "predicate %", "choice %", "valid %", "within 2x %",
               "within ±10 %", "MRA", "med. rel. err")


def _row(r: ModelResult) -> list[str]:
    if r.summary is None:
        return [r.name, "skipped", *(["-"] * 8)]
    s = r.summary
    return [r.name, str(s.overall.n), fmt(s.overall.accuracy, True), fmt(s.predicate.accuracy, True),
            fmt(s.choice.accuracy, True), fmt(s.quantitative.valid_rate, True), fmt(s.quantitative.within_2x, True),
            fmt(s.quantitative.within_10pct, True), fmt(s.quantitative.mra, False, 1),
            fmt(s.quantitative.median_rel_error, False, 1)]


def _by_type_table(runs: Sequence[Run]) -> tuple[list[str], list[list[str]]]:
    done = [r for r in runs if r.result.summary is not None]
    types = sorted({t for r in done for t in r.result.summary.by_type})  # type: ignore[union-attr]
    headers = ["question type", "n", *[r.result.name for r in done]]
    rows = []
    for t in types:
        cells = []
        n = 0
        for r in done:
            g = r.result.summary.by_type.get(t)  # type: ignore[union-attr]
            if g is None:
                cells.append("-")
                continue
            n = max(n, g.n)
            cells.append(f"acc {fmt(g.accuracy, True, 0)}" if g.n_qualitative else
                         f"MRA {fmt(g.mra, False, 0)} / ±10% {fmt(g.within_10pct, True, 0)}")
        rows.append([t, str(n), *cells])
    return headers, rows


def _log_ratios(run: Run) -> list[float]:
    return [math.log(s.pred / s.truth) for s in run.scores
            if s.valid and s.unit != "o'clock" and s.pred and s.truth and s.pred > 0 and s.truth > 0]


def write_report(out: Path, bench: Bench, runs: Sequence[Run], notes: Sequence[str], seconds: float) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    done = [r for r in runs if r.result.summary is not None]
    plots: list[str] = []
    if done:
        plot_log_error_histograms({r.result.name: _log_ratios(r) for r in done}, out / "log_error_hist.png")
        pts = {r.result.name: ([s.truth or 0.0 for s in r.scores if s.valid and s.unit == "m"],
                               [s.pred or 0.0 for s in r.scores if s.valid and s.unit == "m"]) for r in done}
        plot_pred_vs_true(pts, out / "pred_vs_true.png")
        acc = {r.result.name: {t: (g.accuracy if g.n_qualitative else g.mra)
                               for t, g in r.result.summary.by_type.items()} for r in done}  # type: ignore[union-attr]
        plot_bars_by_type(acc, out / "by_type.png", "accuracy (qualitative) / MRA (quantitative)",
                          "score by question type")
        plots = ["log_error_hist.png", "pred_vs_true.png", "by_type.png"]
    n_q = len(bench.pairs)
    kinds = Counter(p.kind for p in bench.pairs)
    lines = [
        "# Spatial QA benchmark", "",
        f"- bench: {bench.source}; {len(bench.images)} images, {n_q} questions "
        f"({kinds['predicate']} predicate, {kinds['choice']} choice, {kinds['quantitative']} quantitative)",
        f"- total time: {seconds:.1f} s", "",
        markdown_table(ROW_HEADERS, [_row(r.result) for r in runs]), "",
        "Rows:", "",
        *[f"- **{r.result.name}**: {r.result.description}"
          + (f" (skipped: {r.result.skipped})" if r.result.skipped else "") for r in runs], "",
        "Metrics (see `evals/qa_metrics.py`): qualitative accuracy (yes/no vs truth; choice names the right "
        "object first); quantitative valid-number rate, share within [0.5x, 2x] and [0.9x, 1.1x] of the exact "
        "value, mean relative accuracy over thresholds 0.50..0.95, median relative error of valid answers. "
        "Clock answers compare hours circularly.", "",
    ]
    if notes or bench.notes:
        lines += ["Notes:", "", *[f"- {n}" for n in [*notes, *bench.notes]], ""]
    headers, rows = _by_type_table(runs)
    if rows:
        lines += ["## By question type", "", markdown_table(headers, rows), ""]
    if plots:
        lines += ["## Plots", "", *[f"![{p}]({p})" for p in plots], ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    (out / "results.json").write_text(json.dumps({
        "bench": {"source": bench.source, "images": len(bench.images), "questions": n_q, "notes": bench.notes},
        "notes": list(notes), "seconds": seconds,
        "models": [r.result.model_dump(mode="json") for r in runs],
    }, indent=1))
    with (out / "predictions.jsonl").open("w") as f:
        for r in done:
            for qa, a, s in zip(r.pairs, r.answers, r.scores, strict=True):
                f.write(json.dumps({"model": r.result.name, "id": qa.id, "qtype": qa.qtype, "question": qa.question,
                                    "reference": qa.answer, "prediction": a.text,
                                    "score": s.model_dump(mode="json")}) + "\n")
    return path


# --------------------------------------------------------------------------- CLI
def run_benchmark(args: argparse.Namespace, log: Callable[[str], None] = print) -> tuple[list[Run], Bench, Path]:
    t0 = time.perf_counter()
    notes: list[str] = []
    if args.data:
        bench = load_dataset_bench(args.data, args.raw, limit=args.n_scenes if args.limit_data else None, log=log)
    else:
        bench = build_sim_bench(args.n_scenes, args.seed, args.qa_per_scene, log=log)
    if not bench.pairs:
        raise ValueError("the bench has no questions")
    runs: list[Run] = []

    path, why = resolve_model_path(args.model)
    desc = f"SpatialVLM checkpoint {path or args.model}"
    if path is None:
        runs.append(Run(ModelResult(name="learned", description=desc, skipped=why)))
        notes.append(f"learned model row skipped: {why}")
    else:
        runs.append(score_run("learned", desc, bench, learned_answerer(path, args.batch_size), log))

    runs.append(score_run("geometric (GT depth)", "GeometricVLM on the reconstruction the questions were made "
                          "from (ground-truth masks, sensor depth): the ceiling", bench,
                          geometric_answerer(use_given_scene=bool(args.data)), log))
    noisy = NoisySensorDepth(**NOISY_DEPTH, seed=args.seed)
    noisy_run = score_run("geometric (noisy depth)", f"GeometricVLM re-reconstructing each frame with depth "
                          f"{noisy.name}, ground-truth masks", bench, geometric_answerer(depth=noisy), log)
    if not noisy_run.scores:
        noisy_run.result.skipped = "no frame with depth available"
    runs.append(noisy_run)

    if args.train:
        train = load_pairs(args.train)
        prior_src = f"train split {args.train} ({len(train)} pairs)"
    else:
        train = bench.pairs
        prior_src = "the bench itself (no --train given: the prior sees the bench's answers, an optimistic bound)"
        notes.append(f"blind prior fitted on {prior_src}")
    prior = BlindPrior(train)
    runs.append(score_run("blind prior", f"no image; per question type median / majority from {prior_src}",
                          bench, lambda im: [prior.answer(q, candidates_for(q, im.scene)) for q in im.qa], log))
    out = Path(args.out)
    report = write_report(out, bench, runs, notes, time.perf_counter() - t0)
    return runs, bench, report


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m evals.spatial_qa", description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="bench dataset folder (data/*.parquet + scenes/); default: "
                    "build a held-out bench from the simulator")
    ap.add_argument("--raw", default=None, help="folder of scene folders (with depth.npy) for the --data images")
    ap.add_argument("--limit-data", action="store_true", help="use only the first --n-scenes images of --data")
    ap.add_argument("--train", default=None, help="training dataset folder for the blind prior")
    ap.add_argument("--model", default="default", help="checkpoint dir, 'default' or 'none'")
    ap.add_argument("--n-scenes", type=int, default=40)
    ap.add_argument("--qa-per-scene", type=int, default=20)
    ap.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="first sim seed of the built bench")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default="out/spatial_qa")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    runs, bench, report = run_benchmark(args, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(f"Spatial QA: {bench.source}; {len(bench.images)} images, {len(bench.pairs)} questions")
    print(text_table(ROW_HEADERS, [_row(r.result) for r in runs]))
    for r in runs:
        if r.result.skipped:
            print(f"{r.result.name}: skipped ({r.result.skipped})")
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
