"""Existence and yes/no questions with a spatial relation ("Is there a mug on the table?", "Is the lamp behind the
table?"): planned as a ``relation`` sub-query and decided by the tool from geometry, on box scenes with exact truth."""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from spatial_agent import GeometricTool, SpatialAgent, SubQuery, VLMTool, render_question
from spatial_agent.planners.openai_planner import OpenAIPlanner, RetryPolicy
from spatial_agent.planners.rules import RulePlanner
from spatial_agent.testing import box_object, living_room
from spatial_agent.tools import NEAR_DEFAULT_M, footprint_overlap, relation_holds
from spatialvlm_core.questions import get_type, parse_answer
from spatialvlm_core.questions.geometry_ops import SceneContext
from spatialvlm_core.questions.testing import make_box_object, make_scene, random_scene
from spatialvlm_core.types import Answer, Scene3D

P = RulePlanner()
NODES = ["plan", "measure", "compute", "verify", "answer"]


def room() -> Scene3D:
    """Camera at (0, -3, 1.5) looking along +y: right = +x, farther = +y. Exact layout (metres):

    table (0, 1)-(1.2, 1.8), 0.75 tall; red mug resting on it; wall shelf (2, 1)-(3, 1.3) at 1.2-1.5 with the blue
    mug on it; a cardboard box under the table; sofa 1.0 m left of the table; chair 0.2 m right of the table;
    lamp 1.2 m behind the table.
    """
    return make_scene([
        box_object("table", "table", (0.0, 1.0), (1.2, 1.8), (0.0, 0.75)),
        box_object("mug1", "mug", (0.2, 1.2), (0.3, 1.3), (0.75, 0.85), "the red mug"),
        box_object("shelf", "shelf", (2.0, 1.0), (3.0, 1.3), (1.2, 1.5), "the wall shelf"),
        box_object("mug2", "mug", (2.2, 1.1), (2.3, 1.2), (1.5, 1.6), "the blue mug"),
        box_object("box", "box", (0.3, 1.2), (0.7, 1.6), (0.0, 0.3), "the cardboard box"),
        box_object("sofa", "sofa", (-3.0, 1.0), (-1.0, 1.9), (0.0, 0.8)),
        box_object("chair", "chair", (1.4, 1.0), (1.9, 1.5), (0.0, 0.9)),
        box_object("lamp", "lamp", (0.4, 3.0), (0.7, 3.3), (0.0, 1.6)),
    ], scene_id="relations")


@pytest.fixture(scope="module")
def agent() -> SpatialAgent:
    return SpatialAgent(tool=GeometricTool(scene=room()))


# --------------------------------------------------------------------------- planning: phrasings -> one sub-query
@pytest.mark.parametrize(("q", "relation", "a", "b", "within"), [
    ("Is there a mug on the table?", "on", "a mug", "the table", None),
    ("Is the mug on top of the table?", "on", "the mug", "the table", None),
    ("Is there a red mug sitting on the table in the image?", "on", "a red mug", "the table", None),
    ("Does the mug appear to be on the table?", "on", "the mug", "the table", None),
    ("Is there a box underneath the table?", "under", "a box", "the table", None),
    ("Is the box beneath the table?", "under", "the box", "the table", None),
    ("Is the lamp over the table?", "over", "the lamp", "the table", None),
    ("Looking at the image, is the shelf above the table?", "above", "the shelf", "the table", None),
    ("Is the box below the table?", "below", "the box", "the table", None),
    ("Are there any chairs next to the table?", "next_to", "any chairs", "the table", None),
    ("Is the chair beside the table?", "next_to", "the chair", "the table", None),
    ("Is the sofa close to the table?", "next_to", "the sofa", "the table", None),
    ("Is there a chair within 30 cm of the table?", "next_to", "a chair", "the table", 0.3),
    ("Is the sofa next to the table, within 2 m?", "next_to", "the sofa", "the table", 2.0),
    ("Is the sofa to the left of the table?", "left_of", "the sofa", "the table", None),
    ("From the camera's point of view, is the sofa left of the table?", "left_of", "the sofa", "the table", None),
    ("Would you say the chair is on the right side of the table?", "right_of", "the chair", "the table", None),
    ("Is the lamp positioned behind the table in this scene?", "behind", "the lamp", "the table", None),
    ("Is the table in front of the lamp?", "in_front_of", "the table", "the lamp", None),
    ("Is there anything on the table?", "on", "anything", "the table", None),
])
def test_relation_questions_plan_one_relation_subquery(q: str, relation: str, a: str, b: str,
                                                       within: float | None) -> None:
    plan = P.plan(q)
    assert plan.refusal is None, q
    [s] = plan.subqueries
    assert (s.kind, s.relation, s.a, s.b) == ("relation", relation, a, b)
    assert s.within == (pytest.approx(within) if within is not None else None)
    assert plan.compute == "r"


def test_questions_without_a_relation_keep_their_plans() -> None:
    assert [(s.kind, s.a) for s in P.plan("Is there a piano in the image?").subqueries] == [("exists", "piano")]
    # A stated length still goes to the measuring rules, not to a relation.
    assert P.plan("Can a 1.4 m long board lie on the table?").subqueries[0].kind == "width"
    assert P.plan("Is the lamp within 2 ft of the table?").subqueries[0].kind == "closest"
    assert P.plan("Is there room under the table for a 30 cm robot?").refusal


def test_relation_the_tools_cannot_check_is_refused_not_ignored() -> None:
    plan = P.plan("Is there a mug in the box?")
    assert not plan.subqueries and plan.refusal and "a mug in the box" in plan.refusal
    # The room is the whole picture, not a relation.
    assert [(s.kind, s.a) for s in P.plan("Is there a mug in the kitchen?").subqueries] == [("exists", "mug")]
    compound = P.plan("Is the mug on the table and next to the lamp?")
    assert not compound.subqueries and compound.refusal and "one relation" in compound.refusal
    negated = P.plan("Is there a mug that is not on the table?")
    assert negated.refusal and "without 'not'" in negated.refusal


# --------------------------------------------------------------------------- decisions against exact truth
@pytest.mark.parametrize(("q", "decision", "answer"), [
    # on
    ("Is there a mug on the table?", True, "Yes: the red mug is on the table."),
    ("Is the red mug on the table?", True, "Yes: the red mug is on the table."),
    ("Is the blue mug on the table?", False, "No: the blue mug is not on the table (it is on the wall shelf)."),
    ("Is there a blue mug on the table?", False,
     "No: there is a blue mug, but it is not on the table (it is on the wall shelf)."),
    ("Is the chair on the table?", False, "No: the chair is not on the table (it stands on the floor, 0.20 m from "
                                          "the table)."),
    ("Is there anything on the table?", True, "Yes: the red mug is on the table."),
    ("Is there anything on the sofa?", False, "No: nothing is on the sofa."),
    ("Is the table on the floor?", True, "Yes: the table is on the floor."),
    ("Is the shelf on the floor?", False, "No: the shelf is not on the floor (it is 1.20 m above the floor)."),
    # under / over
    ("Is there a box under the table?", True, "Yes: the cardboard box is under the table."),
    ("Is the box beneath the table?", True, "Yes: the box is under the table."),
    ("Is the chair under the table?", False, "No: the chair is not under the table (it is 0.20 m to the side of "
                                             "the table)."),
    ("Is the red mug under the table?", False, "No: the red mug is not under the table (it is on the table)."),
    ("Is there a mug under the table?", False, "No: I see the red mug and the blue mug, but none is under the table"),
    ("Is the blue mug over the shelf?", True, "Yes: the blue mug is over the shelf."),
    ("Is the box over the table?", False, "No: the box is not over the table (it is under the table)."),
    # above / below (centre heights, as the QA data)
    ("Is the shelf above the table?", True, "Yes: the shelf is above the table (by 0.98 m, comparing centre "
                                            "heights)."),
    ("Is the box above the table?", False, "No: the box is not above the table (it is 0.23 m below the table, "
                                           "comparing centre heights)."),
    ("Is the box below the table?", True, "Yes: the box is below the table (by 0.23 m"),
    # next to
    ("Is the chair next to the table?", True, "Yes: the chair is next to the table (0.20 m apart at the closest "
                                              "points)."),
    ("Is the sofa near the table?", False, "No: the sofa is not next to the table (it is 1.00 m from the table at "
                                           "the closest points; next to means within 0.50 m)."),
    ("Is the sofa next to the table, within 1.5 m?", True, "Yes: the sofa is next to the table (1.00 m apart"),
    ("Is there a chair within 10 cm of the table?", False, "No: there is a chair, but it is not next to the table "
     "(it is 0.20 m from the table at the closest points; the question asks for within 0.10 m)."),
    ("Are there any chairs beside the table?", True, "Yes: the chair is next to the table"),
    # left / right / front / behind (camera view)
    ("Is the sofa to the left of the table?", True, "Yes: the sofa is to the left of the table (by 2.60 m, centre "
                                                   "to centre, from the camera's view)."),
    ("Is the sofa to the right of the table?", False, "No: the sofa is not to the right of the table (it is 2.60 m "
                                                      "to the left of the table"),
    ("Is the chair right of the table?", True, "Yes: the chair is to the right of the table (by 1.05 m"),
    ("Is the lamp behind the table?", True, "Yes: the lamp is behind the table (by 1.75 m"),
    ("Is the table behind the lamp?", False, "No: the table is not behind the lamp (it is 1.75 m in front of the "
                                             "lamp"),
    ("Is the table in front of the lamp?", True, "Yes: the table is in front of the lamp"),
    # definite plural: every member
    ("Are the mugs on the table?", False, "No: not all of the mugs are on the table (the blue mug is on the wall "
                                          "shelf)."),
    # negation flips the computed decision
    ("Is the red mug not on the table?", False, "No: the red mug is on the table."),
])
def test_relation_decisions(agent: SpatialAgent, q: str, decision: bool, answer: str) -> None:
    r = agent.ask(None, q)
    assert r.decision is decision, r.answer
    assert r.answer.startswith(answer), r.answer
    assert r.error is None and r.planner_calls == 1  # one rule-planner call, as for every other question
    assert [s.node for s in r.steps] == NODES
    assert r.sub_answers["r"].boolean is (decision if "not on" not in q else not decision)


def test_missing_objects_say_so_without_numbers(agent: SpatialAgent) -> None:
    r = agent.ask(None, "Is there a vase on the table?")  # existence: no vase at all means No
    assert r.decision is False and r.answer == "No: I cannot find a vase in the image."
    assert r.planner_calls == 1 and r.sub_answers["r"].value == 0
    for q, missing in [("Is the vase on the table?", "a vase"), ("Is there a mug on the piano?", "a piano"),
                       ("Is the sofa to the left of the piano?", "a piano")]:
        r = agent.ask(None, q)
        assert r.decision is None and r.answer == f"I cannot find {missing} in the image", q
        assert r.sub_answers["r"].value is None and r.sub_answers["r"].meters is None
        assert r.planner_calls == 2  # a missing object re-plans once, as for every other question
    amb = agent.ask(None, "Is the mug on the table?")  # two mugs: no guessing which one
    assert amb.decision is None and "ambiguous" in amb.answer


def test_camera_and_gravity_are_required_where_the_relation_needs_them() -> None:
    no_camera = SpatialAgent(tool=GeometricTool(scene=living_room()))  # canonical, but no camera pose
    r = no_camera.ask(None, "Is the lamp to the left of the sofa?")
    assert r.decision is None and "no camera pose" in r.answer
    assert no_camera.ask(None, "Is the wall shelf above the sofa?").decision is True  # heights need no camera
    cam_frame = Scene3D(scene_id="cam", canonical=False, objects=[
        make_box_object("a", "mug", "the mug", (0.0, 0.0, 2.0), (0.1, 0.1, 0.1), canonical=False),
        make_box_object("b", "table", "the table", (0.5, 0.3, 2.0), (1.0, 0.1, 1.0), canonical=False),
    ])
    tool = GeometricTool(scene=cam_frame)
    on = tool.measure(None, SubQuery(kind="relation", a="the mug", b="the table", relation="on"))
    assert on.boolean is None and "not gravity-aligned" in on.text
    left = tool.measure(None, SubQuery(kind="relation", a="the mug", b="the table", relation="left_of"))
    assert left.boolean is True  # camera frame: +x is right, the mug is 0.5 m left of the table


# --------------------------------------------------------------------------- the geometry behind the relations
def _pair(mug_z: float, mug_xy: tuple[float, float] = (0.45, 0.45), size: float = 0.1) -> Scene3D:
    x, y = mug_xy
    return make_scene([box_object("t", "table", (0.0, 0.0), (1.0, 1.0), (0.0, 0.75)),
                       box_object("m", "mug", (x, y), (x + size, y + size), (mug_z, mug_z + 0.1))])


@pytest.mark.parametrize(("mug_z", "xy", "size", "on"), [
    (0.75, (0.45, 0.45), 0.1, True),  # resting on the top
    (0.79, (0.45, 0.45), 0.1, True),  # 4 cm of reconstruction slack
    (0.72, (0.45, 0.45), 0.1, True),  # sunk 3 cm
    (0.83, (0.45, 0.45), 0.1, False),  # hovering 8 cm above
    (0.75, (1.0, 0.45), 0.1, False),  # beside the table at its top height, edges touching: nothing holds it
    (0.75, (0.95, 0.45), 0.1, True),  # half of it over the edge: still held
    (0.75, (0.98, 0.45), 0.2, False),  # 10 % of its footprint over the table
])
def test_on_tolerance_and_footprint_overlap(mug_z: float, xy: tuple[float, float], size: float, on: bool) -> None:
    scene = _pair(mug_z, xy, size)
    ctx = SceneContext.build(scene)
    mug, table = scene.objects[1], scene.objects[0]
    assert relation_holds(ctx, "on", mug, table) is on
    assert GeometricTool(scene=scene).measure(
        None, SubQuery(kind="relation", a="the mug", b="the table", relation="on")).boolean is on


def test_footprint_overlap_is_exact() -> None:
    a = box_object("a", "box", (0.0, 0.0), (1.0, 1.0))
    assert footprint_overlap(a, box_object("b", "box", (0.5, 0.0), (1.5, 1.0))) == pytest.approx(0.5)
    assert footprint_overlap(a, box_object("c", "box", (0.25, 0.25), (0.5, 0.5))) == pytest.approx(1.0)
    assert footprint_overlap(a, box_object("d", "box", (1.0, 0.0), (2.0, 1.0))) == pytest.approx(0.0)
    # A unit square turned 45 degrees about the corner (1, 1) of a: a quarter of it overlaps a.
    rot = make_box_object("e", "box", "the box", (1.0, 1.0, 0.5), (1.0, 1.0, 1.0), yaw=0.785398163)
    assert footprint_overlap(a, rot) == pytest.approx(0.25, abs=1e-6)


def test_next_to_default_and_stated_distance() -> None:
    scene = room()
    ctx = SceneContext.build(scene)
    by_id = {o.id: o for o in scene.objects}
    assert NEAR_DEFAULT_M == 0.5
    assert relation_holds(ctx, "next_to", by_id["chair"], by_id["table"])  # 0.20 m
    assert not relation_holds(ctx, "next_to", by_id["sofa"], by_id["table"])  # 1.00 m
    assert relation_holds(ctx, "next_to", by_id["sofa"], by_id["table"], within=1.0)
    assert not relation_holds(ctx, "next_to", by_id["sofa"], by_id["table"], within=0.99)


@pytest.mark.parametrize("canonical", [True, False])
def test_camera_and_height_relations_agree_with_the_qa_data(canonical: bool) -> None:
    """Every ordered pair of random scenes: the tool's answer is the QA predicate's exact truth."""
    checks = [("left_of", "left_right", True), ("right_of", "left_right", False),
              ("in_front_of", "front_behind", True), ("behind", "front_behind", False)]
    if canonical:
        checks += [("above", "above_below", True), ("below", "above_below", False)]
    n = 0
    for seed in range(6):
        scene = random_scene(random.Random(seed), n_objects=5, canonical=canonical)
        ctx = SceneContext.build(scene)
        tool = GeometricTool(scene=scene)
        for x, y in itertools.permutations(scene.objects, 2):
            for relation, qtype, positive in checks:
                truth = get_type(f"{qtype}_predicate").truth_fn(ctx, [x, y])
                if not positive:  # "A right of B" is "B left of A"
                    truth = get_type(f"{qtype}_predicate").truth_fn(ctx, [y, x])
                ans = tool.measure(None, SubQuery(kind="relation", a=x.caption, b=y.caption, relation=relation))
                assert ans.boolean is truth, (seed, x.caption, relation, y.caption, ans.text)
                n += 1
    assert n == 6 * 20 * len(checks)


# --------------------------------------------------------------------------- schema, caching, rendering
def test_relation_subquery_validation() -> None:
    q = SubQuery(kind="relation", a="a mug", b="the table", relation="on top of")  # type: ignore[arg-type]
    assert q.relation == "on"
    assert SubQuery(kind="relation", a="x", b="y", relation="Next to").relation == "next_to"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="needs a 'relation'"):
        SubQuery(kind="relation", a="a mug", b="the table")
    with pytest.raises(ValidationError, match="second object"):
        SubQuery(kind="relation", a="a mug", relation="on")
    with pytest.raises(ValidationError, match="relation"):
        SubQuery(kind="relation", a="a mug", b="the box", relation="inside")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="takes no 'relation'"):
        SubQuery(kind="gap", a="a", b="b", relation="on")
    with pytest.raises(ValidationError, match="'within' is the distance of 'next_to'"):
        SubQuery(kind="relation", a="a", b="b", relation="on", within=0.3)


def test_cache_keeps_relations_apart() -> None:
    tool = GeometricTool(scene=room())
    on = tool.measure(None, SubQuery(kind="relation", a="the red mug", b="the table", relation="on"))
    under = tool.measure(None, SubQuery(kind="relation", a="the red mug", b="the table", relation="under"))
    near = tool.measure(None, SubQuery(kind="relation", a="the sofa", b="the table", relation="next_to"))
    near2 = tool.measure(None, SubQuery(kind="relation", a="the sofa", b="the table", relation="next_to", within=2))
    assert (on.boolean, under.boolean, near.boolean, near2.boolean) == (True, False, False, True)
    assert tool.cache.misses == 4 and tool.cache.hits == 0


def test_render_question_for_text_tools() -> None:
    assert render_question(SubQuery(kind="relation", a="a mug", b="table", relation="on")) == \
        "Is there a mug on the table?"
    assert render_question(SubQuery(kind="relation", a="the lamp", b="the sofa", relation="left_of")) == \
        "Is the lamp to the left of the sofa?"
    assert render_question(SubQuery(kind="relation", a="anything", b="the sofa", relation="next_to", within=0.3)) \
        == "Is there anything within 0.30 m of the sofa?"


# --------------------------------------------------------------------------- the learned tool
class FakeVLM:
    """Answers from a fixed script, parsed like the real model's text; records the questions it was asked."""

    source = "vlm:fake"

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.questions: list[str] = []

    def ask(self, image: object, question: str) -> Answer:
        self.questions.append(question)
        return parse_answer(self.replies.get(question, "I am not sure."), source=self.source)


def test_vlm_tool_asks_the_trained_question() -> None:
    vlm = FakeVLM({"Is the lamp to the left of the sofa?": "Yes, the lamp is to the left of the sofa.",
                   "Is the lamp behind the sofa?": "No, the lamp is in front of the sofa.",
                   "How close does the chair come to the table?": "About 30 cm."})
    agent = SpatialAgent(tool=VLMTool(vlm))
    r = agent.ask(None, "Is the lamp to the left of the sofa?")
    assert r.decision is True and r.answer == "Yes: the model says the lamp is to the left of the sofa."
    r = agent.ask(None, "Is there a lamp behind the sofa?")  # asked about one lamp, as the QA data names it
    assert r.decision is False and r.answer == "No: the model says the lamp is not behind the sofa."
    r = agent.ask(None, "Is the chair next to the table?")  # the trained distance question, compared in code
    assert r.decision is True and "within 0.30 m" in r.answer
    assert vlm.questions == ["Is the lamp to the left of the sofa?", "Is the lamp behind the sofa?",
                             "How close does the chair come to the table?"]
    # Questions the agent renders are the QA templates the model was trained on.
    assert vlm.questions[0] in {t.replace("{A}", "the lamp").replace("{B}", "the sofa").replace(
        "{rel}", "to the left of") for t in get_type("left_right_predicate").question_templates}


def test_vlm_tool_says_when_it_cannot() -> None:
    vlm = FakeVLM({})
    r = SpatialAgent(tool=VLMTool(vlm)).ask(None, "Is there a mug on the table?")
    assert r.decision is None and "not trained on questions about one object being on another" in r.answer
    assert vlm.questions == []  # nothing asked: no trained question exists for "on"
    r = SpatialAgent(tool=VLMTool(vlm)).ask(None, "Is the lamp above the sofa?")  # asked, but no yes/no back
    assert r.decision is None and "is not a yes or no" in r.answer


# --------------------------------------------------------------------------- an LLM planner over HTTP
@pytest.fixture
def planner_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    plan = {"subqueries": [{"id": "r", "kind": "relation", "a": "a mug", "b": "the table",
                            "relation": "on top of"}],
            "compute": "r", "answer_template": "{decision}: {r.text}."}
    reply = {"id": "c", "object": "chat.completion", "created": 0, "model": "test",
             "choices": [{"index": 0, "finish_reason": "stop", "message": {
                 "role": "assistant", "content": None, "tool_calls": [{
                     "id": "call_1", "type": "function",
                     "function": {"name": "submit_plan", "arguments": json.dumps(plan)}}]}}]}
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            raw = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", requests
    httpd.shutdown()
    httpd.server_close()


def test_openai_planner_relation_plan(planner_server: tuple[str, list[dict[str, Any]]]) -> None:
    url, requests = planner_server
    planner = OpenAIPlanner(base_url=url, model="planner", retry=RetryPolicy(attempts=1))
    r = SpatialAgent(tool=GeometricTool(scene=room()), planner=planner).ask(None, "Is there a mug on the table?")
    assert r.decision is True and r.answer == "Yes: the red mug is on the table." and r.planner_calls == 1
    schema = requests[0]["tools"][0]["function"]["parameters"]
    assert "relation" in json.dumps(schema) and "next_to" in json.dumps(schema)
    system = requests[0]["messages"][0]["content"]
    assert "- relation:" in system and "{r.text}" in system
