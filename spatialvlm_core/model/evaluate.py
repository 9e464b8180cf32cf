"""Scoring a model on QA examples: the paper's metric for quantitative answers (prediction within
[0.5x, 2x] of the truth), plus relative error and predicate accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialvlm_core.data import QAExample


def evaluate(tool: Any, examples: list[QAExample]) -> dict[str, float]:
    """``tool`` is a ``SpatialVLM`` (anything with ``ask_batch``); examples need their QAPair."""
    exs = [e for e in examples if e.qa is not None]
    answers = tool.ask_batch([str(e.image) for e in exs], [e.question for e in exs])
    within, rel, parsed, pred_ok, n_pred = [], [], 0, 0, 0
    for e, a in zip(exs, answers, strict=True):
        qa = e.qa
        assert qa is not None
        if qa.kind == "quantitative" and qa.unit in ("m", "cm", "mm", "ft", "in", "yd", "km"):
            truth = qa.truth if qa.truth is not None else qa.value
            if a.meters is not None and truth:
                parsed += 1
                within.append(0.5 <= a.meters / truth <= 2.0)
                rel.append(abs(a.meters - truth) / truth)
            else:
                within.append(False)
        elif qa.kind == "predicate":
            n_pred += 1
            pred_ok += int(a.boolean is not None and a.boolean == qa.truth_bool)
    return {
        "n_quantitative": float(len(within)),
        "within_50_200": float(np.mean(within)) if within else float("nan"),
        "median_rel_error": float(np.median(rel)) if rel else float("nan"),
        "parse_rate": parsed / len(within) if within else float("nan"),
        "n_predicate": float(n_pred),
        "predicate_accuracy": pred_ok / n_pred if n_pred else float("nan"),
    }
