"""Planner eval: plan accuracy and decision accuracy with exact geometry on the corpus's held-out split.

Questions come from ``spatial_agent.corpus.corpus("heldout", n, seed)``: frames, object classes, colours,
descriptions, distractors and some length forms that no planner is trained on; each question has a gold plan and
the truth on its exact room. Per planner and per family:

- **plan accuracy**: the plan measures the same things as the gold plan (same kinds, objects that resolve to the
  same objects in the room, same relation up to its converse) and its ``compute`` agrees with the gold one on
  random values of the measurements (:func:`plans_equivalent`); a refusal matches a refusal;
- **decision accuracy**: the agent (planner + geometric tool on the exact room) is run; each answer is *correct*,
  an honest *refusal* (no decision and no value: a refusal, or a sub-query it could not answer) or *wrong* (a
  decision or value that is not the truth, or an answer where the honest one is a refusal);
- planner latency (the first ``plan`` call of a question) and planner calls per question (re-plans included).

The bar for an LLM planner: decides >= 97 % correctly, wrong <= 0.5 %, and per family at least the rules'
accuracy (the rules are always run as the reference).

Run: ``.venv/bin/python -m evals.planner [--n 760] [--seed 0] [--planner rules|embedded|chain|openai|module:attr]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatial_agent.agent import SpatialAgent
from spatial_agent.arith import ArithError, Quantity, evaluate
from spatial_agent.corpus import FAMILIES, PlanExample, corpus
from spatial_agent.planners.base import Planner, PlannerError
from spatial_agent.schema import Plan, SubQuery
from spatial_agent.tools import GeometricTool
from spatialvlm_core.phrases import resolve, singular
from spatialvlm_core.types import Scene3D

BAR_CORRECT = 0.97
BAR_WRONG = 0.005
# Named planners: "module:attribute" of a Planner class or a no-argument factory. The LLM planners fill theirs.
NAMED: dict[str, str] = {
    "rules": "spatial_agent.planners.rules:RulePlanner",
    "embedded": "spatial_agent.planners.embedded:EmbeddedPlanner",
    "chain": "spatial_agent.planners.chain:default_planner",
    "openai": "spatial_agent.planners.openai_planner:OpenAIPlanner.from_env",
}
_CONVERSE = {"left_of": "right_of", "right_of": "left_of", "in_front_of": "behind", "behind": "in_front_of",
             "above": "below", "below": "above", "over": "under", "under": "over", "next_to": "next_to"}
_SYMMETRIC = frozenset({"distance", "closest", "gap"})
_ARTICLES = re.compile(r"^(?:the|a|an|all|any|some|both)\s+")


def load_planner(spec: str) -> Planner:
    """A planner by name (``NAMED``) or ``module:attribute`` (a class or factory called with no arguments)."""
    target = NAMED.get(spec, spec)
    if ":" not in target:
        raise ValueError(f"--planner {spec!r}: use one of {sorted(NAMED)} or module:attribute")
    module, attr = target.split(":", 1)
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"--planner {spec!r}: cannot import {module}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"--planner {spec!r}: {module} has no {attr}")
        obj = getattr(obj, part)
    planner = obj()
    if planner is None:
        raise ValueError(f"--planner {spec!r}: {target} returned no planner (endpoint not configured?)")
    if not isinstance(planner, Planner):
        raise ValueError(f"--planner {spec!r}: {target} is not a planner (needs .name and .plan(question))")
    return planner


# --------------------------------------------------------------------------- plan equivalence
def _norm(phrase: str) -> str:
    return _ARTICLES.sub("", re.sub(r"\s+", " ", phrase.lower().strip(" .,'\"")))


def same_object(p: str | None, q: str | None, scene: Scene3D) -> bool:
    """Two phrases name the same thing: equal up to articles, or both resolve strictly to the same objects."""
    if p is None or q is None:
        return p is q
    if _norm(p) == _norm(q):
        return True
    rp, rq = resolve(scene, p), resolve(scene, q)
    return (rp.found and rq.found and not rp.relaxed and not rq.relaxed
            and sorted(o.id for o in rp.objects) == sorted(o.id for o in rq.objects))


def _same_query(got: SubQuery, gold: SubQuery, scene: Scene3D) -> bool:
    if got.kind != gold.kind:
        return False
    if gold.kind == "exists":  # "chairs" / "chair" / "the chairs": the same class counted
        return " ".join(singular(w) for w in _norm(got.a).split()) == " ".join(
            singular(w) for w in _norm(gold.a).split())
    if gold.kind == "relation":
        if got.within != gold.within and not (got.within and gold.within and math.isclose(got.within, gold.within)):
            return False
        if got.relation == gold.relation and same_object(got.a, gold.a, scene) and same_object(got.b, gold.b, scene):
            return True
        return (got.relation == _CONVERSE.get(gold.relation or "") and same_object(got.a, gold.b, scene)
                and same_object(got.b, gold.a, scene))
    if same_object(got.a, gold.a, scene) and same_object(got.b, gold.b, scene):
        return True
    return gold.kind in _SYMMETRIC and same_object(got.a, gold.b, scene) and same_object(got.b, gold.a, scene)


def _literals(expr: str) -> list[float]:
    return [float(x) for x in re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)", expr)]


def plans_equivalent(got: Plan | None, gold: Plan, scene: Scene3D, trials: int = 200, seed: int = 0) -> bool:
    """Whether ``got`` measures what ``gold`` does and computes the same function of it (see module docstring)."""
    if got is None:
        return False
    if gold.refusal or got.refusal:
        return bool(gold.refusal) and bool(got.refusal)
    if (gold.options is None) != (got.options is None) or len(got.subqueries) != len(gold.subqueries):
        return False
    gold_compute = gold.compute
    if gold.options and got.options:
        if same_object(got.options[0], gold.options[0], scene) and same_object(got.options[1], gold.options[1], scene):
            pass
        elif same_object(got.options[0], gold.options[1], scene) and same_object(got.options[1], gold.options[0], scene):
            gold_compute = f"not ({gold.compute})"  # the options listed the other way round
        else:
            return False
    # Match sub-queries one to one.
    mapping: dict[str, str] = {}
    free = list(gold.subqueries)
    for q in got.subqueries:
        match = next((g for g in free if _same_query(q, g, scene)), None)
        if match is None:
            return False
        free.remove(match)
        mapping[q.id] = match.id
    r = random.Random(seed)
    scales = _literals(gold.compute) + _literals(got.compute) or [1.0]
    for t in range(trials):
        env: dict[str, Quantity | bool] = {}
        for g in gold.subqueries:
            if g.kind == "relation":
                env[g.id] = r.random() < 0.5
            elif g.kind == "exists":
                env[g.id] = Quantity(float(r.randint(0, 6)))
            elif g.kind == "size_compare":
                env[g.id] = Quantity(r.uniform(0.1, 5.0))
            else:  # lengths: half the trials near a stated threshold, where a misread one shows
                base = r.choice(scales) if t % 2 else r.uniform(0.05, 5.0)
                env[g.id] = Quantity(base * r.uniform(0.5, 1.5), 1)
        try:
            want = evaluate(gold_compute, env)
            have = evaluate(got.compute, {k: env[v] for k, v in mapping.items()})
        except ArithError:
            return False
        if isinstance(want, Quantity) and isinstance(have, Quantity):
            if want.dim != have.dim or not math.isclose(want.value, have.value, rel_tol=1e-6, abs_tol=1e-9):
                return False
        elif want != have or isinstance(want, Quantity) != isinstance(have, Quantity):
            return False
    return True


# --------------------------------------------------------------------------- running
class _Recording:
    """Wraps a planner: times the first plan of each question, counts re-plans, keeps the plan it gave."""

    def __init__(self, inner: Planner) -> None:
        self.inner = inner
        self.name = inner.name
        self.first: Plan | None = None
        self.error: str | None = None
        self.seconds = 0.0

    def first_plan(self, question: str) -> None:
        t0 = time.perf_counter()
        try:
            self.first, self.error = self.inner.plan(question), None
        except PlannerError as e:
            self.first, self.error = None, str(e)
        self.seconds = time.perf_counter() - t0

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        if feedback is None and self.first is not None:
            return self.first  # the agent's first call: already made (and timed) above
        return self.inner.plan(question, feedback)


@dataclass
class FamilyScore:
    n: int = 0
    plan_ok: int = 0
    correct: int = 0
    refused: int = 0
    wrong: int = 0

    def add(self, plan_ok: bool, outcome: str) -> None:
        self.n += 1
        self.plan_ok += plan_ok
        self.correct += outcome == "correct"
        self.refused += outcome == "refused"
        self.wrong += outcome == "wrong"

    def rate(self, k: int) -> float:
        return k / max(1, self.n)


@dataclass
class PlannerScore:
    name: str
    total: FamilyScore = field(default_factory=FamilyScore)
    families: dict[str, FamilyScore] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    wrong_examples: list[str] = field(default_factory=list)
    refused_examples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def fs(s: FamilyScore) -> dict[str, float]:
            return {"n": s.n, "plan_accuracy": s.rate(s.plan_ok), "correct": s.rate(s.correct),
                    "refused": s.rate(s.refused), "wrong": s.rate(s.wrong)}

        lat = sorted(self.latencies) or [0.0]
        return {"planner": self.name, **fs(self.total), "families": {k: fs(v) for k, v in self.families.items()},
                "latency_ms_median": 1000 * statistics.median(lat), "latency_ms_p95": 1000 * lat[int(0.95 * (len(lat) - 1))],
                "planner_calls_per_question": statistics.mean(self.calls or [0])}


def outcome(ex: PlanExample, out: Any) -> str:
    """'correct', 'refused' (no decision and no value) or 'wrong' for one agent answer."""
    plan: Plan | None = out.plan
    answered = out.decision is not None or out.value is not None
    if ex.truth is None:
        if plan is not None and plan.refusal and not answered:
            return "correct"
        return "wrong" if answered else "refused"
    if isinstance(ex.truth, bool):
        if out.decision is None:
            return "wrong" if out.value is not None else "refused"
        if ex.plan.options:  # which of two: the chosen object, whichever order the planner listed them in
            chosen = plan.chosen(out.decision) if plan is not None else None
            return "correct" if chosen and same_object(chosen, ex.plan.chosen(ex.truth), ex.scene) else "wrong"
        if plan is not None and plan.options:
            return "wrong"  # answered "which" to a yes/no question
        return "correct" if out.decision is ex.truth else "wrong"
    if out.value is None:
        return "wrong" if out.decision is not None else "refused"
    return "correct" if math.isclose(out.value, ex.truth, rel_tol=1e-3, abs_tol=1e-6) else "wrong"


def score_planner(planner: Planner, examples: list[PlanExample],
                  progress: Callable[[int], None] | None = None) -> PlannerScore:
    rec = _Recording(planner)
    res = PlannerScore(name=planner.name)
    tools: dict[str, GeometricTool] = {}
    for i, ex in enumerate(examples):
        rec.first_plan(ex.question)
        res.latencies.append(rec.seconds)
        plan_ok = plans_equivalent(rec.first, ex.plan, ex.scene)
        tool = tools.setdefault(ex.scene.scene_id, GeometricTool(scene=ex.scene))
        out = SpatialAgent(tool=tool, planner=rec).ask(None, ex.question)
        res.calls.append(out.planner_calls)
        o = outcome(ex, out)
        res.total.add(plan_ok, o)
        res.families.setdefault(ex.family, FamilyScore()).add(plan_ok, o)
        line = f"[{ex.family}] {ex.question} truth={ex.truth} :: {out.answer}"
        if o == "wrong" and len(res.wrong_examples) < 40:
            res.wrong_examples.append(line)
        if o == "refused" and len(res.refused_examples) < 40:
            res.refused_examples.append(line)
        if progress:
            progress(i)
    return res


def bar(score: PlannerScore, reference: PlannerScore) -> list[str]:
    """Why ``score`` misses the bar (empty: it passes): correct, wrong, and per family vs the reference."""
    t = score.total
    why = []
    if t.rate(t.correct) < BAR_CORRECT:
        why.append(f"correct {t.rate(t.correct):.1%} < {BAR_CORRECT:.0%}")
    if t.rate(t.wrong) > BAR_WRONG:
        why.append(f"wrong {t.rate(t.wrong):.1%} > {BAR_WRONG:.1%}")
    for fam, ref in reference.families.items():
        s = score.families.get(fam)
        if s is not None and s.rate(s.correct) < ref.rate(ref.correct):
            why.append(f"{fam}: {s.rate(s.correct):.0%} < rules {ref.rate(ref.correct):.0%}")
    return why


def table(scores: list[PlannerScore]) -> str:
    lines = ["| planner | questions | plan accuracy | correct | refused | wrong | latency ms median / p95 "
             "| planner calls/q |", "|---|---|---|---|---|---|---|---|"]
    for s in scores:
        j = s.to_json()
        lines.append(f"| {s.name} | {s.total.n} | {j['plan_accuracy']:.1%} | {j['correct']:.1%} | {j['refused']:.1%} "
                     f"| {j['wrong']:.1%} | {j['latency_ms_median']:.2f} / {j['latency_ms_p95']:.2f} "
                     f"| {j['planner_calls_per_question']:.2f} |")
    lines += ["", "| family | " + " | ".join(f"{s.name} plan / correct / refused / wrong" for s in scores) + " |",
              "|---|" + "---|" * len(scores)]
    for fam in FAMILIES:
        cells = []
        for s in scores:
            f = s.families.get(fam, FamilyScore())
            cells.append(f"{f.rate(f.plan_ok):.0%} / {f.rate(f.correct):.0%} / {f.rate(f.refused):.0%} / "
                         f"{f.rate(f.wrong):.0%} (n={f.n})")
        lines.append(f"| {fam} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40 * len(FAMILIES), help="held-out questions (families in turn)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", choices=["heldout", "train"], default="heldout")
    ap.add_argument("--planner", action="append", default=[],
                    help=f"planner(s) besides the rules: {sorted(NAMED)} or module:attribute (repeatable)")
    ap.add_argument("--show", type=int, default=10, help="wrong / refused examples to print per planner")
    ap.add_argument("--json", type=Path, help="write the scores here")
    args = ap.parse_args(argv)

    examples = corpus(args.split, args.n, args.seed)
    print(f"# Planner eval: {len(examples)} {args.split} questions, {len(FAMILIES)} families, seed {args.seed}")
    scores = [score_planner(load_planner("rules"), examples)]
    for spec in args.planner:
        if spec != "rules":
            scores.append(score_planner(load_planner(spec), examples))
    print(table(scores))
    for s in scores[1:]:
        why = bar(s, scores[0])
        print(f"\n{s.name}: {'meets the bar' if not why else 'misses the bar: ' + '; '.join(why)}")
    for s in scores:
        for line in s.wrong_examples[: args.show]:
            print(f"  {s.name} WRONG {line}")
        for line in s.refused_examples[: args.show]:
            print(f"  {s.name} REFUSED {line}")
    if args.json:
        args.json.write_text(json.dumps([s.to_json() for s in scores], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
