"""One relation (left/right yes-no) learned by the tiny vs tiny-relation presets on a frozen tower (README
"Training the SpatialVLM"; evals/reports/train_relation.md). One seed: a probe, not one of the paper's studies.
(The earlier tiny-anchor arm is gone with its preset: pre-subtracted pair geometry, retired as not better.)

    python -m evals.train_studies relation [--steps 800]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR

METRICS = ("qualitative_accuracy", "parse_rate", "within_50_200", "within_90_110", "median_rel_error")


def run_arm(
    name: str, data: Path, held: Path, steps: int, batch_size: int, preset: str = "tiny", **train_kw: Any
) -> dict[str, Any]:
    from spatialvlm_core.dataset.reader import load_qa_dataset
    from spatialvlm_core.infer import SpatialVLM
    from spatialvlm_core.model.evaluate import evaluate
    from spatialvlm_core.train import TrainConfig, train

    with tempfile.TemporaryDirectory(prefix=f"spatialvlm-study-{name}-") as tmp:
        cfg = TrainConfig(
            data=str(data),
            out=tmp,
            preset=preset,
            steps=steps,
            batch_size=batch_size,
            lr=1e-3,
            warmup_steps=min(100, steps // 10),
            seed=0,
            checkpoint_every=10**9,
            resume=False,
            progress=False,
            **train_kw,
        )
        summary = train(cfg)
        qtypes = train_kw.get("qtypes")
        scores = evaluate(
            SpatialVLM.load(tmp),
            [
                e
                for e in load_qa_dataset(held)
                if qtypes is None or (e.qa is not None and e.qa.qtype in qtypes)
            ],
        )
    row = {"arm": name, "train_min": summary["elapsed_s"] / 60, "final_loss": summary["final_loss"], **scores}
    print(f"{name}: " + ", ".join(f"{k}={row[k]:.3f}" for k in ("final_loss", *METRICS)), flush=True)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = ["arm", "final_loss", *METRICS, "train_min"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out.append("| " + " | ".join(str(r[h]) if h == "arm" else f"{r[h]:.3f}" for h in head) + " |")
    return "\n".join(out)


def relation_study(steps: int, batch_size: int, cache: Path, out: Path) -> str:
    """Train both presets on left_right_predicate rows of make_model's split; writes ``out`` (+ .json)."""
    from spatialvlm_core.make_model import sim_splits

    init = str(DEFAULT_MODEL_DIR) if (DEFAULT_MODEL_DIR / "model.safetensors").is_file() else None
    # make_model's 5,000-scene split: one relation has ~4,600 rows there (600 scenes would repeat them).
    data, held = sim_splits(cache, 5000, 150, progress=False, workers=2)
    rows = [
        run_arm(
            preset,
            data,
            held,
            steps,
            batch_size,
            preset=preset,
            qtypes=["left_right_predicate"],
            init_vision=init,
            freeze_vision=init is not None,
        )  # a frozen tower is served cached
        for preset in ("tiny", "tiny-relation")
    ]
    note = (
        f"vision tower initialised from {'the default model' if init else 'random weights'}; tower frozen; "
        "trained and scored on left_right_predicate only (make_model's train split and its 150-scene "
        "held-out split)"
    )
    md = (
        f"# Training study: relation\n\nCommand: `python -m evals.train_studies relation --steps {steps}`; tiny "
        f"and tiny-relation presets, batch {batch_size}, seed 0; {note}. Scored on 150 held-out scenes (clean "
        f"labels).\n\n{table(rows)}\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    return md
