"""Captions, colour names and disambiguation."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_core.geometry import obb_aabb
from spatialvlm_core.naming import COLOR_TABLE, ClipLike, color_of_mask, color_of_pixels, name_objects
from spatialvlm_core.types import CameraPose, Frame, Object3D, OrientedBox3D, Scene3D


def _obj(oid: str, name: str, xy: tuple[float, float], size=(0.5, 0.5, 0.8), color: str = "",
         box_2d=None) -> Object3D:
    obb = OrientedBox3D(center=(xy[0], xy[1], size[2] / 2), size=size)
    return Object3D(id=oid, name=name, caption="", aabb=obb_aabb(obb), obb=obb, centroid=obb.center,
                    attributes={"color": color} if color else {}, box_2d=box_2d)


def _scene(*objs: Object3D) -> Scene3D:
    cam = np.eye(4)
    cam[2, 3] = 1.5
    return Scene3D(scene_id="s", objects=list(objs), canonical=True, camera=CameraPose.from_matrix(cam))


def test_color_table_names_its_own_colours_and_noisy_shades() -> None:
    rng = np.random.default_rng(0)
    for name, rgb in COLOR_TABLE.items():
        px = np.clip(np.asarray(rgb) + rng.normal(0, 6, size=(200, 3)), 0, 255).astype(np.uint8)
        assert color_of_pixels(px)[0] == name
    # Half red, half blue with no winner above the share threshold -> no colour word.
    mixed = np.array([COLOR_TABLE["red"]] * 50 + [COLOR_TABLE["blue"]] * 50 + [COLOR_TABLE["green"]] * 50)
    assert color_of_pixels(mixed, min_share=0.4)[0] == ""
    img = np.zeros((10, 10, 3), np.uint8)
    img[2:5, 2:5] = COLOR_TABLE["yellow"]
    m = np.zeros((10, 10), bool)
    m[2:5, 2:5] = True
    assert color_of_mask(img, m) == ("yellow", 1.0)
    assert color_of_pixels(np.zeros((0, 3)))[0] == ""


def test_unique_objects_get_colour_captions() -> None:
    s = name_objects(_scene(_obj("a", "armchair", (0, 2), color="red"), _obj("b", "lamp", (1, 3))))
    assert [o.caption for o in s.objects] == ["the red armchair", "the lamp"]
    assert not any(o.ambiguous for o in s.objects)


def test_same_caption_pairs_are_split_by_position_then_size() -> None:
    s = name_objects(_scene(_obj("l", "chair", (-1, 2), color="red"), _obj("r", "chair", (1, 2), color="red")))
    assert s.get("l").caption == "the left red chair" and s.get("r").caption == "the right red chair"
    # Same place left/right and distance, different size.
    big = _obj("big", "box", (0, 2), size=(1.0, 1.0, 1.0))
    small = _obj("small", "box", (0.05, 2.1), size=(0.3, 0.3, 0.3))
    s = name_objects(_scene(big, small))
    assert s.get("big").caption == "the larger box" and s.get("small").caption == "the smaller box"
    # Different colours separate without geometry.
    s = name_objects(_scene(_obj("x", "cup", (0, 2), color="red"), _obj("y", "cup", (0.1, 2), color="blue")))
    assert {o.caption for o in s.objects} == {"the red cup", "the blue cup"}


def test_three_in_a_row_and_unresolvable_objects() -> None:
    row = [_obj(f"c{i}", "chair", (x, 2.0)) for i, x in enumerate([-1.5, 0.0, 1.5])]
    s = name_objects(_scene(*row))
    assert [o.caption for o in s.objects] == ["the leftmost chair", "the middle chair", "the rightmost chair"]
    # Two identical chairs in the same spot: nothing separates them.
    twins = [_obj("t1", "chair", (0.0, 2.0)), _obj("t2", "chair", (0.05, 2.02)), _obj("lamp", "lamp", (2, 2))]
    s = name_objects(_scene(*twins))
    assert s.get("t1").ambiguous and s.get("t2").ambiguous and not s.get("lamp").ambiguous
    assert [o.id for o in s.askable] == ["lamp"]
    assert any("t1" in n and "ambiguous" in n for n in s.notes)
    # Four in a row: only the extremes are referable.
    four = [_obj(f"f{i}", "stool", (x, 2.0)) for i, x in enumerate([-2, -1, 1, 2])]
    s = name_objects(_scene(*four))
    assert s.get("f0").caption == "the leftmost stool" and s.get("f3").caption == "the rightmost stool"
    assert s.get("f1").ambiguous and s.get("f2").ambiguous


class ColourClip:
    """CLIP stand-in: images embed as their dominant named colour, texts as the colour word they contain."""

    def __init__(self) -> None:
        self.names = list(COLOR_TABLE)

    def _onehot(self, name: str) -> np.ndarray:
        v = np.full(len(self.names), 0.01)
        if name in self.names:
            v[self.names.index(name)] = 1.0
        return v / np.linalg.norm(v)

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        return np.stack([self._onehot(color_of_pixels(im.reshape(-1, 3))[0]) for im in images])

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._onehot(next((w for w in t.split() if w in self.names), "")) for t in texts])


def _frame_with(boxes: list[tuple[tuple[int, int, int, int], str]]) -> Frame:
    rgb = np.full((60, 100, 3), 128, np.uint8)
    for (x0, y0, x1, y1), c in boxes:
        rgb[y0:y1, x0:x1] = COLOR_TABLE[c]
    return Frame(image_id="f", rgb=rgb)


def test_clip_confirms_or_rejects_appearance_captions() -> None:
    clip = ColourClip()
    assert isinstance(clip, ClipLike)
    frame = _frame_with([((10, 10, 30, 40), "red"), ((60, 10, 80, 40), "blue")])
    a = _obj("a", "chair", (-1, 2), color="red", box_2d=(10, 10, 30, 40))
    b = _obj("b", "chair", (1, 2), color="blue", box_2d=(60, 10, 80, 40))
    s = name_objects(_scene(a, b), frame=frame, clip=clip)
    assert {o.caption for o in s.objects} == {"the red chair", "the blue chair"}
    # The pixel colour said orange but the crop is red like its sibling: CLIP distrusts the colour words,
    # and the chairs are named by position instead.
    frame2 = _frame_with([((10, 10, 30, 40), "red"), ((60, 10, 80, 40), "red")])
    b2 = _obj("b", "chair", (1, 2), color="orange", box_2d=(60, 10, 80, 40))
    s = name_objects(_scene(a, b2), frame=frame2, clip=clip)
    assert s.get("a").caption == "the left chair" and s.get("b").caption == "the right chair"
    assert any("CLIP" in n for n in s.notes)


def test_captioner_backend_and_errors() -> None:
    frame = _frame_with([((10, 10, 30, 40), "red")])
    a = _obj("a", "chair", (0, 2), color="red", box_2d=(10, 10, 30, 40))
    s = name_objects(_scene(a), frame=frame, captioner=lambda crop, o: f"a wooden {o.name}")
    assert s.get("a").caption == "the wooden chair"
    with pytest.raises(ValueError, match="need the frame"):
        name_objects(_scene(a), clip=ColourClip())
