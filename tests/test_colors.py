"""The one colour table: the captioner, the simulator and the test scenes all read their colour names from it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from spatialvlm_core import colors, naming
from spatialvlm_core.questions.testing import random_scene
from spatialvlm_core.sim import catalog

# A flat patch of silver paint reads "white" to the captioner; under the sim's light it renders light gray, which
# is what SAID_AS records and evals.color_captions measures. No other paint may need an entry here.
FLAT_PATCH_READS: dict[str, str] = {"silver": "white"}


def test_views_are_the_table() -> None:
    assert naming.COLOR_TABLE is colors.CAPTION_PROTOTYPES
    assert catalog.COLORS is colors.PAINTS
    assert list(colors.CAPTION_WORDS) == [c.name for c in colors.TABLE if c.prototype is not None]


def test_every_sim_colour_is_a_paint_and_says_a_caption_word() -> None:
    used = {c for spec in catalog.CATEGORIES.values() for c in spec.colors}
    assert used <= set(colors.PAINTS), sorted(used - set(colors.PAINTS))
    for name in colors.PAINTS:
        assert colors.SAID_AS[name] in colors.CAPTION_WORDS, name
    without_prototype = {c.name for c in colors.TABLE if c.paint is not None and c.prototype is None}
    assert without_prototype == set(FLAT_PATCH_READS), "a new paint without a caption word needs a said_as"


@pytest.mark.parametrize("name", list(colors.PAINTS))
def test_flat_paint_is_captioned_with_its_word(name: str) -> None:
    px = np.full((64, 3), np.asarray(colors.PAINTS[name]) * 255.0)
    word, share = naming.color_of_pixels(px)
    assert word == FLAT_PATCH_READS.get(name, colors.SAID_AS[name])
    assert share == 1.0


def test_prototypes_are_captioned_with_their_own_word() -> None:
    for name, rgb in colors.CAPTION_PROTOTYPES.items():
        assert naming.color_of_pixels(np.array([rgb] * 10))[0] == name


def test_random_scenes_caption_with_table_words() -> None:
    words = {o.caption.split()[1] for s in range(20) for o in random_scene(random.Random(s), n_objects=8).objects}
    assert words <= {*colors.CAPTION_WORDS, "wooden"}
    assert len(words & set(colors.CAPTION_WORDS)) > 8  # the scenes draw across the table, not a fixed few
