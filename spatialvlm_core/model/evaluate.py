"""Scoring a model on QA examples.

Qualitative: predicates (parsed yes/no equals the truth) and two-way choices (the right caption is the first
candidate the answer names). Quantitative lengths: valid-number rate (a length was parsed, a bare number read as
metres, from a sentence that answers the question: ``parsing.rejection``), the paper's metric (prediction within [0.5x, 2x] of the truth), the
tighter [0.9x, 1.1x] and the median relative error. Each row is scored by ``model.scoring`` (the one scorer,
which ``evals.qa_metrics`` uses too); this module picks the rows and aggregates.
Auxiliary rows (``provenance.aux``, e.g. grounding "locate" rows) are not scored.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from spatialvlm_core.model import scoring
from spatialvlm_core.model.base import to_pil
from spatialvlm_core.model.composed.relation import relation_targets
from spatialvlm_core.types import Answer, QAExample, QAPair


def choice_correct(qa: QAPair, text: str) -> bool:
    """The right caption occurs in ``text`` and no other offered caption (``provenance["captions"]``) occurs
    before it (``scoring.choice_correct``)."""
    if not qa.choice:
        return False
    return scoring.choice_correct(text, qa.choice, qa.provenance.get("captions", []))


def score_one(qa: QAPair, ans: Answer) -> dict[str, Any]:
    """Per-example outcome of ``scoring.score_prediction``: {"group": qualitative, "ok"} or {"group":
    quantitative, "valid", "w2", "w11", "rel"}; empty for unscored rows (auxiliary ones, and metric rows that are
    no length: counts, degrees and clock hours are the benchmark eval's, not the training eval's)."""
    if qa.provenance.get("aux"):
        return {}
    if qa.kind == "predicate":
        return {"group": "qualitative", "ok": bool(scoring.score_prediction(qa, ans).correct)}
    if qa.kind == "choice":
        return {"group": "qualitative", "ok": choice_correct(qa, ans.text)}
    if qa.unit in scoring.LENGTH_UNITS:
        truth = qa.truth if qa.truth is not None else qa.value
        if not truth:
            return {}
        s = scoring.score_prediction(qa if qa.truth is not None else qa.model_copy(update={"truth": truth}), ans)
        if not s.valid:
            return {"group": "quantitative", "valid": False, "w2": False, "w11": False}
        return {"group": "quantitative", "valid": True, "w2": bool(s.within_2x), "w11": bool(s.within_10pct),
                "rel": s.rel_error}
    return {}


def evaluate(tool: Any, examples: list[QAExample], per_type: bool = False) -> dict[str, Any]:
    """``tool`` is a ``SpatialVLM`` (anything with ``ask_batch``); examples need their QAPair."""
    exs = [e for e in examples if e.qa is not None and not e.qa.provenance.get("aux")]
    answers = tool.ask_batch([str(e.image) for e in exs], [e.question for e in exs])
    qual: list[bool] = []
    pred: list[bool] = []
    choice: list[bool] = []
    quant: list[dict[str, Any]] = []
    by_type: dict[str, list[float]] = defaultdict(list)
    for e, a in zip(exs, answers, strict=True):
        qa = e.qa
        assert qa is not None
        s = score_one(qa, a)
        if s.get("group") == "qualitative":
            qual.append(s["ok"])
            (pred if qa.kind == "predicate" else choice).append(s["ok"])
            by_type[qa.qtype].append(float(s["ok"]))
        elif s.get("group") == "quantitative":
            quant.append(s)
            by_type[qa.qtype].append(float(s["w2"]))

    def mean(xs: list[Any]) -> float:
        return float(np.mean(xs)) if xs else float("nan")

    rel = [q["rel"] for q in quant if q["valid"]]
    out: dict[str, Any] = {
        "n_qualitative": float(len(qual)),
        "qualitative_accuracy": mean(qual),
        "n_predicate": float(len(pred)),
        "predicate_accuracy": mean(pred),
        "choice_accuracy": mean(choice),
        "n_quantitative": float(len(quant)),
        "parse_rate": mean([q["valid"] for q in quant]),
        "within_50_200": mean([q["w2"] for q in quant]),
        "within_90_110": mean([q["w11"] for q in quant]),
        "median_rel_error": float(np.median(rel)) if rel else float("nan"),
    }
    if per_type:
        out["per_type"] = {k: {"n": len(v), "score": mean(v)} for k, v in sorted(by_type.items())}
    return out


def image_use_check(tool: Any, examples: list[QAExample], seed: int = 0) -> dict[str, dict[str, float]]:
    """Scores with the true images vs. with images shuffled across rows (same questions).

    A model that grounds its answers in the image loses accuracy when the image is swapped; one that answers
    from caption priors (object category -> typical size) scores the same either way.
    """
    import dataclasses

    exs = [e for e in examples if e.qa is not None and not e.qa.provenance.get("aux")]
    perm = np.random.default_rng(seed).permutation(len(exs))
    shuffled = [dataclasses.replace(e, image=exs[j].image) for e, j in zip(exs, perm, strict=True)]
    keep = ("qualitative_accuracy", "parse_rate", "within_50_200", "within_90_110")
    true, swap = evaluate(tool, exs), evaluate(tool, shuffled)
    return {"true_images": {k: true[k] for k in keep}, "shuffled_images": {k: swap[k] for k in keep}}


def relation_head_check(model: Any, examples: list[QAExample], batch_size: int = 64) -> dict[str, float] | None:
    """The relation head's own decisions on the yes/no and which-of-two rows (sign of its logit against the
    truth) and its log-value estimates on the metric rows (share within [0.5x, 2x] and [0.9x, 1.1x]), beside the
    verbalised answers' scores: where the two differ, the language model misreads the head. None for a model
    without one."""
    import torch

    if getattr(model, "relation", None) is None:
        return None
    exs = [e for e in examples if e.qa is not None and not e.qa.provenance.get("aux")]
    t = relation_targets([e.qa for e in exs])
    outs = []
    with torch.no_grad():
        for s in range(0, len(exs), batch_size):
            chunk = exs[s:s + batch_size]
            ids, _ = model.prompt_batch([e.question for e in chunk])  # left padding, as generation has it
            _, rel = model.embed(model.pixels([to_pil(e.image) for e in chunk]), ids)
            outs.append(rel.float().cpu())
    out = torch.cat(outs)
    dec, val = t["rel_decision"], t["rel_log_value"]
    ok_d, ok_v = torch.isfinite(dec), torch.isfinite(val)
    ratio = (out[ok_v, 1] - val[ok_v]).exp()
    return {"decision_accuracy": float(((out[ok_d, 0] > 0).float() == dec[ok_d]).float().mean()),
            "value_within_50_200": float(((ratio >= 0.5) & (ratio <= 2.0)).float().mean()),
            "value_within_90_110": float(((ratio >= 0.9) & (ratio <= 1.1)).float().mean()),
            "n_decisions": float(ok_d.sum()), "n_values": float(ok_v.sum())}
