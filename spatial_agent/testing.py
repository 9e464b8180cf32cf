"""Hand-made scenes with exact geometry for tests, demos and the eval's fallback (no sim needed)."""

from __future__ import annotations

import math

from spatialvlm_core.questions.testing import make_box_object
from spatialvlm_core.types import Object3D, Scene3D


def box_object(obj_id: str, name: str, xy_min: tuple[float, float], xy_max: tuple[float, float],
               z: tuple[float, float] = (0.0, 1.0), caption: str | None = None, yaw: float = 0.0) -> Object3D:
    """An object whose footprint is the rectangle ``xy_min..xy_max`` rotated by ``yaw`` about its centre."""
    (x0, y0), (x1, y1) = xy_min, xy_max
    if x1 < x0 or y1 < y0 or z[1] < z[0]:
        raise ValueError(f"box_object {obj_id}: max must be >= min")
    center = ((x0 + x1) / 2, (y0 + y1) / 2, (z[0] + z[1]) / 2)
    size = (x1 - x0, y1 - y0, z[1] - z[0])
    return make_box_object(obj_id, name, caption or f"the {name}", center, size, yaw=yaw)


def living_room(gap: float = 1.2, scene_id: str = "living-room") -> Scene3D:
    """Sofa, two chairs, a table, a lamp, a door and a wall shelf; the sofa-to-red-chair gap is ``gap``.

    Exact values: sofa 2.0 x 0.9 x 0.8 m; red chair footprint 0.6 x 0.6 starting ``gap`` right of the sofa;
    blue chair farther away; table 1.5 x 0.8 x 0.75; lamp 1.6 tall; door 0.9 wide, 2.0 tall; shelf at 1.2-1.5 m.
    """
    objs = [
        box_object("sofa", "sofa", (0.0, 0.0), (2.0, 0.9), (0.0, 0.8)),
        box_object("chair1", "chair", (2.0 + gap, 0.0), (2.6 + gap, 0.6), (0.0, 0.9), "the red chair"),
        box_object("chair2", "chair", (2.0 + gap + 0.5, 2.5), (2.6 + gap + 0.5, 3.1), (0.0, 0.9), "the blue chair"),
        box_object("table", "table", (0.0, 3.0), (1.5, 3.8), (0.0, 0.75)),
        box_object("lamp", "lamp", (-1.0, 0.0), (-0.7, 0.3), (0.0, 1.6)),
        box_object("door", "door", (5.5, 1.0), (5.55, 1.9), (0.0, 2.0)),
        box_object("shelf", "shelf", (-1.0, 2.0), (-0.7, 3.0), (1.2, 1.5), "the wall shelf"),
    ]
    return Scene3D(scene_id=scene_id, objects=objs, canonical=True, provenance={"gap": ["sofa", "chair1", gap]})


def rotated_pair(gap: float, yaw: float = math.pi / 6) -> Scene3D:
    """Two 1 x 1 boxes side by side along x, the second rotated by yaw about its centre at gap from the first."""
    a = box_object("a", "crate", (0.0, 0.0), (1.0, 1.0), caption="the wooden crate")
    # The rotated square's nearest point along -x lies at half its rotated x-extent from its centre.
    half = 0.5 * (abs(math.cos(yaw)) + abs(math.sin(yaw)))
    cx = 1.0 + gap + half
    b = box_object("b", "barrel", (cx - 0.5, 0.0), (cx + 0.5, 1.0), yaw=yaw)
    return Scene3D(scene_id="rotated", objects=[a, b], canonical=True)
