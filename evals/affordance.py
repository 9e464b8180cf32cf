"""Affordance eval: yes/no questions with exact truth ("Can a 0.9 m wide robot fit between the sofa and the
armchair?") over synthetic scenes with controlled gaps and sizes, held-out seeds, many phrasings.

Rows (each skipped with a reason when its ingredients are missing):
  rules+geometric(GT scene)        embedded planner, geometric tool on the exact scene (ceiling)
  rules+geometric(GT depth recon)  same tool on ``spatialvlm_core.reconstruct`` from the sim frame's exact depth
  endpoint+geometric(GT scene)     OpenAIPlanner when SPATIAL_AGENT_BASE_URL / SPATIAL_AGENT_MODEL are set
  rules+learned                    the learned SpatialVLM tool when a default checkpoint ships

Scenes come from ``spatialvlm_core.sim.generate_scene(seed, SimConfig(gap=...))`` when it exists (its
provenance gap is the truth); otherwise from a procedural generator here with exact boxes.
Truth definitions match the agent's: reach / "within R of" is the minimal distance between the two objects'
boxes (``geometry.box_distance``), not centre to centre. "Fit under X" has no yes/no truth from boxes (they hide
the space beneath an object): the correct answer is an honest refusal, and only that counts as a hit.
Metrics: accuracy, sub-query validity (planned kinds as expected and every sub-answer usable), planner calls per
question, latency; and for stated uncertainty: **unsafe yes** (a "yes" where the truth is "no", the bar is zero on
reconstructions), "can't tell" rate (the agent declines when the measured interval straddles the threshold),
accuracy on the decided answers, and **calibration**: the share of true values (gap, closest distance, width,
height) inside the sub-answer's stated interval (``types.INTERVAL_LEVEL``; exact scenes state zero-width ones).
Run: ``.venv/bin/python -m evals.affordance [--scenes 40] [--seed 100000]``.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatial_agent.agent import SpatialAgent
from spatial_agent.testing import box_object
from spatial_agent.tools import GeometricTool, SpatialTool
from spatialvlm_core import geometry
from spatialvlm_core.types import Frame, Object3D, Scene3D
from spatialvlm_core.units import METERS_PER_UNIT

HELD_OUT_SEED = 100_000  # training/synthesis seeds stay below this

# --------------------------------------------------------------------------- phrasings ({a}, {b}, {L})
FIT_BETWEEN = [
    "Can a {L} wide robot fit between {a} and {b}?",
    "Could a robot that is {L} wide pass between {a} and {b}?",
    "Is there room for a {L} wide cart to get between {a} and {b}?",
    "Would a {L}-wide vacuum robot make it between {a} and {b} without touching them?",
    "Can I push a {L} wide trolley between {a} and {b}?",
    "Will a wheelchair {L} across squeeze between {a} and {b}?",
    "Is there enough space for a {L} wide robot to drive between {a} and {b}?",
]
CLEARANCE = [
    ("Is there at least {L} between {a} and {b}?", ">="),
    ("Is the gap between {a} and {b} more than {L}?", ">"),
    ("Is the free space between {a} and {b} less than {L}?", "<"),
    ("Is the clearance between {a} and {b} at least {L}?", ">="),
    ("Is the space between {a} and {b} wider than {L}?", ">"),
]
REACH = [
    "Can an arm of {L} reach {a} from {b}?",
    "Is {a} within {L} of {b}?",
    "Would a robot standing next to {b} with an arm of {L} be able to reach {a}?",
    "From {b}, can a {L} arm touch {a}?",
    "Could a gripper with {L} of reach grab {a} from {b}?",
]
FIT_ON = [
    "Is {a} wide enough for an object of {L}?",
    "Can a {L} long board lie on {a}?",
    "Will a {L} wide tray fit on top of {a}?",
    "Is {a} long enough to hold a {L} long box?",
]
FIT_UNDER = [
    "Can a box of {L} fit under {a}?",
    "Will a {L} tall box fit beneath {a}?",
    "Could a {L} high robot slide underneath {a}?",
]
THROUGH = [
    "Can a {L} wide cart go through {a}?",
    "Will a {L} wide sofa fit through {a}?",
    "Is {a} wide enough for a {L} wide wheelchair?",
]
TALLER = [
    ("Is {a} taller than {L}?", ">"),
    ("Is {a} shorter than {L}?", "<"),
    ("Is {a} more than {L} tall?", ">"),
    ("Is {a} less than {L} high?", "<"),
    ("Does {a} exceed {L} in height?", ">"),
]


@dataclass
class Item:
    question: str
    truth: bool | None  # None: the honest answer is a refusal (the boxes cannot settle it)
    kinds: list[str]
    scene_idx: int
    family: str
    value: float | None = None  # true value of the measured sub-quantity (calibration of stated intervals)


@dataclass
class Case:
    scene: Scene3D
    frame: Frame | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- scenes
def _procedural(seed: int) -> Case:
    """Exact boxes: sofa + armchair at a controlled gap, a table, a floor lamp, a door, a bookshelf."""
    r = random.Random(seed)
    gap = r.uniform(0.3, 2.0)
    sl, sw, sh = r.uniform(1.6, 2.4), r.uniform(0.8, 1.0), r.uniform(0.7, 0.95)
    al, aw, ah = r.uniform(0.7, 0.95), r.uniform(0.7, 0.95), r.uniform(0.8, 1.1)
    yaw = r.uniform(-0.3, 0.3)
    half = 0.5 * (al * abs(math.cos(yaw)) + aw * abs(math.sin(yaw)))
    ax = sl + gap + half  # armchair centre: its nearest corner is `gap` from the sofa's right side
    ay = r.uniform(0.0, sw - 0.2)
    sofa = box_object("sofa", "sofa", (0.0, 0.0), (sl, sw), (0.0, sh))

    def chair(x: float) -> Object3D:
        return box_object("armchair", "armchair", (x - al / 2, ay - aw / 2), (x + al / 2, ay + aw / 2),
                          (0.0, ah), yaw=yaw)

    # The rotated chair's nearest corner may miss the sofa's side: slide along x until the gap is exact.
    for _ in range(50):
        err = gap - geometry.footprint_gap(sofa, chair(ax))
        if abs(err) < 1e-9:
            break
        ax += err
    objs = [sofa, chair(ax)]
    tl, tw, th = r.uniform(0.8, 2.0), r.uniform(0.6, 1.0), r.uniform(0.4, 0.8)
    tx, ty = r.uniform(-1.0, 1.0), r.uniform(2.0, 3.5)
    objs.append(box_object("table", "table", (tx, ty), (tx + tl, ty + tw), (0.0, th)))
    lx, ly, lh = r.uniform(-2.5, -1.2), r.uniform(-1.0, 3.0), r.uniform(1.2, 1.9)
    objs.append(box_object("lamp", "lamp", (lx, ly), (lx + 0.3, ly + 0.3), (0.0, lh), "the floor lamp"))
    dw, dx = r.uniform(0.7, 1.1), r.uniform(-1.0, 2.0)
    objs.append(box_object("door", "door", (dx, 5.0), (dx + dw, 5.05), (0.0, r.uniform(1.9, 2.2))))
    bx, bh = r.uniform(3.5, 5.0), r.uniform(1.4, 2.2)
    objs.append(box_object("bookshelf", "bookshelf", (bx, 3.0), (bx + 0.35, 3.0 + r.uniform(0.6, 1.2)), (0.0, bh)))
    scene = Scene3D(scene_id=f"proc-{seed}", objects=objs, canonical=True,
                    provenance={"gap": {"a": "sofa", "b": "armchair", "gap_m": gap}, "seed": seed})
    return Case(scene=scene)


# Room -> the pair whose free gap is controlled, and the range it is drawn from (metres). The bedroom's narrow
# bed-nightstand gaps are where a reconstruction that misses hidden parts over-states the clearance most.
GAP_PAIRS: dict[str, tuple[str, str, float, float]] = {
    "living_room": ("sofa", "armchair", 0.3, 2.0),
    "bedroom": ("bed", "nightstand", 0.1, 1.0),
}


def _sim(seed: int, room: str = "living_room") -> Case | None:
    """A MuJoCo room with its pair's gap (``GAP_PAIRS``) drawn from the seed; None when no layout fits it."""
    from spatialvlm_core.sim import SimConfig, generate_scene

    r = random.Random(seed)
    a, b, g_lo, g_hi = GAP_PAIRS[room]
    try:
        sim = generate_scene(seed, SimConfig(room=room, gap=(a, b, round(r.uniform(g_lo, g_hi), 3))))
    except ValueError:  # a rare seed whose room cannot hold the requested gap: the next seed is used
        return None
    return Case(scene=sim.scene, frame=sim.frame())


def make_cases(n: int, seed: int, source: str, room: str = "living_room") -> tuple[list[Case], str]:
    """``room``: a ``GAP_PAIRS`` room, or "all" to alternate between them."""
    if source == "procedural":
        return [_procedural(s) for s in range(seed, seed + n)], "procedural"
    rooms = list(GAP_PAIRS) if room == "all" else [room]
    cases: list[Case] = []
    s = seed
    while len(cases) < n:
        if (c := _sim(s, rooms[len(cases) % len(rooms)])) is not None:
            cases.append(c)
        s += 1
    return cases, f"sim {room}"


# --------------------------------------------------------------------------- questions with exact truth
def _say(meters: float, r: random.Random) -> tuple[str, float]:
    """A length as a person would say it, and the metres that statement means."""
    unit = r.choice(["m", "m", "cm", "ft", "in", "metres"])
    if unit in ("m", "metres"):
        v = round(meters, 2)
        return (f"{v:g} {unit}", v)
    if unit == "cm":
        v = round(meters * 100)
        return (f"{v} cm", v / 100)
    if unit == "ft":
        v = round(meters / METERS_PER_UNIT["ft"], 1)
        return (f"{v:g} ft", v * METERS_PER_UNIT["ft"])
    v = round(meters / METERS_PER_UNIT["in"])
    return (f"{v} inches", v * METERS_PER_UNIT["in"])


def _threshold(truth_m: float, want_yes: bool, yes_if_bigger: bool, r: random.Random) -> float:
    """A stated size 10-40% away from the truth, on the side that makes the answer ``want_yes``."""
    f = r.uniform(0.10, 0.40)
    below = want_yes == yes_if_bigger  # the stated size must be below the truth
    return max(0.05, truth_m * (1 - f if below else 1 + f))


def _cmp(x: float, op: str, y: float) -> bool:
    return {">": x > y, ">=": x >= y, "<": x < y, "<=": x <= y}[op]


def _unique(scene: Scene3D) -> dict[str, Object3D]:
    caps = [o.caption for o in scene.askable]
    return {o.caption: o for o in scene.askable if caps.count(o.caption) == 1}


def _gap_truth(scene: Scene3D, a: Object3D, b: Object3D) -> float:
    g = scene.provenance.get("gap")
    if isinstance(g, dict) and {g.get("a"), g.get("b")} == {a.id, b.id} and "gap_m" in g:
        return float(g["gap_m"])
    return geometry.footprint_gap(a, b)


def make_items(cases: list[Case], seed: int) -> list[Item]:
    r = random.Random(seed)
    items: list[Item] = []
    for i, case in enumerate(cases):
        objs = _unique(case.scene)
        if len(objs) < 2:
            continue
        by_name = {o.name: o for o in objs.values()}
        floor = [o for o in objs.values() if (o.height_above_floor or 0.0) < 0.05 and o.name != "door"]
        g = case.scene.provenance.get("gap")
        if isinstance(g, dict) and g.get("a") in {o.id for o in floor} and g.get("b") in {o.id for o in floor}:
            pa, pb = case.scene.get(g["a"]), case.scene.get(g["b"])
        else:
            pa, pb = r.sample(floor, 2) if len(floor) >= 2 else r.sample(list(objs.values()), 2)

        def add(tpl: str, truth: bool | None, kinds: list[str], family: str, a: Object3D, b: Object3D | None,
                stated: str, value: float | None = None, i: int = i) -> None:
            q = tpl.format(a=a.caption, b=b.caption if b else "", L=stated)
            items.append(Item(question=q, truth=truth, kinds=kinds, scene_idx=i, family=family, value=value))

        gap = _gap_truth(case.scene, pa, pb)
        for tpl in r.sample(FIT_BETWEEN, 2):
            want = r.random() < 0.5
            s, m = _say(_threshold(gap, want, True, r), r)
            add(tpl, gap >= m, ["gap"], "fit_between", pa, pb, s, gap)
        tpl, op = r.choice(CLEARANCE)
        s, m = _say(_threshold(gap, r.random() < 0.5, True, r), r)
        add(tpl, _cmp(gap, op, m), ["gap"], "clearance", pa, pb, s, gap)

        x, y = r.sample(list(objs.values()), 2)
        d = geometry.box_distance(x, y)  # reach is to the nearest point of the object, as the agent measures it
        if d > 0.05:  # touching objects have no threshold "10-40% away" from 0
            s, m = _say(_threshold(d, r.random() < 0.5, False, r), r)
            add(r.choice(REACH), d <= m, ["closest"], "reach", x, y, s, d)

        surface = by_name.get("table") or by_name.get("desk")
        if surface is not None:
            w = max(surface.obb.size[0], surface.obb.size[1])
            s, m = _say(_threshold(w, r.random() < 0.5, True, r), r)
            add(r.choice(FIT_ON), w >= m, ["width"], "fit_on", surface, None, s, w)
            h = surface.aabb.size[2]
            s, m = _say(_threshold(h, r.random() < 0.5, True, r), r)
            add(r.choice(FIT_UNDER), None, [], "fit_under", surface, None, s)
        door = by_name.get("door")
        if door is not None:
            w = max(door.obb.size[0], door.obb.size[1])
            s, m = _say(_threshold(w, r.random() < 0.5, True, r), r)
            add(r.choice(THROUGH), w >= m, ["width"], "through", door, None, s, w)
        tall = r.choice(list(objs.values()))
        tpl, op = r.choice(TALLER)
        h = tall.aabb.size[2]
        s, m = _say(_threshold(h, r.random() < 0.5, op == ">", r), r)
        add(tpl, _cmp(h, op, m), ["height"], "taller", tall, None, s, h)
    return items


# --------------------------------------------------------------------------- running
@dataclass
class RowResult:
    name: str
    n: int = 0
    correct: int = 0
    valid: int = 0
    planner_calls: int = 0
    latencies: list[float] = field(default_factory=list)
    by_family: dict[str, list[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None
    yes_no: int = 0  # questions with a yes/no truth
    unsafe_yes: int = 0  # "yes" where the truth is "no"
    wrong_no: int = 0  # "no" where the truth is "yes"
    undecided: int = 0  # "can't tell"
    decided: int = 0
    decided_correct: int = 0
    unsafe: list[str] = field(default_factory=list)
    covered: int = 0  # true values inside the stated interval
    stated: int = 0  # sub-answers with a number to check
    widths: list[float] = field(default_factory=list)  # stated interval widths (m)
    below: int = 0  # true values below the stated interval (the rest of the misses are above it)

    def line(self) -> str:
        if self.skipped:
            return f"| {self.name} | skipped: {self.skipped} | | | | | | | | |"
        lat = self.latencies or [0.0]
        return (f"| {self.name} | {self.n} | {self.correct / max(1, self.n):.1%} | {self.valid / max(1, self.n):.1%} "
                f"| {self.planner_calls / max(1, self.n):.2f} | {1000 * statistics.mean(lat):.1f} / "
                f"{1000 * sorted(lat)[int(0.95 * (len(lat) - 1))]:.1f} | {self.unsafe_yes} / {self.yes_no} "
                f"| {self.undecided / max(1, self.yes_no):.1%} | {self.decided_correct / max(1, self.decided):.1%} "
                f"| {self.covered / max(1, self.stated):.1%} ({self.stated}; {self.below} below / "
                f"{self.stated - self.covered - self.below} above; median width "
                f"{statistics.median(self.widths or [0.0]):.2f} m) |")


def run_row(name: str, items: list[Item], cases: list[Case], make_agent: Callable[[Case], SpatialAgent],
            image_of: Callable[[Case], Any]) -> RowResult:
    res = RowResult(name=name)
    agents: dict[int, SpatialAgent] = {}
    for it in items:
        case = cases[it.scene_idx]
        agent = agents.setdefault(it.scene_idx, make_agent(case))
        t0 = time.perf_counter()
        out = agent.ask(image_of(case), it.question)
        res.latencies.append(time.perf_counter() - t0)
        res.n += 1
        res.planner_calls += out.planner_calls
        kinds = [q.kind for q in out.plan.subqueries] if out.plan and not out.plan.refusal else []
        ok_valid = kinds == it.kinds and out.error is None
        res.valid += ok_valid
        if it.truth is None:  # expected: an explicit refusal, no made-up yes/no
            hit = out.decision is None and out.error is None and bool(out.plan and out.plan.refusal)
        else:
            hit = out.decision is it.truth
        res.correct += hit
        if it.truth is not None:
            _score_yes_no(res, it, out)
        _score_interval(res, it, out)
        fam = res.by_family.setdefault(it.family, [0, 0])
        fam[0] += hit
        fam[1] += 1
        if not hit and len(res.failures) < 8:
            res.failures.append(f"{it.question} truth={it.truth} got={out.decision} :: {out.answer}")
    return res


def _score_yes_no(res: RowResult, it: Item, out: Any) -> None:
    """Safety and abstention of one yes/no answer."""
    res.yes_no += 1
    if out.decision is None:
        res.undecided += bool(getattr(out, "undecided", False))
        return
    res.decided += 1
    res.decided_correct += out.decision is it.truth
    if out.decision and it.truth is False:
        res.unsafe_yes += 1
        if len(res.unsafe) < 8:
            res.unsafe.append(f"{it.question} truth={it.value:.2f} m :: {out.answer}")
    res.wrong_no += (out.decision is False) and it.truth is True


def _score_interval(res: RowResult, it: Item, out: Any) -> None:
    """Whether the measured sub-answer's stated interval (its value when none is stated) holds the truth."""
    if it.value is None or len(out.sub_answers) != 1:
        return
    ans = next(iter(out.sub_answers.values()))
    if ans.meters is None:
        return
    lo, hi = ans.interval if ans.interval is not None else (ans.meters, ans.meters)
    res.stated += 1
    res.covered += lo - 1e-6 <= it.value <= hi + 1e-6
    res.below += it.value < lo - 1e-6
    if math.isfinite(hi):
        res.widths.append(hi - lo)


# Reconstruction modes: name -> ``spatialvlm_core.reconstruct`` backends. None needs a model download.
RECON_MODES: dict[str, dict[str, str]] = {
    "GT-depth recon": {"detector": "ground-truth", "segmenter": "ground-truth", "depth": "sensor"},
    "size-prior depth recon": {"detector": "ground-truth", "segmenter": "ground-truth", "depth": "size-prior"},
}


def _reconstructor(mode: str) -> Callable[[Frame], Scene3D]:
    """The image pipeline with the mode's backends: masks + depth -> lifted, canonicalised (completed) boxes."""
    from spatialvlm_core.reconstruct import reconstruct

    backends = RECON_MODES[mode]
    return lambda frame: reconstruct(frame, **backends)


def _gt_depth_reconstruct(frame: Frame) -> Scene3D:
    """The image pipeline on exact inputs: ground-truth masks + sensor depth -> lifted, canonicalised boxes."""
    return _reconstructor("GT-depth recon")(frame)


def _learned_tool(model: Path | None = None) -> SpatialTool | None:
    """The SpatialVLM checkpoint at ``model`` (default: the shipped one, when installed)."""
    from spatial_agent.tools import VLMTool
    from spatialvlm_core.infer import SpatialVLM
    from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR

    if model is not None:
        if not model.is_dir():
            raise FileNotFoundError(f"--model {model}: not a checkpoint directory")
        return VLMTool(SpatialVLM.load(model))
    return VLMTool(SpatialVLM.load()) if Path(DEFAULT_MODEL_DIR).is_dir() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    ap.add_argument("--source", choices=["sim", "procedural"], default="sim")
    ap.add_argument("--room", choices=[*GAP_PAIRS, "all"], default="living_room",
                    help="sim room type whose gap pair is controlled (all: alternate)")
    ap.add_argument("--show-failures", action="store_true")
    ap.add_argument("--model", type=Path, help="learned-tool checkpoint (default: the shipped model)")
    ap.add_argument("--only-learned", action="store_true", help="skip the geometric and endpoint rows")
    ap.add_argument("--no-learned", action="store_true", help="skip the learned-tool row")
    ap.add_argument("--recon", choices=[*RECON_MODES, "all"], default="GT-depth recon",
                    help="reconstruction mode(s) the geometric tool runs on")
    args = ap.parse_args(argv)

    cases, source = make_cases(args.scenes, args.seed, args.source, args.room)
    items = make_items(cases, args.seed)
    yes = sum(it.truth is True for it in items)
    refuse = sum(it.truth is None for it in items)
    print(f"# Affordance eval: {len(items)} questions ({yes} yes, {refuse} expecting a refusal) over {len(cases)} {source} scenes, "
          f"seeds {args.seed}..{args.seed + args.scenes - 1}")
    rows: list[RowResult] = []
    if not args.only_learned:
        rows += _reference_rows(items, cases, source, tuple(RECON_MODES) if args.recon == "all" else (args.recon,))
    learned = None if args.no_learned else _learned_tool(args.model)
    if args.no_learned:
        rows.append(RowResult(name="rules + learned VLM", skipped="--no-learned"))
    elif learned is None or not source.startswith("sim"):
        rows.append(RowResult(name="rules + learned VLM", skipped="no default checkpoint or no sim images"))
    else:
        rows.append(run_row("rules + learned VLM", items, cases, lambda c: SpatialAgent(tool=learned),
                            lambda c: c.frame))

    print("| setting | questions | accuracy | sub-query validity | planner calls/q | latency ms mean / p95 "
          "| unsafe yes / yes-no qs | can't tell | accuracy decided | truth in stated interval |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row.line())
    for row in rows:
        if row.skipped:
            continue
        fams = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(row.by_family.items()))
        print(f"\n{row.name} by family: {fams}; wrong no {row.wrong_no}")
        for u in row.unsafe:
            print("  UNSAFE YES", u)
        if args.show_failures:
            for f in row.failures:
                print("  FAIL", f)
    return 0


def _reference_rows(items: list[Item], cases: list[Case], source: str,
                    recon: tuple[str, ...] = ("GT-depth recon",)) -> list[RowResult]:
    """The geometric tool on the exact scene and on reconstructions (``RECON_MODES``), and an endpoint planner."""
    rows: list[RowResult] = []
    rows.append(run_row("rules + geometric (GT scene)", items, cases,
                        lambda c: SpatialAgent(tool=GeometricTool(scene=c.scene)), lambda c: None))
    for mode in recon:
        if not source.startswith("sim"):
            rows.append(RowResult(name=f"rules + geometric ({mode})",
                                  skipped="needs sim frames (procedural scenes have no images)"))
            continue
        fn = _reconstructor(mode)
        rows.append(run_row(f"rules + geometric ({mode})", items, cases,
                            lambda c, fn=fn: SpatialAgent(tool=GeometricTool(reconstruct=fn)), lambda c: c.frame))
    from spatial_agent.planners.openai_planner import OpenAIPlanner

    if OpenAIPlanner.from_env() is None:
        rows.append(RowResult(name="endpoint + geometric (GT scene)", skipped="SPATIAL_AGENT_BASE_URL/MODEL unset"))
    else:
        planner = OpenAIPlanner.from_env()
        rows.append(run_row("endpoint + geometric (GT scene)", items, cases,
                            lambda c: SpatialAgent(tool=GeometricTool(scene=c.scene), planner=planner),
                            lambda c: None))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
