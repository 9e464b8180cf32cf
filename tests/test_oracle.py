"""questions.oracle: a QAPair answered by its type and object ids; GeometricVLM's QAPair path agrees with its
reading of the question text."""

from __future__ import annotations

import random

import pytest

from spatialvlm_core.geometric_vlm import GeometricVLM
from spatialvlm_core.questions import REGISTRY, QAConfig, generate_qa
from spatialvlm_core.questions.geometry_ops import SceneContext
from spatialvlm_core.questions.oracle import OracleQuery, answer_qa, query_of, solve
from spatialvlm_core.questions.testing import make_box_object, make_scene, random_scene
from spatialvlm_core.types import QAPair, Scene3D


@pytest.fixture
def room() -> Scene3D:
    # Camera at (0, -3, 1.5) looking along +y; +x is to the right.
    return make_scene([
        make_box_object("a", "box", "the red box", (-1.0, 1.0, 0.5), (1.0, 0.5, 1.0)),
        make_box_object("b", "table", "the blue table", (2.0, 1.0, 0.4), (1.2, 0.8, 0.8)),
        make_box_object("c", "lamp", "the white lamp", (-0.5, 3.0, 1.0), (0.3, 0.3, 2.0)),
    ], scene_id="room")


def _generated(canonical: bool) -> list[tuple[Scene3D, QAPair]]:
    out = []
    for s in range(6):
        scene = random_scene(random.Random(s), n_objects=7, scene_id=f"o{s}", canonical=canonical)
        out += [(scene, qa) for qa in generate_qa(scene, n=60, seed=s, config=QAConfig(margin_scale=0.0))]
    return out


@pytest.mark.parametrize("canonical", [True, False])
def test_oracle_reproduces_every_generated_truth(canonical: bool) -> None:
    pairs = _generated(canonical)
    seen = set()
    for scene, qa in pairs:
        sol = answer_qa(qa, scene)
        assert sol.qtype == qa.qtype and sol.kind == qa.kind
        if qa.kind == "predicate":
            assert sol.holds == qa.truth_bool, qa.question
        elif qa.kind == "choice":
            assert scene.get(str(sol.winner_id)).caption == qa.choice, qa.question
        else:
            assert qa.truth is not None and sol.value == pytest.approx(qa.truth, abs=1e-9), qa.question
        seen.add(qa.qtype)
    assert seen == {n for n, qt in REGISTRY.items() if canonical or not qt.requires_canonical}


def test_geometric_vlm_qa_path_matches_its_text_path() -> None:
    g = GeometricVLM()
    for scene, qa in _generated(True)[::3]:
        by_qa, by_text = g.explain_qa(scene, qa), g.explain(scene, qa.question)
        assert by_qa.error is None and by_qa.qtype == by_text.qtype == qa.qtype
        assert by_qa.exact == by_text.exact, qa.question
        if qa.qtype != "count":  # a count's text names a class: that path takes its first object as the id
            assert by_qa.object_ids == by_text.object_ids, qa.question
        assert by_qa.answer.boolean == by_text.answer.boolean
        if qa.kind == "quantitative" and qa.unit not in ("count", "o'clock", "deg"):
            assert by_qa.answer.meters == pytest.approx(by_text.answer.meters), qa.question


def test_phrase_and_adjective_set_the_polarity(room: Scene3D) -> None:
    ctx = SceneContext.build(room)
    left = solve(ctx, OracleQuery(qtype="left_right_predicate", object_ids=["a", "b"], phrase="to the left of"))
    right = solve(ctx, OracleQuery(qtype="left_right_predicate", object_ids=["a", "b"], phrase="to the right of"))
    assert left.holds is True and right.holds is False and left.exact is True
    adjs = REGISTRY["taller_choice"].phrases
    tall = solve(ctx, OracleQuery(qtype="taller_choice", object_ids=["a", "c"], adjective=adjs[0]))
    short = solve(ctx, OracleQuery(qtype="taller_choice", object_ids=["a", "c"], adjective=adjs[1]))
    assert (tall.winner_id, short.winner_id) == ("c", "a")
    gap = solve(ctx, OracleQuery(qtype="fits_between_predicate", object_ids=["a", "b"], width_m=1.0))
    assert gap.holds is True and gap.value == pytest.approx(1.9)
    assert solve(ctx, OracleQuery(qtype="height", object_ids=["c"])).value == pytest.approx(2.0)


def test_bad_queries_name_what_is_wrong(room: Scene3D) -> None:
    ctx = SceneContext.build(room)
    with pytest.raises(ValueError, match="unknown question type 'nope'"):
        solve(ctx, OracleQuery(qtype="nope"))
    with pytest.raises(ValueError, match=r"object id\(s\) \['zz'\] not in scene 'room'"):
        solve(ctx, OracleQuery(qtype="height", object_ids=["zz"]))
    with pytest.raises(ValueError, match="needs its phrase"):
        solve(ctx, OracleQuery(qtype="left_right_predicate", object_ids=["a", "b"]))
    with pytest.raises(ValueError, match="'sideways' is not one of"):
        solve(ctx, OracleQuery(qtype="left_right_predicate", object_ids=["a", "b"], phrase="sideways"))
    with pytest.raises(ValueError, match="stated width"):
        solve(ctx, OracleQuery(qtype="fits_between_predicate", object_ids=["a", "b"]))
    qa = QAPair(id="q1", image_id="room", qtype="height", category="quantitative", kind="quantitative",
                question="How tall is the ghost?", answer="2 m", value=2.0, unit="m", object_ids=["zz"])
    assert query_of(qa).object_ids == ["zz"]
    r = GeometricVLM().explain_qa(room, qa)
    assert r.error is not None and "zz" in r.error and r.answer.value is None
