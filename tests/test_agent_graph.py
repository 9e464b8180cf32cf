"""The agent end to end with the geometric tool on hand-made scenes; tools, caching, adapters, CLI."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pytest

from spatial_agent import GeometricTool, SpatialAgent, SubQuery, render_question
from spatial_agent.adapters import (
    TOOL_NAME,
    dispatch_openai_call,
    langchain_tool,
    mcp_server,
    openai_tool_schema,
)
from spatial_agent.cli import main
from spatial_agent.schema import Plan
from spatial_agent.testing import living_room, rotated_pair
from spatial_agent.tools import image_key
from spatialvlm_core.types import Answer


@pytest.fixture
def agent() -> SpatialAgent:
    return SpatialAgent(tool=GeometricTool(scene=living_room(gap=1.2)))


def test_render_question() -> None:
    assert render_question(SubQuery(kind="gap", a="sofa", b="the armchair")) == \
        "What is the free-space gap between the sofa and the armchair?"
    assert render_question(SubQuery(kind="exists", a="the piano")) == "Is there a piano in the image?"
    assert render_question(SubQuery(kind="height", a="the lamp")) == "How tall is the lamp?"


def test_geometric_measurements_are_exact() -> None:
    scene = living_room(gap=1.2)
    tool = GeometricTool(scene=scene)
    assert tool.measure(None, SubQuery(kind="gap", a="sofa", b="red chair")).meters == pytest.approx(1.2)
    # Plural = group: min gap over both chairs (the red one is nearer).
    assert tool.measure(None, SubQuery(kind="gap", a="the sofa", b="the chairs")).meters == pytest.approx(1.2)
    blue = tool.measure(None, SubQuery(kind="gap", a="sofa", b="blue chair")).meters
    assert blue == pytest.approx(math.hypot(0.5 + 1.2, 2.5 - 0.9))
    assert tool.measure(None, SubQuery(kind="height", a="lamp")).meters == pytest.approx(1.6)
    assert tool.measure(None, SubQuery(kind="width", a="table")).meters == pytest.approx(1.5)
    assert tool.measure(None, SubQuery(kind="depth", a="table")).meters == pytest.approx(0.8)
    assert tool.measure(None, SubQuery(kind="elevation", a="wall shelf")).meters == pytest.approx(1.2)
    d = tool.measure(None, SubQuery(kind="distance", a="sofa", b="table")).meters
    assert d == pytest.approx(math.dist((1.0, 0.45, 0.4), (0.75, 3.4, 0.375)))  # centre to centre, 3D
    ex = tool.measure(None, SubQuery(kind="exists", a="chairs"))
    assert ex.boolean is True and ex.value == 2
    # Rotated footprints: the gap is polygon to polygon, not box centres.
    rot = GeometricTool(scene=rotated_pair(0.7))
    assert rot.measure(None, SubQuery(kind="gap", a="crate", b="barrel")).meters == pytest.approx(0.7)


def test_missing_and_ambiguous_objects_give_no_numbers() -> None:
    tool = GeometricTool(scene=living_room())
    ans = tool.measure(None, SubQuery(kind="gap", a="the sofa", b="the piano"))
    assert ans.value is None and ans.meters is None
    assert ans.text == "I cannot find a piano in the image"
    amb = tool.measure(None, SubQuery(kind="height", a="the chair"))
    assert amb.value is None and "ambiguous" in amb.text


def test_answers_are_cached_per_image_and_subquery() -> None:
    calls: list[str] = []

    def reconstruct(image: np.ndarray):
        calls.append(image_key(image))
        return living_room(gap=float(image[0, 0, 0]) / 10)

    tool = GeometricTool(reconstruct=reconstruct)
    im1 = np.full((4, 4, 3), 12, np.uint8)
    im2 = np.full((4, 4, 3), 15, np.uint8)
    q = SubQuery(id="g", kind="gap", a="sofa", b="red chair")
    assert tool.measure(im1, q).meters == pytest.approx(1.2)
    assert tool.measure(im1, q.model_copy(update={"id": "other"})).meters == pytest.approx(1.2)
    assert tool.measure(im2, q).meters == pytest.approx(1.5)
    assert len(calls) == 2 and tool.cache.hits == 1 and tool.cache.misses == 2


@pytest.mark.parametrize(("width", "expected"), [(1.0, True), (1.19, True), (1.25, False), (2.0, False)])
def test_fit_between_end_to_end(agent: SpatialAgent, width: float, expected: bool) -> None:
    r = agent.ask(None, f"Can a {width} m wide robot fit between the sofa and the chairs?")
    assert r.decision is expected
    assert r.planner_calls == 1 and r.error is None
    assert r.sub_answers["g"].meters == pytest.approx(1.2)
    assert r.answer.startswith("Yes" if expected else "No") and "1.20 m" in r.answer
    assert [s.node for s in r.steps] == ["plan", "measure", "compute", "verify", "answer"]


def test_other_families_end_to_end(agent: SpatialAgent) -> None:
    under = agent.ask(None, "Can a box of 70 cm fit under the table?")  # a box hides the clearance: no yes/no
    assert under.decision is None and "can't measure the clearance under the table" in under.answer
    assert agent.ask(None, "Can a 1 m wide cart go through the door?").decision is False
    assert agent.ask(None, "Is the lamp taller than 5 ft?").decision is True  # 1.6 > 1.524
    assert agent.ask(None, "Is the wall shelf more than 1 m above the floor?").decision is True
    assert agent.ask(None, "Is the sofa bigger than the table?").decision is True
    r = agent.ask(None, "How tall is the lamp?")
    assert r.decision is None and r.value == pytest.approx(1.6) and r.unit == "m"


def test_missing_object_replans_once_then_says_so(agent: SpatialAgent) -> None:
    r = agent.ask(None, "Can a 1 m wide robot fit between the sofa and the piano?")
    assert r.answer == "I cannot find a piano in the image"
    assert r.decision is None and r.value is None and r.error
    assert r.planner_calls == 2
    assert [s.node for s in r.steps].count("plan") == 2


def test_refusal_and_bad_inputs(agent: SpatialAgent, tmp_path: Path) -> None:
    r = agent.ask(None, "What is the capital of France?")
    assert r.answer == "I can only answer spatial questions about the image." and r.decision is None
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        agent.ask(tmp_path / "nope.png", "How tall is the lamp?")
    with pytest.raises(ValueError, match="question"):
        agent.ask(None, "")


class _ScriptedPlanner:
    """A planner that returns given plans in order (drives the verify/re-plan path)."""

    name = "scripted"

    def __init__(self, plans: list[Plan]) -> None:
        self.plans = plans
        self.feedback: list[str | None] = []

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        self.feedback.append(feedback)
        return self.plans[len(self.feedback) - 1]


def test_bad_expression_triggers_replan_with_feedback() -> None:
    bad = Plan(subqueries=[SubQuery(id="g", kind="gap", a="sofa", b="red chair")], compute="g >= 1 m ** 2")
    good = Plan(subqueries=[SubQuery(id="g", kind="gap", a="sofa", b="red chair"),
                            SubQuery(id="h", kind="height", a="lamp")],
                compute="g >= 1 m and h > 1.5 m", answer_template="{decision} ({g}, {h})")
    planner = _ScriptedPlanner([bad, good])
    r = SpatialAgent(tool=GeometricTool(scene=living_room()), planner=planner).ask(None, "q?")
    assert planner.feedback[0] is None and "Pow" in (planner.feedback[1] or "")
    assert r.decision is True and r.planner_calls == 2 and r.answer == "Yes (1.20 m, 1.60 m)"


def test_adapters(agent: SpatialAgent, tmp_path: Path) -> None:
    img = tmp_path / "room.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    schema = openai_tool_schema()
    assert schema["function"]["name"] == TOOL_NAME
    assert set(schema["function"]["parameters"]["required"]) == {"image", "question"}
    out = json.loads(dispatch_openai_call(agent, TOOL_NAME, json.dumps(
        {"image": str(img), "question": "Can a 1 m wide robot fit between the sofa and the chairs?"})))
    assert out["decision"] is True
    with pytest.raises(ValueError, match="unknown tool"):
        dispatch_openai_call(agent, "other", "{}")
    with pytest.raises(ValueError, match="bad arguments"):
        dispatch_openai_call(agent, TOOL_NAME, "{not json")

    lc = langchain_tool(agent)
    assert lc.name == TOOL_NAME
    res = json.loads(lc.invoke({"image": str(img), "question": "How tall is the lamp?"}))
    assert res["value"] == pytest.approx(1.6)

    server = mcp_server(agent, roots=[tmp_path])  # the server reads images only under its roots
    tools = asyncio.run(server.list_tools())
    assert [t.name for t in tools] == [TOOL_NAME]
    assert set(tools[0].input_schema["required"]) == {"image", "question"}
    called = asyncio.run(server.call_tool(TOOL_NAME, {"image": str(img), "question": "How tall is the lamp?"}))
    assert "1.6" in json.dumps(called.model_dump(mode="json") if hasattr(called, "model_dump") else str(called))


def test_cli_ask_with_scene(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "room.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    scene = tmp_path / "scene.json"
    scene.write_text(living_room(gap=0.9).model_dump_json())
    assert main(["ask", str(img), "Can a 1 m wide robot fit between the sofa and the red chair?",
                 "--scene", str(scene), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] is False and out["sub_answers"]["g"]["meters"] == pytest.approx(0.9)
    assert main(["ask", str(tmp_path / "missing.png"), "How tall is the lamp?", "--scene", str(scene)]) == 2
    assert "missing.png" in capsys.readouterr().err
    assert main(["ask", str(img), "How tall is the lamp?", "--scene", str(tmp_path / "none.json")]) == 2


def test_vlm_tool_renders_questions() -> None:
    from spatial_agent.tools import VLMTool

    class FakeVLM:
        source = "vlm:fake"

        def __init__(self) -> None:
            self.questions: list[str] = []

        def ask(self, image: object, question: str) -> Answer:
            self.questions.append(question)
            return Answer(text="About 1.1 m.", value=1.1, unit="m", meters=1.1, source=self.source)

    vlm = FakeVLM()
    r = SpatialAgent(tool=VLMTool(vlm)).ask(None, "Can a 1 m wide robot fit between the sofa and the chairs?")
    # Asked in the wording of the "gap" QA type the model was trained on.
    assert vlm.questions == ["How much free space is there between the sofa and the chairs?"]
    assert r.decision is True


def test_compound_nouns_resolve_to_their_head() -> None:
    from spatial_agent.testing import box_object
    from spatialvlm_core.phrases import resolve
    from spatialvlm_core.types import Scene3D

    scene = Scene3D(scene_id="s", canonical=True, objects=[
        box_object("a1", "armchair", (0, 3), (0.8, 3.8), caption="the red armchair"),
        box_object("a2", "armchair", (2, 3), (2.8, 3.8), caption="the green armchair"),
        box_object("s", "sofa", (-3, 3), (-1, 3.9), caption="the blue sofa"),
    ])
    r = resolve(scene, "the chairs")
    assert r.group and {o.id for o in r.objects} == {"a1", "a2"}
    assert resolve(scene, "the chair").ambiguous
    assert [o.id for o in resolve(scene, "the red chair").objects] == ["a1"]


def test_head_noun_fallback_only_when_unique() -> None:
    from spatial_agent.testing import box_object
    from spatialvlm_core.phrases import resolve
    from spatialvlm_core.types import Scene3D

    scene = Scene3D(scene_id="s", canonical=True, objects=[
        box_object("t", "coffee table", (0, 3), (1, 3.6), caption="the brown coffee table"),
        box_object("a1", "armchair", (2, 3), (2.8, 3.8), caption="the red armchair"),
        box_object("a2", "armchair", (4, 3), (4.8, 3.8), caption="the green armchair"),
    ])
    r = resolve(scene, "the beige coffee table")
    assert r.relaxed and [o.id for o in r.objects] == ["t"]
    assert not resolve(scene, "the blue armchair").found  # two armchairs: no guessing
    assert not resolve(scene, "the piano").found
