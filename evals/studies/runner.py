"""Train and score every study point x seed; many training processes at once (the tiny model on a GPU is bound
by Python overhead, so one process per CPU core keeps the GPU busy).

A point is one training recipe; the three studies share the reference point ``base`` (unfrozen tower, clean
labels, spatial data only). Every run: the shipped default model's architecture (``tiny-relation-points``),
its trained vision tower as the start (the paper's pretrained encoder), fresh LM, projector and relation head,
trained on answers (and the relation head's QA labels) only, then scored on the clean held-out split.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from evals.studies.data import COLOUR_QTYPE, mix_dataset, sigma_dir
from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR

REPO = Path(__file__).resolve().parents[2]
PRESET = "tiny-relation-points"  # the shipped default model's preset


def study_preset(init: Path | None = DEFAULT_MODEL_DIR) -> str:
    """The name of the shipped model's preset as it was saved (its dense class count included: newer code may
    add classes), registered here so that its trained tower loads into fresh models of the same architecture."""
    from spatialvlm_core.model import ModelConfig, list_presets, register_preset

    if init is None:
        return PRESET
    f = init / "config.json"
    if not f.is_file():
        raise FileNotFoundError(f"vision tower init: no config.json in {init}")
    saved = json.loads(f.read_text()).get("preset")
    if not isinstance(saved, dict) or saved.get("name") != PRESET:
        raise ValueError(f"{f}: field 'preset' should be the saved {PRESET!r} preset, got {str(saved)[:80]}")
    name = f"{PRESET}-as-saved"
    if name not in list_presets():
        register_preset(ModelConfig.from_dict({**saved, "name": name}))
    return name


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    freeze_vision: bool = False
    sigma: float = 0.0  # label noise (m) on the 3D boxes before question generation
    share: float = 1.0  # share of spatial rows in the training mix (rest: object colour rows)


POINTS: dict[str, Point] = {
    "base": Point(),
    "frozen": Point(freeze_vision=True),
    "noise-0.1": Point(sigma=0.1),
    "noise-0.2": Point(sigma=0.2),
    "noise-0.3": Point(sigma=0.3),
    "share-0": Point(share=0.0),
    "share-0.25": Point(share=0.25),
    "share-0.5": Point(share=0.5),
}
SPATIAL_METRICS = ("qualitative_accuracy", "parse_rate", "within_50_200", "within_90_110", "median_rel_error")


def dataset_for(root: Path, p: Point) -> Path:
    return mix_dataset(root, p.share) if p.share < 1.0 else root / sigma_dir(p.sigma)


_COLOUR_WORD = re.compile(r"[a-z]+(?: [a-z]+)?")


def colour_correct(answer: str, truth: str, vocabulary: set[str]) -> bool:
    """The first colour word the answer names is the truth (so "red or blue" counts as red)."""
    text = answer.lower()
    hits = [(m.start(), c) for c in vocabulary for m in re.finditer(rf"\b{re.escape(c)}\b", text)]
    return bool(hits) and min(hits)[1] == truth


def colour_scores(model: Any, examples: list[Any], batch_size: int = 64) -> dict[str, float]:
    """Object-colour accuracy from the model's own generated text (``SpatialVLM`` declines non-spatial
    questions, so this calls ``generate`` directly), and the constant-answer baseline on the same rows."""
    from spatialvlm_core.dataset.reader import ImageCache

    rows = [e for e in examples if e.qa is not None and e.qa.qtype == COLOUR_QTYPE]
    if not rows:
        return {"colour_accuracy": float("nan"), "colour_majority": float("nan"), "n_colour": 0.0}
    vocab = {e.qa.choice for e in rows if e.qa.choice}
    images = ImageCache(None)
    texts: list[str] = []
    for s in range(0, len(rows), batch_size):
        chunk = rows[s : s + batch_size]
        texts += model.generate(
            [images(e.image) for e in chunk],
            [e.question for e in chunk],
            max_new_tokens=model.preset.max_answer_tokens,
        )
    ok = [colour_correct(t, e.qa.choice or "", vocab) for t, e in zip(texts, rows, strict=True)]
    majority = Counter(e.qa.choice for e in rows).most_common(1)[0][1] / len(rows)
    return {"colour_accuracy": sum(ok) / len(ok), "colour_majority": majority, "n_colour": float(len(rows))}


def run_one(
    root: Path,
    name: str,
    seed: int,
    steps: int,
    batch_size: int,
    device: str,
    init: Path | None = DEFAULT_MODEL_DIR,
    score: bool = True,
) -> dict[str, Any]:
    """Train point ``name`` with ``seed`` and score it on the held-out split (``score`` False: train only, for
    calibration); returns the result row."""
    import torch

    from spatialvlm_core.dataset.reader import load_qa_dataset
    from spatialvlm_core.infer import SpatialVLM
    from spatialvlm_core.model.evaluate import evaluate
    from spatialvlm_core.train import TrainConfig, train

    p = POINTS[name]
    data = dataset_for(root, p)
    held_spatial = load_qa_dataset(root / "heldout-spatial")
    held_colour = load_qa_dataset(root / "heldout-colour")
    if init is not None and not (init / "model.safetensors").is_file():
        raise FileNotFoundError(f"vision tower init: no model.safetensors in {init}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"study-{name}-{seed}-") as tmp:
        cfg = TrainConfig(
            data=str(data),
            out=tmp,
            preset=study_preset(init),
            steps=steps,
            batch_size=batch_size,
            lr=1e-3,
            warmup_steps=min(100, steps // 10),
            seed=seed,
            checkpoint_every=10**9,
            resume=False,
            progress=False,
            device=device,
            freeze_vision=p.freeze_vision,
            dense_weight=0.0,
            init_vision=str(init) if init else None,
            log_every=max(1, steps // 20),
        )
        summary = train(cfg)
        t1 = time.perf_counter()
        tool = SpatialVLM.load(tmp, device=device, batch_size=128)
        params = sum(t.numel() for t in tool.model.parameters())
        scores: dict[str, Any] = {}
        if score:
            with torch.no_grad():
                scores = evaluate(tool, held_spatial) | colour_scores(tool.model, held_colour)
        curve = [
            json.loads(ln) for ln in (Path(tmp) / "metrics.jsonl").read_text().splitlines() if ln.strip()
        ]
    row = {
        "point": name,
        "seed": seed,
        **p.model_dump(),
        "steps": steps,
        "batch_size": batch_size,
        "device": device,
        "examples": summary["examples"],
        "final_loss": summary["final_loss"],
        "params": params,
        "train_s": t1 - t0,
        "eval_s": time.perf_counter() - t1,
        "loss_curve": [[r["step"], r["loss"]] for r in curve if "loss" in r],
        # Median over the logged windows: the training loop's own speed, without start-up and evaluation.
        "samples_per_s": float(
            np.median([r["samples_per_s"] for r in curve if "samples_per_s" in r] or [np.nan])
        ),
    }
    keep = (
        *SPATIAL_METRICS,
        "colour_accuracy",
        "colour_majority",
        "n_colour",
        "n_qualitative",
        "n_quantitative",
    )
    return row | {k: float(scores[k]) for k in keep if k in scores}


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m evals.train_studies ARGS`` with one CPU thread (many run side by side), output to ``log``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "evals.train_studies", *args]
    # The command is this module with arguments built here (no user text): S603 does not apply.
    return subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=REPO)  # noqa: S603


def _one_args(root: Path, point: str, seed: int, steps: int, batch_size: int, device: str,
              result: Path) -> list[str]:
    """Arguments of ``evals.train_studies one``: one study point at one seed, its result JSON at ``result``."""
    return ["one", "--data", str(root), "--point", point, "--seed", str(seed), "--steps", str(steps),
            "--batch-size", str(batch_size), "--device", device, "--json", str(result)]


def calibrate(root: Path, out: Path, jobs: int, steps: int, batch_size: int, device: str) -> float:
    """Training steps per second of one process while ``jobs`` unfrozen runs share the machine (the slowest
    point; no scoring): the median over the processes of their logged training speed."""
    (out / "calibrate").mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(jobs):
        f = out / "calibrate" / f"run-{i}.json"
        args = [*_one_args(root, "base", 1000 + i, steps, batch_size, device, f), "--no-eval"]
        procs.append((f, _spawn(args, out / "calibrate" / f"run-{i}.log")))
    rates = []
    for f, proc in procs:
        if proc.wait() == 0 and f.is_file():
            rates.append(json.loads(f.read_text())["samples_per_s"] / batch_size)
    if not rates:
        raise RuntimeError(f"calibration failed: no run finished; see {out / 'calibrate'}/*.log")
    return float(np.median(rates))


def run_all(
    root: Path,
    out: Path,
    points: list[str],
    seeds: list[int],
    steps: int | None,
    batch_size: int,
    device: str,
    jobs: int,
    deadline_s: float | None = None,
    train_budget_s: float = 170.0,
    max_wall_s: float | None = None,
    step_range: tuple[int, int] = (300, 3600),
    calibrate_steps: int = 60,
) -> Path:
    """Every point x seed as its own process, ``jobs`` at a time, seed-major (all points' first seeds start
    first, so a run cut short still leaves the most points covered). Writes ``out/results.json`` after every
    finished run and logs to ``out/logs/``; returns the results path.

    ``steps`` None: calibrate first and take the steps one run trains in ``train_budget_s`` (within
    ``step_range``). No run starts after ``deadline_s``, nor when the slowest finished run says it would end
    after ``max_wall_s``.
    """
    root, out = root.resolve(), out.resolve()
    unknown = [p for p in points if p not in POINTS]
    if unknown:
        raise ValueError(f"unknown study points {unknown}; known: {sorted(POINTS)}")
    for p in points:  # the mixes are written once here, not raced by the training processes
        dataset_for(root, POINTS[p])
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    calibration: dict[str, Any] | None = None
    if steps is None:
        rate = calibrate(root, out, min(jobs, len(points) * len(seeds)), calibrate_steps, batch_size, device)
        steps = int(min(step_range[1], max(step_range[0], round(rate * train_budget_s / 100) * 100)))
        calibration = {"steps_per_s": rate, "train_budget_s": train_budget_s, "s": time.perf_counter() - t0}
        print(f"calibration: {rate:.1f} steps/s per process with {jobs} at once -> {steps} steps", flush=True)
    queue = [(p, s) for s in seeds for p in points]
    running: dict[tuple[str, int], tuple[subprocess.Popen[bytes], float]] = {}
    durations: list[float] = []
    failed: list[dict[str, Any]] = []
    skipped: list[tuple[str, int]] = []
    results = out / "results.json"

    def collect() -> None:
        rows = [json.loads(f.read_text()) for f in sorted((out / "runs").glob("*.json"))]
        meta = {
            "points": {k: POINTS[k].model_dump() for k in points},
            "seeds": seeds,
            "steps": steps,
            "batch_size": batch_size,
            "device": device,
            "jobs": jobs,
            "preset": PRESET,
            "calibration": calibration,
            "data": json.loads((root / "study_data.json").read_text()),
            "wall_s": time.perf_counter() - t0,
            "failed": failed,
            "not_started": [list(q) for q in skipped + queue],
        }
        results.write_text(json.dumps({"meta": meta, "runs": rows}, indent=1))

    def stop(signum: int, _frame: Any) -> None:
        # A time limit from outside (``timeout``): end the training processes this runner started, keep the rest.
        for key, (proc, _) in running.items():
            proc.terminate()
            failed.append({"point": key[0], "seed": key[1], "rc": f"stopped by signal {signum}"})
        running.clear()
        collect()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    while queue or running:
        now = time.perf_counter() - t0
        late = deadline_s is not None and now > deadline_s
        if max_wall_s is not None and durations and now + max(durations) > max_wall_s:
            late = True
        while queue and len(running) < jobs and not late:
            p, s = queue.pop(0)
            args = _one_args(root, p, s, steps, batch_size, device, out / "runs" / f"{p}-s{s}.json")
            running[(p, s)] = (_spawn(args, out / "logs" / f"{p}-s{s}.log"), time.perf_counter())
        if late and queue:
            print(f"[{now:6.0f}s] time is short: {len(queue)} runs not started", flush=True)
            skipped += queue
            queue = []
        time.sleep(0.5)
        for key, (proc, started) in list(running.items()):
            if proc.poll() is not None:
                del running[key]
                durations.append(time.perf_counter() - started)
                if proc.returncode != 0:
                    failed.append({"point": key[0], "seed": key[1], "rc": proc.returncode})
                print(
                    f"[{time.perf_counter() - t0:6.0f}s] {key[0]} seed {key[1]}: rc {proc.returncode}",
                    flush=True,
                )
                collect()
    collect()
    return results


def preflight(device: str, init: Path | None = DEFAULT_MODEL_DIR) -> str:
    """Build the study model with the shipped tower and take one training step on ``device``: a machine that
    lacks a package or a GPU fails here in seconds, not after the runs. Returns a one-line description."""
    import torch
    from PIL import Image

    from spatialvlm_core.train import TrainConfig, build_model

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch {torch.__version__} sees no GPU")
    t0 = time.perf_counter()
    q, a = "Is the red chair to the left of the bed?", "Yes, the red chair is to the left of the bed."
    cfg = TrainConfig(
        data="-",
        out="-",
        preset=study_preset(init),
        init_vision=str(init) if init else None,
        freeze_vision=False,
    )
    model = build_model(cfg, [q, a]).to(device).train()
    batch = model.encode([Image.new("RGB", (128, 96), (120, 100, 80))], [q], [a])
    model.loss(batch).backward()
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    return (
        f"preflight ok in {time.perf_counter() - t0:.1f} s: torch {torch.__version__}, {name}, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, one step taken"
    )
