"""The agent's LangGraph: [route] -> plan -> measure (one ``Send`` per sub-query, in parallel) -> compute (arith)
-> verify -> answer.

In LangGraph's own idioms: edge functions do the routing (nothing in the state says where to go next); the
sub-queries fan out as ``Send`` tasks whose answers a reducer merges (map-reduce); ``steps`` and
``planner_calls`` are reducer-accumulated; and the state is serialisable (the image is a reference into an
``ImageRegistry``, never pixels), so a checkpointer (``InMemorySaver``, the sqlite saver) stores each super-step
and a thread resumes where it stopped: sub-queries already measured are not measured again.

verify sends the run back to plan once, with the failure as feedback, when the plan was invalid, a sub-answer
is missing/unparseable, or the expression does not evaluate; a re-plan measures only sub-queries not measured
before in the thread (same kind and objects). Every node appends to ``steps`` so the result carries the trace.
"""

from __future__ import annotations

import json
import math
import operator
import re
import time
from collections.abc import Sequence
from typing import Annotated, Any, get_args

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel, Field

from spatial_agent.arith import ArithError, Quantity, evaluate
from spatial_agent.frames import UnreadableImage
from spatial_agent.image_refs import ImageRegistry
from spatial_agent.planners.base import Planner, PlannerOutputError
from spatial_agent.prompts import answer_templates
from spatial_agent.schema import Plan, Step, SubQuery
from spatial_agent.tools import SpatialTool
from spatialvlm_core.types import INTERVAL_LEVEL, Answer
from spatialvlm_core.units import to_meters

MAX_WORKERS = 8  # concurrent sub-query measurements (LangGraph's max_concurrency)
NODES = ("route", "plan", "measure", "compute", "verify", "answer")


def merge_answers(old: dict[str, Answer], new: dict[str, Answer]) -> dict[str, Answer]:
    """Reducer of ``measured``: the fan-out's answers merged by measurement key."""
    return {**old, **new}


def measurement_key(q: SubQuery) -> str:
    """What a sub-query measures, id left out (``SubQuery.key``), as a string a checkpoint can store."""
    return json.dumps(q.key())


class AgentState(BaseModel):
    """The graph's state: plain data only (the image is a reference), so a checkpointer can store it."""

    question: str
    image: str | None = None  # an ImageRegistry reference ("file:<path>" / "mem:<hash>"), never the pixels
    plan: Plan | None = None
    feedback: str | None = None
    planner_calls: Annotated[int, operator.add] = 0
    # Every answer measured in this thread, by measurement_key; the fan-out's tasks each merge one in.
    measured: Annotated[dict[str, Answer], merge_answers] = Field(default_factory=dict)
    sub_answers: dict[str, Answer] = Field(default_factory=dict)  # the current plan's, by sub-query id
    failure: str | None = None
    missing_text: str | None = None  # the tool's own words when an object is missing ("I cannot find ...")
    decision: bool | None = None
    undecided: bool = False  # a yes/no the intervals cannot settle ("can't tell")
    value: float | None = None
    unit: str | None = None
    interval: tuple[float, float] | None = None  # of the value, or of the compared quantity of a yes/no
    level: float | None = None
    answer: str | None = None
    steps: Annotated[list[Step], operator.add] = Field(default_factory=list)


class MeasureTask(BaseModel):
    """What one ``Send`` carries to the measure node: one sub-query and the image reference."""

    query: SubQuery
    image: str | None = None


def _models_in(tp: Any, out: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """The pydantic models a type annotation can hold, nested ones included."""
    if isinstance(tp, type) and issubclass(tp, BaseModel) and tp not in out:
        out.add(tp)
        for f in tp.model_fields.values():
            _models_in(f.annotation, out)
    for arg in get_args(tp):
        _models_in(arg, out)
    return out


# Every class a checkpoint of this graph holds (the state, the Send payload and what they nest).
CHECKPOINT_TYPES: tuple[type[BaseModel], ...] = tuple(sorted(
    _models_in(MeasureTask, _models_in(AgentState, set())), key=lambda t: (t.__module__, t.__qualname__)))


def checkpoint_serializer() -> JsonPlusSerializer:
    """LangGraph's checkpoint serializer allowed to revive exactly ``CHECKPOINT_TYPES`` (LangGraph warns on, and
    will block, classes it was not told about)."""
    return JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)


def memory_checkpointer() -> InMemorySaver:
    """An ``InMemorySaver`` for the agent's graph (state types allowed, see ``checkpoint_serializer``)."""
    return InMemorySaver(serde=checkpoint_serializer())


def _num(v: float, unit: str | None) -> str:
    return f"{v:.2f} m" if unit == "m" else (f"{v:.2f}" + (f" {unit}" if unit else ""))


def fmt_interval(v: float, interval: tuple[float, float] | None, unit: str | None, undecided: bool = False,
                 level: float | None = None) -> str:
    """A value with its interval: '1.58 m' (exact), 'about 1.20 m (0.90-1.50 m)', or for a yes/no it could not
    settle 'between 0.20 and 0.90 m (80 % interval)'."""
    if interval is None or interval[0] == interval[1]:
        return _num(v, unit)
    lo, hi = interval
    u = " m" if unit == "m" else (f" {unit}" if unit else "")
    hi_s = f"{hi:.2f}" if math.isfinite(hi) else None
    if undecided:
        pct = round(100 * (level or INTERVAL_LEVEL))
        rng = f"between {lo:.2f} and {hi_s}{u}" if hi_s else f"at least {lo:.2f}{u}"
        return f"{rng} ({pct} % interval)"
    return f"about {_num(v, unit)} ({lo:.2f}-{hi_s}{u})" if hi_s else f"about {_num(v, unit)} (at least {lo:.2f}{u})"


def _fmt_answer(ans: Answer, undecided: bool = False) -> str:
    if ans.meters is not None:
        return fmt_interval(ans.meters, ans.interval, "m", undecided, ans.level)
    if ans.unit == "count" and ans.value is not None:
        return str(round(ans.value))
    if ans.value is not None:
        return fmt_interval(ans.value, ans.interval, ans.unit, undecided, ans.level)
    if ans.boolean is not None:
        return "yes" if ans.boolean else "no"
    return ans.text


def _fmt_value(v: float | None, unit: str | None, interval: tuple[float, float] | None = None,
               level: float | None = None) -> str:
    if v is None:
        return "unknown"
    if unit == "m":
        return fmt_interval(v, interval, "m", level=level)
    return f"{v:.4g}" if interval is None else f"about {v:.4g} ({interval[0]:.4g}-{interval[1]:.4g})"


def _as_clause(text: str) -> str:
    """A tool's sentence as a clause after "Yes: " / "No: ": final stop dropped, first word lower-cased unless it
    is "I" or an acronym ("The red mug is on the table." -> "the red mug is on the table")."""
    t = text.strip().rstrip(".").strip()
    first = t.split(" ", 1)[0]
    if first and first != "I" and not first.isupper():
        t = t[0].lower() + t[1:]
    return t


def render_template(template: str, state: AgentState) -> str:
    """Fill ``{decision}``, ``{value}``, ``{<sub-query id>}`` (the measurement) and ``{<sub-query id>.text}`` (the
    tool's own words, as a clause); unknown fields stay as written (no str.format)."""

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if m.group(2):
            return _as_clause(state.sub_answers[key].text) if key in state.sub_answers else m.group(0)
        if key == "decision":
            if state.decision is None:
                return "Can't tell" if state.undecided else "Unknown"
            return "Yes" if state.decision else "No"
        if key in ("value", "result"):
            return _fmt_value(state.value, state.unit, state.interval, state.level)
        if key in state.sub_answers:
            return _fmt_answer(state.sub_answers[key], state.undecided)
        return m.group(0)

    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(\.text)?\}", sub, template)


def _with_interval(v: float, interval: tuple[float, float] | None, dim: int) -> Quantity:
    """A quantity with the answer's interval (widened to hold the value; non-finite bounds kept as +-inf)."""
    if interval is None:
        return Quantity(float(v), dim)
    lo, hi = (float(x) if not math.isnan(x) else -math.inf for x in interval)
    return Quantity(float(v), dim, False, min(lo, v), max(hi, v))


def quantity_of(query: SubQuery, ans: Answer) -> Quantity | bool | None:
    """The arithmetic value of a sub-answer (with its stated interval), or None when it has no usable number."""
    if query.kind == "relation":  # a yes/no computed by the tool; no number stands in for it
        return ans.boolean
    if ans.meters is not None:
        return _with_interval(ans.meters, ans.interval, 1)
    if query.kind in ("size_compare", "exists"):
        if ans.value is not None:
            return _with_interval(float(ans.value), ans.interval if query.kind == "size_compare" else None, 0)
        if ans.boolean is not None:
            # A text tool may only say yes/no: map it to a ratio/count on the right side of the threshold.
            if query.kind == "size_compare":
                return Quantity(2.0 if ans.boolean else 0.5)
            return Quantity(1.0 if ans.boolean else 0.0)
        return None
    if ans.value is not None and ans.unit:
        try:
            iv = None if ans.interval is None else (to_meters(ans.interval[0], ans.unit),
                                                    to_meters(ans.interval[1], ans.unit))
            return _with_interval(to_meters(ans.value, ans.unit), iv, 1)
        except ValueError:
            return None
    return None


def _tool_name(tool: Any) -> str:
    return getattr(tool, "name", type(tool).__name__)


def build_graph(planner: Planner, tool: SpatialTool, max_replans: int = 1, *, images: ImageRegistry | None = None,
                checkpointer: BaseCheckpointSaver | None = None, interrupt_before: Sequence[str] = ()) -> Any:
    """Compile the agent graph for one planner and tool.

    ``images`` resolves the state's image references (a fresh registry resolves file references only);
    ``checkpointer`` stores each super-step per ``thread_id`` (config ``{"configurable": {"thread_id": ...}}``);
    ``interrupt_before`` names nodes to pause before (e.g. ``["measure"]`` to review a plan), resumed with
    ``invoke(None, config)``. A tool with ``route(image)`` (``RoutingTool``) gets a first node, "route", that
    records which tool answers and why.
    """
    registry = images if images is not None else ImageRegistry()
    unknown = sorted(set(interrupt_before) - set(NODES))
    if unknown:
        raise ValueError(f"interrupt_before: unknown node(s) {unknown}; nodes are {list(NODES)}")
    routes = callable(getattr(tool, "route", None))

    def route_node(s: AgentState) -> dict[str, Any]:
        t0 = time.perf_counter()
        r = tool.route(registry.get(s.image))  # type: ignore[attr-defined]
        return {"steps": [Step(node="route", detail=f"tool={_tool_name(r.tool)}: {r.reason}",
                               seconds=time.perf_counter() - t0)]}

    def plan_node(s: AgentState) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            plan = planner.plan(s.question, s.feedback)
        except PlannerOutputError as e:
            step = Step(node="plan", error=str(e), seconds=time.perf_counter() - t0)
            return {"plan": None, "failure": f"invalid plan: {e}", "planner_calls": 1, "steps": [step]}
        step = Step(node="plan", plan=plan, detail=f"planner={planner.name}", seconds=time.perf_counter() - t0)
        return {"plan": plan, "failure": None, "missing_text": None, "sub_answers": {}, "planner_calls": 1,
                "steps": [step]}

    def after_plan(s: AgentState) -> str | list[Send]:
        """Fan out one measure task per sub-query not measured yet in this thread (map); none left: compute."""
        if s.plan is None:
            return "verify"
        if s.plan.refusal:
            return "answer"
        todo: dict[str, SubQuery] = {}
        for q in s.plan.subqueries:
            k = measurement_key(q)
            if k not in s.measured and k not in todo:
                todo[k] = q
        return [Send("measure", MeasureTask(query=q, image=s.image)) for q in todo.values()] or "compute"

    def measure_node(task: MeasureTask) -> dict[str, Any]:
        q = task.query
        t0 = time.perf_counter()
        err: str | None = None
        ans: Answer | None = None
        image, used = registry.get(task.image), tool
        try:
            if routes:  # the routed tool measures (route() is cached per image), and the trace names it
                r = tool.route(image)  # type: ignore[attr-defined]
                image, used = r.image, r.tool
            ans = used.measure(image, q)
        except (FileNotFoundError, TypeError, UnreadableImage):  # the user's input: said as it is
            raise
        except Exception as e:  # a tool failure becomes a missing sub-answer, which verify handles
            err = f"{type(e).__name__}: {e}"
        step = Step(node="measure", subquery=q, answer=ans, error=err, seconds=time.perf_counter() - t0,
                    detail=f"tool={_tool_name(used)}")
        return {"measured": {measurement_key(q): ans} if ans is not None else {}, "steps": [step]}

    def compute_node(s: AgentState) -> dict[str, Any]:  # reduce: the plan's sub-answers into one result
        assert s.plan is not None
        answers = {q.id: s.measured[k] for q in s.plan.subqueries if (k := measurement_key(q)) in s.measured}
        env: dict[str, Quantity | bool] = {}
        for q in s.plan.subqueries:
            ans = answers.get(q.id)
            val = quantity_of(q, ans) if ans is not None else None
            if val is None:
                # A tool that raised: say why (its measure step holds the error), not just that it failed.
                # Matched by what was measured (a re-plan may rename the id); named after the tool that measured
                # (the routed one, from the step's "tool=<name>").
                errs = [st for st in s.steps if st.node == "measure" and st.error and st.subquery is not None
                        and measurement_key(st.subquery) == measurement_key(q)]
                why = ans.text if ans is not None else (
                    f"the {errs[-1].detail.removeprefix('tool=')} tool failed: {errs[-1].error}" if errs
                    else "the tool failed")
                missing = ans.text if ans is not None and ans.value is None else None
                step = Step(node="compute", error=f"sub-query {q.id} ({q.kind} of {q.a!r}"
                            f"{' and ' + repr(q.b) if q.b else ''}) has no usable answer: {why}")
                return {"sub_answers": answers, "failure": step.error, "missing_text": missing, "steps": [step]}
            env[q.id] = val
        try:
            out = evaluate(s.plan.compute, env)
        except (ArithError, OverflowError) as e:  # OverflowError: defence in depth, arith maps its own
            step = Step(node="compute", error=f"cannot evaluate {s.plan.compute!r}: {e}")
            return {"sub_answers": answers, "failure": step.error, "steps": [step]}
        step = Step(node="compute", detail=f"{s.plan.compute} -> {'unknown' if out is None else out}")
        if out is None or isinstance(out, bool):
            # A yes/no: None means the intervals straddle the threshold, so the agent says it can't tell. The
            # interval reported is the compared quantity's when one sub-answer carries it.
            stated = [a for a in answers.values() if a.interval is not None]
            iv = stated[0] if len(stated) == 1 and len(s.plan.subqueries) == 1 else None
            return {"sub_answers": answers, "decision": out, "undecided": out is None, "value": None, "unit": None,
                    "interval": iv.interval if iv else None, "level": iv.level if iv else None,
                    "failure": None, "steps": [step]}
        unit = "m" if out.dim == 1 else None
        if out.dim not in (0, 1):
            unit = f"m^{out.dim}"
        interval = None if out.exact else (out.low, out.high)
        return {"sub_answers": answers, "decision": None, "undecided": False, "value": out.value, "unit": unit,
                "interval": interval, "level": INTERVAL_LEVEL if interval else None, "failure": None,
                "steps": [step]}

    def replan(s: AgentState) -> bool:
        # planner_calls - 1 re-plans so far; the node and its edge function read the same state, so they agree
        return bool(s.failure) and s.planner_calls - 1 < max_replans

    def verify_node(s: AgentState) -> dict[str, Any]:
        if replan(s):
            return {"feedback": s.failure, "steps": [Step(node="verify", detail="re-plan", error=s.failure)]}
        return {"steps": [Step(node="verify", detail="ok" if not s.failure else "give up")]}

    def after_verify(s: AgentState) -> str:
        return "plan" if replan(s) else "answer"

    def answer_node(s: AgentState) -> dict[str, Any]:
        tpl = answer_templates()
        if s.plan is not None and s.plan.refusal:
            text = s.plan.refusal
        elif s.failure:
            text = s.missing_text or tpl["invalid"].replace("{reason}", s.failure)
        elif s.plan is not None and s.plan.answer_template:
            text = render_template(s.plan.answer_template, s)
        else:
            key = "undecided" if s.undecided else ("decision" if s.decision is not None else "value")
            text = render_template(tpl[key], s)
        chosen = s.plan.chosen(s.decision) if s.plan is not None and not s.failure and not s.plan.refusal else None
        if chosen:  # "which of two": name the winner first, then the measurements behind it
            text = f"{chosen[0].upper()}{chosen[1:]}: {text}"
        return {"answer": text, "steps": [Step(node="answer", detail=text)]}

    g = StateGraph(AgentState)
    if routes:
        g.add_node("route", route_node)
        g.add_edge(START, "route")
        g.add_edge("route", "plan")
    else:
        g.add_edge(START, "plan")
    g.add_node("plan", plan_node)
    g.add_node("measure", measure_node, input_schema=MeasureTask)
    g.add_node("compute", compute_node)
    g.add_node("verify", verify_node)
    g.add_node("answer", answer_node)
    g.add_conditional_edges("plan", after_plan, ["measure", "compute", "verify", "answer"])
    g.add_edge("measure", "compute")
    g.add_edge("compute", "verify")
    g.add_conditional_edges("verify", after_verify, ["plan", "answer"])
    g.add_edge("answer", END)
    pause = [n for n in interrupt_before if n != "route" or routes]  # no route node without a routing tool
    return g.compile(checkpointer=checkpointer, interrupt_before=pause)
