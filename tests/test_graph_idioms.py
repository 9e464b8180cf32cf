"""The agent graph in LangGraph's idioms: Send fan-out per sub-query, reducers, routing in edge functions, a
serialisable state, and checkpointed threads that resume without measuring again."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatial_agent import GeometricTool, SpatialAgent, SubQuery
from spatial_agent import graph as graph_mod
from spatial_agent.graph import (
    CHECKPOINT_TYPES,
    AgentState,
    build_graph,
    checkpoint_serializer,
    memory_checkpointer,
)
from spatial_agent.image_refs import ImageRegistry, UnknownImageRef
from spatial_agent.planners.rules import RulePlanner
from spatial_agent.schema import Plan
from spatial_agent.testing import living_room
from spatialvlm_core.types import Answer

FIT = "Can a 1 m wide robot fit between the sofa and the chairs?"
TWO = Plan(subqueries=[SubQuery(id="g", kind="gap", a="sofa", b="red chair"), SubQuery(id="h", kind="height", a="lamp")],
           compute="g >= 1 m and h > 1.5 m", answer_template="{decision} ({g}, {h})")


class CountingTool:
    """The geometric tool on the living room, counting measure calls (a fresh instance has no answer cache)."""

    name = "geometric"

    def __init__(self, fail_on: set[str] | None = None, barrier: threading.Barrier | None = None) -> None:
        self.inner = GeometricTool(scene=living_room(gap=1.2))
        self.calls: list[str] = []
        self.fail_on = set(fail_on or ())
        self.barrier = barrier
        self._lock = threading.Lock()

    def ask(self, image: Any, question: str) -> Answer:
        return self.inner.ask(image, question)

    def measure(self, image: Any, query: SubQuery) -> Answer:
        with self._lock:
            self.calls.append(query.id)
        if self.barrier is not None:
            self.barrier.wait()  # returns only when the other sub-query's task is measuring at the same time
        if query.id in self.fail_on:
            self.fail_on.discard(query.id)
            raise FileNotFoundError("the image file went away mid-run")  # the user's input: it propagates
        return self.inner.measure(image, query)


class CountingPlanner:
    name = "counting"

    def __init__(self, plan: Plan | None = None) -> None:
        self.plan_ = plan
        self.calls = 0

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        self.calls += 1
        return self.plan_ or RulePlanner().plan(question, feedback)


class Killed(RuntimeError):
    """Stands in for the process dying mid-run."""


def _config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def test_the_state_holds_an_image_reference_and_round_trips_through_the_checkpoint_serializer() -> None:
    images = ImageRegistry()
    agent = SpatialAgent(tool=CountingTool(), checkpointer=memory_checkpointer(), images=images)
    img = np.zeros((6, 6, 3), np.uint8)
    agent.ask(img, FIT, thread_id="t")
    values = agent.graph.get_state(_config("t")).values
    assert values["image"].startswith("mem:") and images.get(values["image"]) is img
    state = AgentState.model_validate(values)
    serde = checkpoint_serializer()
    assert AgentState.model_validate(serde.loads_typed(serde.dumps_typed(state))) == state
    assert {t.__name__ for t in CHECKPOINT_TYPES} >= {"AgentState", "MeasureTask", "Plan", "Step", "Answer"}
    assert "route" not in AgentState.model_fields  # where to go next is the edge functions' business


def test_one_send_per_distinct_measurement_and_the_tasks_run_in_parallel() -> None:
    # Two ids, one measurement ("g" and "g2" measure the same gap): one task for both; the barrier proves the
    # remaining two tasks (gap, height) run at the same time (it would time out if they ran one after the other).
    plan = Plan(subqueries=[*TWO.subqueries, SubQuery(id="g2", kind="gap", a="Sofa", b="red chair")],
                compute="g >= 1 m and h > 1.5 m and g2 == g")
    tool = CountingTool(barrier=threading.Barrier(2, timeout=10))
    r = SpatialAgent(tool=tool, planner=CountingPlanner(plan)).ask(None, "q?")
    assert sorted(tool.calls) == ["g", "h"] and r.decision is True and r.error is None
    assert [s.node for s in r.steps] == ["plan", "measure", "measure", "compute", "verify", "answer"]
    assert set(r.sub_answers) == {"g", "g2", "h"} and r.sub_answers["g2"] == r.sub_answers["g"]


def test_a_replan_measures_only_what_it_has_not_measured() -> None:
    tool, planner = CountingTool(), CountingPlanner()
    r = SpatialAgent(tool=tool, planner=planner).ask(None, "Can a 1 m wide robot fit between the sofa and the piano?")
    assert r.answer == "I cannot find a piano in the image" and r.planner_calls == planner.calls == 2
    assert tool.calls == ["g"]  # the re-plan asks the same measurement: its answer is reused, not re-measured
    assert [s.node for s in r.steps] == ["plan", "measure", "compute", "verify", "plan", "compute", "verify",
                                         "answer"]


def test_interrupted_before_compute_a_new_graph_on_the_same_saver_finishes_without_measuring() -> None:
    expected = SpatialAgent(tool=CountingTool(), planner=CountingPlanner(TWO)).ask(None, "q?")
    saver, images = memory_checkpointer(), ImageRegistry()
    tool1, planner1 = CountingTool(), CountingPlanner(TWO)
    g1 = build_graph(planner1, tool1, images=images, checkpointer=saver, interrupt_before=["compute"])
    paused = g1.invoke(AgentState(question="q?"), _config("t1"))
    assert paused.get("answer") is None and sorted(tool1.calls) == ["g", "h"]
    assert g1.get_state(_config("t1")).next == ("compute",)

    tool2, planner2 = CountingTool(), CountingPlanner(TWO)
    g2 = build_graph(planner2, tool2, images=images, checkpointer=saver)  # a new graph instance: a "restart"
    done = AgentState.model_validate(g2.invoke(None, _config("t1")))
    assert done.answer == expected.answer == "Yes (1.20 m, 1.60 m)"
    assert tool2.calls == [] and planner2.calls == 0 and done.planner_calls == 1
    assert [s.node for s in done.steps] == [s.node for s in expected.steps]


def test_a_run_killed_after_the_sub_queries_resumes_in_a_new_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    real = graph_mod.evaluate
    calls = {"n": 0}

    def dies_once(expr: str, env: dict[str, Any]) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Killed("killed")  # not an arith error: the run stops here, as a killed process would
        return real(expr, env)

    monkeypatch.setattr(graph_mod, "evaluate", dies_once)
    saver, images = memory_checkpointer(), ImageRegistry()
    img = np.full((5, 5, 3), 7, np.uint8)
    tool1, planner1 = CountingTool(), CountingPlanner(TWO)
    with pytest.raises(Killed):
        SpatialAgent(tool=tool1, planner=planner1, checkpointer=saver, images=images).ask(img, "q?", thread_id="k")
    assert sorted(tool1.calls) == ["g", "h"]

    tool2, planner2 = CountingTool(), CountingPlanner(TWO)
    agent2 = SpatialAgent(tool=tool2, planner=planner2, checkpointer=saver, images=images)
    r = agent2.resume("k")
    assert r.answer == "Yes (1.20 m, 1.60 m)" and r.decision is True and r.planner_calls == 1
    assert tool2.calls == [] and planner2.calls == 0
    assert [s.node for s in r.steps].count("measure") == 2
    again = agent2.resume("k")  # a finished thread is returned as it is
    assert again.answer == r.answer and tool2.calls == []


def test_a_failed_send_task_is_the_only_one_rerun_on_resume() -> None:
    # LangGraph stores each finished task's writes: when the "h" task fails, "g"'s answer is already saved.
    saver, images = memory_checkpointer(), ImageRegistry()
    tool1 = CountingTool(fail_on={"h"})
    g1 = build_graph(CountingPlanner(TWO), tool1, images=images, checkpointer=saver)
    config = {**_config("f"), "max_concurrency": 1}  # one task at a time: "g" finishes before "h" fails
    with pytest.raises(FileNotFoundError, match="went away"):
        g1.invoke(AgentState(question="q?"), config)
    assert tool1.calls == ["g", "h"]
    tool2 = CountingTool()
    done = AgentState.model_validate(build_graph(CountingPlanner(TWO), tool2, images=images,
                                                 checkpointer=saver).invoke(None, config))
    assert done.answer == "Yes (1.20 m, 1.60 m)" and tool2.calls == ["h"]


def test_a_file_image_resumes_with_a_fresh_registry_an_in_memory_one_says_why_not(tmp_path: Path) -> None:
    from PIL import Image

    img = tmp_path / "room.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    saver = memory_checkpointer()
    g1 = build_graph(CountingPlanner(TWO), CountingTool(), images=ImageRegistry(), checkpointer=saver,
                     interrupt_before=["measure"])
    g1.invoke(AgentState(question="q?", image=ImageRegistry().put(img)), _config("file"))
    g1.invoke(AgentState(question="q?", image=ImageRegistry().put(np.ones((3, 3, 3), np.uint8))), _config("mem"))

    tool = CountingTool()
    g2 = build_graph(CountingPlanner(TWO), tool, images=ImageRegistry(), checkpointer=saver)
    done = AgentState.model_validate(g2.invoke(None, _config("file")))
    assert done.image == f"file:{img.resolve()}" and done.answer == "Yes (1.20 m, 1.60 m)"
    with pytest.raises(UnknownImageRef, match="pass a file path to resume"):
        g2.invoke(None, _config("mem"))


def test_threads_hold_one_question_and_misuse_is_refused() -> None:
    agent = SpatialAgent(tool=CountingTool(), checkpointer=memory_checkpointer())
    first = agent.ask(None, FIT, thread_id="one")
    assert first.decision is True
    with pytest.raises(ValueError, match="already holds a question"):
        agent.ask(None, "How tall is the lamp?", thread_id="one")
    with pytest.raises(ValueError, match="no checkpointed thread"):
        agent.resume("never")
    plain = SpatialAgent(tool=CountingTool())
    with pytest.raises(ValueError, match="needs a checkpointer"):
        plain.ask(None, FIT, thread_id="x")
    with pytest.raises(ValueError, match="needs a checkpointer"):
        plain.resume("x")
    with pytest.raises(ValueError, match="unknown node"):
        build_graph(CountingPlanner(), CountingTool(), interrupt_before=["measur"])


def test_no_unregistered_type_warnings_from_the_saver(caplog: pytest.LogCaptureFixture) -> None:
    agent = SpatialAgent(tool=CountingTool(), planner=CountingPlanner(TWO), checkpointer=memory_checkpointer())
    with caplog.at_level(logging.WARNING, logger="langgraph"):
        agent.ask(np.zeros((4, 4, 3), np.uint8), "q?", thread_id="w")
        assert agent.resume("w").answer == "Yes (1.20 m, 1.60 m)"
    assert not [r for r in caplog.records if "unregistered" in r.getMessage() or "blocked" in r.getMessage()]


def test_sqlite_saver_resumes_a_thread(tmp_path: Path) -> None:
    sqlite = pytest.importorskip("langgraph.checkpoint.sqlite", reason="langgraph-checkpoint-sqlite not installed")
    import sqlite3

    conn = sqlite3.connect(tmp_path / "threads.db", check_same_thread=False)
    saver = sqlite.SqliteSaver(conn, serde=checkpoint_serializer())
    images = ImageRegistry()
    g1 = build_graph(CountingPlanner(TWO), CountingTool(), images=images, checkpointer=saver,
                     interrupt_before=["compute"])
    g1.invoke(AgentState(question="q?"), _config("s"))
    tool = CountingTool()
    done = AgentState.model_validate(build_graph(CountingPlanner(TWO), tool, images=images,
                                                 checkpointer=saver).invoke(None, _config("s")))
    assert done.answer == "Yes (1.20 m, 1.60 m)" and tool.calls == []
