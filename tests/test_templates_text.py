"""Template text reads as English for every fill it can get (#21): no word said twice in a row ("about about
2 feet", "a a meter gap"), no article before a hedge or another article ("a about 2 feet"), and captions of
people name clothes or place, never a colour of the person."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator

import numpy as np

from spatialvlm_core.naming import COLOR_TABLE, SKIN_WORDS, color_of_mask, name_objects
from spatialvlm_core.questions import templates as T
from spatialvlm_core.questions.quantities import format_length
from spatialvlm_core.questions.question_types import _NUMBER_WORDS, RELATIONS
from spatialvlm_core.questions.registry import REGISTRY
from spatialvlm_core.types import Box3D, CameraPose, Object3D, OrientedBox3D, Scene3D

CAPTIONS = ("the red sofa", "the sofa", "the left person in red", "the nearer gray box")


def _length_texts() -> set[str]:
    """Every way ``format_length`` says a length (hedged or not, metric and imperial), over 1 cm to 20 m."""
    out: set[str] = set()
    for system in ("metric", "imperial"):
        for hedge in (True, False):
            for i, m in enumerate(np.geomspace(0.01, 20.0, 400)):
                rng = random.Random(i)
                for _ in range(4):
                    out.add(format_length(float(m), rng, system, hedge=hedge)[0])
    return out


LENGTHS = sorted(_length_texts())
WIDTHS = sorted({format_length(float(m), random.Random(i), s, hedge=False)[0]
                 for i, m in enumerate(np.geomspace(0.1, 3.0, 200)) for s in ("metric", "imperial")})
COUNTS = (*(str(k) for k in range(12)), *_NUMBER_WORDS)
# What {value} is for each question type (question_types: counts, clock hours, degrees, else lengths).
VALUES_OF: dict[str, tuple[str, ...]] = {
    "count": COUNTS, "stack_count": COUNTS, "side_by_side_count": COUNTS,
    "clock_direction": ("3 o'clock", "11 o'clock"), "relative_clock": ("3 o'clock", "11 o'clock"),
    "bearing": ("30 degrees to the left", "5 degrees to the right"),
}


def _all_templates() -> Iterator[tuple[str, tuple[str, ...]]]:
    """(template, the values its {value} takes) for every template of every registered question type."""
    seen: set[str] = set()
    for name, qt in REGISTRY.items():
        values = VALUES_OF.get(name, tuple(LENGTHS))
        for bank in (qt.question_templates, qt.answer_templates, qt.negative_answer_templates or ()):
            for t in bank:
                if (t, name) not in seen:
                    seen.add((t, name))
                    yield t, values


def _fills(template: str, values: tuple[str, ...]) -> Iterator[str]:
    """The template under every slot value it can take (values and widths in full, captions and relations in
    turn; slots are independent, so each varies with the others at their first value)."""
    choices: dict[str, tuple[str, ...]] = {
        "A": CAPTIONS, "B": CAPTIONS[1:] + CAPTIONS[:1], "C": CAPTIONS[2:] + CAPTIONS[:2],
        "X": CAPTIONS, "Y": CAPTIONS[1:] + CAPTIONS[:1], "plural": ("chairs", "people"),
        "rel": tuple(r.rel for r in RELATIONS) + tuple(r.opp for r in RELATIONS) + ("between",),
        "opp": tuple(r.opp for r in RELATIONS) + tuple(r.rel for r in RELATIONS),
        "adj": tuple(r.adj for r in RELATIONS) + tuple(r.adj_opp for r in RELATIONS),
        "value": values, "width": tuple(WIDTHS),
    }
    slots = [s for s in choices if "{" + s + "}" in template]
    base = {s: choices[s][0] for s in slots}
    yield T.render(template, **base)
    for s in slots:
        for v in choices[s][1:]:
            yield T.render(template, **{**base, s: v})


_HEDGE_OR_ARTICLE = r"(?:a|an|the|about|roughly|around|approximately)"


def _problems(text: str) -> list[str]:
    words = re.findall(r"[a-z']+|\d+(?:[.,]\d+)?", text.lower())  # 1.1 is one number, not 1 twice
    out = [f"{w!r} twice" for w, nxt in itertools.pairwise(words) if w == nxt]
    if re.search(rf"\b(?:a|an)\s+{_HEDGE_OR_ARTICLE}\b", text, re.IGNORECASE):
        out.append("article before a hedge or article")
    return out


def test_the_fills_cover_the_formatters_hedges() -> None:
    assert any(v.startswith("about ") for v in LENGTHS) and any(v.startswith("a ") for v in LENGTHS)
    assert any(v.startswith("a ") for v in WIDTHS)  # "a meter": the article the templates must not repeat
    assert len(list(_all_templates())) > 400


def test_no_template_repeats_a_word_for_any_fill() -> None:
    bad: dict[str, str] = {}
    n = 0
    for template, values in _all_templates():
        for text in _fills(template, values):
            n += 1
            problems = _problems(text)
            if problems and template not in bad:
                bad[template] = f"{text!r}: {', '.join(problems)}"
    assert n > 50_000
    assert not bad, "\n".join(f"{t!r} -> {why}" for t, why in bad.items())


def _person(oid: str, x: float, color: str = "") -> Object3D:
    box = Box3D(center=(x, 2.15, 0.875), size=(0.5, 0.3, 1.75))
    return Object3D(id=oid, name="person", caption="", aabb=box, centroid=box.center,
                    obb=OrientedBox3D(center=box.center, size=box.size, yaw=0.0),
                    attributes={"color": color} if color else {})


def test_people_are_named_by_clothes_or_place_never_a_skin_colour() -> None:
    cam = np.eye(4)
    scene = Scene3D(scene_id="s", canonical=True, camera=CameraPose.from_matrix(cam),
                    objects=[_person("p1", -1.0), _person("p2", 1.0)])
    caps = sorted(o.caption for o in name_objects(scene).objects)
    assert caps == ["the left person", "the right person"]
    one = name_objects(scene.model_copy(update={"objects": [_person("p1", 0.0, "red")]})).objects[0]
    assert one.caption == "the person in red"
    # A figure whose torso band shows skin: no colour word, whatever the skin tone.
    for tone in ((224, 172, 105), (141, 85, 36), (255, 219, 172), (198, 134, 66), (80, 50, 30)):
        img = np.zeros((100, 40, 3), np.uint8)
        img[:] = tone
        mask = np.ones((100, 40), bool)
        assert color_of_mask(img, mask)[0] in SKIN_WORDS  # an object of no class: the tone's word
        assert color_of_mask(img, mask, name="person")[0] == ""
        assert color_of_mask(img, mask, name="pedestrian")[0] == ""
    # Clothes: the torso band's colour, not the face or the legs.
    img = np.zeros((100, 40, 3), np.uint8)
    img[:20] = (224, 172, 105)  # head
    img[20:55] = COLOR_TABLE["blue"]  # shirt
    img[55:] = COLOR_TABLE["black"]  # trousers
    assert color_of_mask(img, np.ones((100, 40), bool), name="man")[0] == "blue"


def test_a_potted_plants_colour_is_its_pot() -> None:
    img = np.zeros((100, 40, 3), np.uint8)
    img[:90] = COLOR_TABLE["green"]  # leaves
    img[90:] = COLOR_TABLE["red"]  # pot
    mask = np.ones((100, 40), bool)
    assert color_of_mask(img, mask, name="potted plant")[0] == "red"
    assert color_of_mask(img, mask)[0] == "green"


def test_the_agent_finds_people_by_their_captions() -> None:
    from spatial_agent import GeometricTool, SpatialAgent

    scene = Scene3D(scene_id="s", canonical=True, camera=CameraPose.from_matrix(np.eye(4)),
                    objects=[_person("p1", -1.0, "red"), _person("p2", 1.0, "blue")])
    named = name_objects(scene)
    assert sorted(o.caption for o in named.objects) == ["the person in blue", "the person in red"]
    agent = SpatialAgent(tool=GeometricTool(scene=named))
    img = np.zeros((8, 8, 3), np.uint8)
    assert "the person in red is 1.75 m" in agent.ask(img, "How tall is the person in red?").answer
    plain = name_objects(scene.model_copy(update={"objects": [_person("p1", -1.0), _person("p2", 1.0)]}))
    agent = SpatialAgent(tool=GeometricTool(scene=plain))
    assert "the left person is 1.75 m" in agent.ask(img, "How tall is the left person?").answer
