"""The one phrase resolver (spatialvlm_core.phrases): the rules the agent and GeometricVLM share.

The agent's own cases (synonyms, fallbacks, groups, relaxed colours, detector gaps) are in test_agent_fixes,
test_agent_graph and test_vocabulary_boxes; here the exact flag GeometricVLM reads and the cases its former
fuzzy caption match caught.
"""

from __future__ import annotations

import itertools

from spatialvlm_core.phrases import resolve
from spatialvlm_core.questions.testing import make_box_object, make_scene
from spatialvlm_core.types import Object3D, Scene3D

_x = itertools.count()


def _obj(id: str, name: str, caption: str, ambiguous: bool = False) -> Object3D:
    return make_box_object(id, name, caption, (float(next(_x)), 2.0, 0.5), (0.5, 0.5, 1.0), ambiguous=ambiguous)


def _scene(*objs: Object3D) -> Scene3D:
    return make_scene(list(objs))


def _ids(scene: Scene3D, phrase: str) -> list[str]:
    r = resolve(scene, phrase)
    return [o.id for o in r.objects] if r.found else []


def test_exact_flag_caption_vs_class_match() -> None:
    scene = _scene(_obj("r", "chair", "the red chair"), _obj("t", "table", "the blue table"))
    assert resolve(scene, "the red chair").exact and resolve(scene, "The Red Chair").exact
    by_class = resolve(scene, "the chair")
    assert by_class.found and not by_class.exact and not by_class.relaxed


def test_noisy_caption_finds_the_object_relaxed() -> None:
    # A reconstruction's caption gained a size word, or the perceived colour differs: still the one red chair.
    scene = _scene(_obj("r", "chair", "the red chair"), _obj("b", "chair", "the blue chair"),
                   _obj("t", "table", "the red table"))
    r = resolve(scene, "the larger red chair")
    assert [o.id for o in r.objects] == ["r"] and r.relaxed and not r.exact
    assert _ids(_scene(_obj("r", "chair", "the red chair")), "the green chair") == ["r"]
    assert _ids(scene, "the green chair") == []  # two chairs, neither green: a tie, no guessing


def test_alias_naming_a_kind_narrows_the_class() -> None:
    # "dining chair" is an alias of chair, and an armchair is a chair: the alias's word still picks the kind.
    scene = _scene(_obj("d", "dining_chair", "the blue dining chair"), _obj("a", "armchair", "the red armchair"),
                   _obj("t", "table_lamp", "the black table lamp"), _obj("f", "floor_lamp", "the beige floor lamp"))
    assert _ids(scene, "the red dining chair") == ["d"]  # colour misperceived; not the red armchair
    assert _ids(scene, "the dining chair") == ["d"]
    assert _ids(scene, "the red chair") == ["a"]
    assert _ids(scene, "the table lamp") == ["t"] and _ids(scene, "the larger yellow table lamp") == ["t"]
    assert resolve(scene, "the lamp").ambiguous
    # No object carries the alias's word (a COCO detector's plain chairs): the class rule as before.
    coco = _scene(_obj("c1", "chair", "the brown chair"), _obj("c2", "chair", "the black chair"))
    assert resolve(coco, "the dining chair").ambiguous
    assert _ids(coco, "the brown dining chair") == ["c1"]


def test_people_captions_name_the_class_before_in() -> None:
    scene = _scene(_obj("p", "person", "the left person in red"), _obj("q", "person", "the right person in blue"),
                   _obj("c", "chair", "the red chair"))
    assert _ids(scene, "the person in red") == ["p"]
    assert _ids(scene, "the man in blue") == ["q"]
    assert _ids(_scene(_obj("p", "person", "the person in red")), "the person in green") == ["p"]


def test_phrase_naming_two_objects_is_not_relaxed_onto_one() -> None:
    scene = _scene(_obj("b", "bed", "the yellow bed"), _obj("p", "potted_plant", "the green potted plant"),
                   _obj("c", "cabinet", "the red cabinet"), _obj("s", "side_table", "the white side table"))
    assert _ids(scene, "the bed next to the plant") == []  # the last noun is not the object meant
    assert _ids(scene, "the space between the cabinet and the side table") == []
    assert _ids(scene, "the larger white side table") == ["s"]


def test_shared_caption_of_ambiguous_objects_is_ambiguous() -> None:
    scene = _scene(_obj("r1", "chair", "the red chair", ambiguous=True),
                   _obj("r2", "chair", "the red chair", ambiguous=True), _obj("b", "chair", "the blue chair"))
    r = resolve(scene, "the red chair")
    assert r.ambiguous and sorted(o.id for o in r.objects) == ["r1", "r2"]  # not the blue chair
    lone = _scene(_obj("r1", "chair", "the red chair", ambiguous=True), _obj("b", "chair", "the blue chair"))
    assert _ids(lone, "the red chair") == ["r1"]
