"""generate_qa over many random scenes: balance, templates, ambiguity, canonical gating, determinism, noise."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from spatialvlm_core.questions import REGISTRY, QAConfig, generate_qa, parse_answer, perturb_scene
from spatialvlm_core.questions.generator import SYMMETRIC_TYPES
from spatialvlm_core.questions.testing import make_box_object, make_scene, random_scene
from spatialvlm_core.types import QAPair, Scene3D


def scenes(k: int, canonical: bool = True, ambiguous_share: float = 0.0, seed: int = 0) -> list[Scene3D]:
    rng = random.Random(seed)
    return [random_scene(rng, n_objects=rng.randint(3, 9), scene_id=f"s{i}", canonical=canonical,
                         ambiguous_share=ambiguous_share) for i in range(k)]


@pytest.fixture(scope="module")
def corpus() -> list[tuple[Scene3D, list[QAPair]]]:
    return [(s, generate_qa(s, n=30, seed=7)) for s in scenes(120)]


def test_shares_are_balanced(corpus: list[tuple[Scene3D, list[QAPair]]]) -> None:
    qas = [q for _, qs in corpus for q in qs]
    assert len(qas) > 3000
    qual = sum(q.category == "qualitative" for q in qas) / len(qas)
    assert abs(qual - 0.5) < 0.02
    preds = [q for q in qas if q.kind == "predicate"]
    true_share = sum(bool(q.truth_bool) for q in preds) / len(preds)
    assert abs(true_share - 0.5) < 0.02
    quant_len = [q for q in qas if q.unit in ("m", "cm", "ft", "in")]
    imperial = sum(q.unit in ("ft", "in") for q in quant_len) / len(quant_len)
    assert 0.15 < imperial < 0.25
    assert {q.qtype for q in qas} == set(REGISTRY)  # every type shows up


def test_pairs_are_self_consistent(corpus: list[tuple[Scene3D, list[QAPair]]]) -> None:
    slot = re.compile(r"\{[A-Za-z_]+\}")
    for scene, qas in corpus:
        assert len({(q.qtype, tuple(q.object_ids)) for q in qas}) == len(qas)  # no repeats
        for q in qas:
            assert not slot.search(q.question) and not slot.search(q.answer), q
            assert not q.question[0].islower() and not q.answer[0].islower()
            qt = REGISTRY[q.qtype]
            assert (q.category, q.kind) == (qt.category, qt.kind)
            assert isinstance(q.provenance["template"], int)
            assert 0 <= q.provenance["template"] < len(qt.question_templates)
            for oid in q.object_ids:
                scene.get(oid)
            parsed = parse_answer(q.answer)
            if q.kind == "quantitative":
                assert (parsed.value, parsed.unit) == (q.value, q.unit if q.unit != "count" else None), q.answer
                assert q.truth is not None
            elif q.kind == "predicate":
                assert parsed.boolean == q.truth_bool, q.answer
            else:
                assert q.choice and q.choice.lower() in q.answer.lower()


def test_stated_values_round_the_truth(corpus: list[tuple[Scene3D, list[QAPair]]]) -> None:
    for _, qas in corpus:
        for q in qas:
            if q.unit in ("m", "cm", "ft", "in"):
                meters = parse_answer(q.answer).meters
                assert meters is not None and abs(meters - q.truth) <= max(0.125 * q.truth, 0.013)
            elif q.unit in ("count", "o'clock"):
                assert abs(q.value - q.truth) <= 0.5 + 1e-9
            elif q.unit == "deg":
                assert abs(q.value - q.truth) <= 2.5 + 1e-9


def test_predicate_truth_matches_geometry(corpus: list[tuple[Scene3D, list[QAPair]]]) -> None:
    for scene, qas in corpus:
        for q in qas:
            qt = REGISTRY[q.qtype]
            if q.kind == "predicate" and "phrase" in q.provenance:
                truth = qt.truth(scene, q.object_ids)
                assert q.truth_bool == (truth if q.provenance["phrase"] == qt.phrases[0] else not truth)
            if q.kind == "choice" and "winner_id" in q.provenance:
                assert scene.get(q.provenance["winner_id"]).caption == q.choice
                assert qt.truth(scene, q.object_ids) in q.object_ids


def test_never_asks_about_ambiguous_objects() -> None:
    for scene in scenes(40, ambiguous_share=0.4, seed=3):
        ambiguous = {o.id for o in scene.objects if o.ambiguous}
        captions = {o.caption for o in scene.objects if o.ambiguous}
        for q in generate_qa(scene, n=30, seed=1):
            assert not ambiguous & set(q.object_ids), q
            if q.choice:
                assert q.choice not in captions


def test_non_canonical_scenes_skip_vertical_types() -> None:
    vertical = {n for n, t in REGISTRY.items() if t.requires_canonical}
    assert {"height", "height_above_floor", "elevation_difference", "above_below_predicate", "taller_choice",
            "vertical_distance", "gap"} <= vertical
    seen = set()
    for scene in scenes(40, canonical=False, seed=5):
        for q in generate_qa(scene, n=30, seed=0):
            assert q.qtype not in vertical
            seen.add(q.qtype)
    assert len(seen) >= 15


def test_deterministic_given_seed() -> None:
    scene = scenes(1, seed=11)[0]
    a = [q.model_dump() for q in generate_qa(scene, n=25, seed=3)]
    b = [q.model_dump() for q in generate_qa(scene, n=25, seed=3)]
    c = [q.model_dump() for q in generate_qa(scene, n=25, seed=4)]
    assert a == b
    assert a != c


def test_config_allow_deny_and_limits() -> None:
    scene = scenes(1, seed=2)[0]
    qas = generate_qa(scene, n=10, config=QAConfig(allow=["distance", "width"]))
    assert qas and {q.qtype for q in qas} <= {"distance", "width"}
    qas = generate_qa(scene, n=40, config=QAConfig(deny=["distance"], max_per_scene=12))
    assert len(qas) <= 12 and all(q.qtype != "distance" for q in qas)
    assert all(q.category == "quantitative" for q in generate_qa(scene, n=10, config=QAConfig(qualitative_share=0)))
    assert len(generate_qa(scene, config=QAConfig(default_n=7))) == 7
    with pytest.raises(ValueError, match="unknown question type 'nope'"):
        QAConfig(allow=["nope"])
    with pytest.raises(ValueError, match="n must be >= 0"):
        generate_qa(scene, n=-1)
    # a scene with one object supports only single-object types
    single = make_scene([make_box_object("a", "lamp", "the lamp", (0, 2, 0.5), (0.3, 0.3, 1.0))])
    assert all(REGISTRY[q.qtype].n_objects == 1 for q in generate_qa(single, n=10))


def test_perturb_scene_and_label_noise() -> None:
    scene = scenes(1, seed=9)[0]
    noisy = perturb_scene(scene, 0.05, random.Random(0))
    assert noisy is not scene and len(noisy.objects) == len(scene.objects)
    shifts = [np.subtract(n.centroid, o.centroid) for n, o in zip(noisy.objects, scene.objects, strict=True)]
    assert 0.02 < float(np.std(shifts)) < 0.1
    for o in noisy.objects:
        assert np.allclose(o.aabb.center, o.centroid) and np.allclose(o.obb.center, o.centroid)
        assert o.height_above_floor == pytest.approx(max(0.0, o.aabb.min[2]))
        assert np.allclose(np.asarray(o.footprint), o.obb.corners_xy())
    assert perturb_scene(scene, 0.0, random.Random(0)) is scene
    with pytest.raises(ValueError, match="sigma"):
        perturb_scene(scene, -1.0, random.Random(0))
    clean = generate_qa(scene, n=20, seed=1, config=QAConfig(allow=["width"]))
    noisy_qa = generate_qa(scene, n=20, seed=1, config=QAConfig(allow=["width"], label_noise=0.05))
    assert [q.truth for q in clean] != [q.truth for q in noisy_qa]
    assert noisy_qa[0].provenance["label_noise"] == 0.05


def test_count_asked_once_per_category_name() -> None:
    # Four distinguishable chairs and a table: "how many chairs?" has one answer however the chair is sampled.
    objs = [make_box_object(f"c{i}", "chair", f"the {c} chair", (-2.0 + 1.2 * i, 2.0 + 0.3 * i, 0.45),
                            (0.5, 0.5, 0.9)) for i, c in enumerate(("red", "blue", "green", "white"))]
    objs.append(make_box_object("t", "table", "the table", (0.0, 4.0, 0.4), (1.6, 0.9, 0.8)))
    scene = make_scene(objs)
    for seed in range(5):
        counts = generate_qa(scene, n=40, seed=seed, config=QAConfig(allow=["count"]))
        names = [scene.get(q.object_ids[0]).name for q in counts]
        assert sorted(names) == ["chair", "table"], [q.question for q in counts]
        by_name = {scene.get(q.object_ids[0]).name: q.value for q in counts}
        assert by_name == {"chair": 4.0, "table": 1.0}


def test_mirror_questions_not_repeated(corpus: list[tuple[Scene3D, list[QAPair]]]) -> None:
    assert {"left_right_predicate", "left_right_choice", "distance"} <= SYMMETRIC_TYPES
    n_sym = 0
    for _, qas in corpus:
        keys = [(q.qtype, frozenset(q.object_ids)) for q in qas if q.qtype in SYMMETRIC_TYPES]
        n_sym += len(keys)
        assert len(keys) == len(set(keys)), [q.question for q in qas]
        counts = [q.question for q in qas if q.qtype == "count"]
        assert len(counts) == len(set(counts)), counts
    assert n_sym > 1000


def test_mirror_dedupe_on_a_dense_scene() -> None:
    # Three objects, left/right only: 3 unordered pairs x 2 types is all there is to ask.
    objs = [make_box_object(k, k, f"the {k}", (x, 3.0, 0.5), (0.4, 0.4, 1.0))
            for k, x in (("lamp", -1.5), ("sofa", 0.0), ("desk", 1.5))]
    scene = make_scene(objs)
    qas = generate_qa(scene, n=50, seed=0, config=QAConfig(allow=["left_right_predicate", "left_right_choice"]))
    pairs = [(q.qtype, frozenset(q.object_ids)) for q in qas]
    assert len(pairs) == len(set(pairs)) == 6
