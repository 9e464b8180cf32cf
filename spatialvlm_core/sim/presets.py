"""Hand-placed view presets: end-on and partly occluded views that random layouts rarely produce.

    from spatialvlm_core.sim.presets import PRESETS, preset_scene
    sim = preset_scene("bed_from_foot", seed=3)  # SimScene; sim.layout.gap names the measured pair

Each preset draws sizes, colours, the free gap between its two named objects and the camera jitter from the
seed, then renders with the ordinary renderer, so ground truth is exact as in ``generate_scene``:

- ``bed_from_foot``: a bed against the back wall seen from its foot, the camera on the bed's long axis looking
  along it (the view where a box-depth mask keeps only the footboard); pair bed / nightstand beside it.
- ``chair_behind_table``: a dining chair behind a dining table, the table hiding the chair's lower half;
  pair table / chair.
- ``sofa_from_end``: a sofa along the left wall seen from its end, a coffee table in front of it; pair
  sofa / coffee table.
- ``nightstand_beside_bed``: a bed and a nightstand at its head seen from the opposite front corner, the bed
  hiding the nightstand's lower part; pair bed / nightstand.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from spatialvlm_core.sim.catalog import get_category, sample_dims, yaw_from_front
from spatialvlm_core.sim.layout import CameraSpec, Layout, PlacedObject, Room, convex_distance
from spatialvlm_core.sim.scene import SimScene, render_scene

WALL_MARGIN = 0.01


def _object(rng: np.random.Generator, category: str, idx: int, yaw: float) -> PlacedObject:
    spec = get_category(category)
    size = str(rng.choice(sorted(spec.sizes)))
    color = str(rng.choice(spec.colors))
    return PlacedObject(id=f"obj_{idx:02d}", category=category, size=size, color=color,
                        dims=sample_dims(spec, size, rng), pos=(0.0, 0.0, 0.0), yaw=yaw)


def _at(obj: PlacedObject, x: float, y: float) -> PlacedObject:
    return obj.model_copy(update={"pos": (float(x), float(y), 0.0)})


def _extent(obj: PlacedObject) -> tuple[np.ndarray, np.ndarray]:
    """World footprint min and max (x, y) of ``obj`` as placed."""
    fp = obj.footprint()
    return fp.min(axis=0), fp.max(axis=0)


def _shift_to(obj: PlacedObject, axis: int, edge: str, value: float) -> PlacedObject:
    """Move ``obj`` along world ``axis`` so that its footprint's ``edge`` ("min"/"max") sits at ``value``."""
    lo, hi = _extent(obj)
    cur = lo[axis] if edge == "min" else hi[axis]
    pos = list(obj.pos)
    pos[axis] += value - float(cur)
    return obj.model_copy(update={"pos": (pos[0], pos[1], pos[2])})


def _layout(kind: str, room_wh: tuple[float, float], objects: list[PlacedObject], camera: CameraSpec,
            a: PlacedObject, b: PlacedObject, seed: int) -> Layout:
    room = Room(kind=kind, width=room_wh[0], depth=room_wh[1])
    gap = {"a": a.id, "b": b.id, "gap_m": convex_distance(a.footprint(), b.footprint())}
    return Layout(room=room, objects=objects, camera=camera, gap=gap, seed=seed)


def bed_from_foot(seed: int) -> Layout:
    rng = np.random.default_rng(seed)
    w, d = float(rng.uniform(4.2, 5.2)), float(rng.uniform(5.0, 6.0))
    bed = _object(rng, "bed", 1, 0.0)  # yaw 0: headboard (+y) at the back wall, foot towards the camera
    bed = _shift_to(_at(bed, float(rng.uniform(-0.4, 0.4)), 0.0), 1, "max", d - WALL_MARGIN)
    gap = float(rng.uniform(0.05, 0.5))
    side = 1.0 if rng.random() < 0.5 else -1.0
    ns = _object(rng, "nightstand", 2, 0.0)
    ns = _shift_to(_at(ns, 0.0, 0.0), 1, "max", d - WALL_MARGIN)
    blo, bhi = _extent(bed)
    ns = _shift_to(ns, 0, "min", bhi[0] + gap) if side > 0 else _shift_to(ns, 0, "max", blo[0] - gap)
    bx = float(bed.obb().center[0])
    cam = CameraSpec(position=(bx + float(rng.uniform(-0.05, 0.05)), float(blo[1] - rng.uniform(0.9, 1.5)),
                               float(rng.uniform(1.25, 1.6))),
                     heading=math.pi / 2 + float(rng.uniform(-0.03, 0.03)), pitch_deg=float(rng.uniform(22, 32)),
                     roll_deg=float(rng.uniform(-3, 3)), hfov_deg=float(rng.uniform(65, 78)))
    return _layout("bedroom", (w, d), [bed, ns], cam, bed, ns, seed)


def chair_behind_table(seed: int) -> Layout:
    rng = np.random.default_rng(seed)
    w, d = float(rng.uniform(4.2, 5.5)), float(rng.uniform(4.5, 5.8))
    cam_y = float(rng.uniform(0.3, 0.6))
    table = _object(rng, "dining table", 1, 0.0)
    table = _shift_to(_at(table, float(rng.uniform(-0.2, 0.2)), 0.0), 1, "min", cam_y + float(rng.uniform(1.6, 2.2)))
    tlo, thi = _extent(table)
    chair = _object(rng, "dining chair", 2, 0.0)  # faces the camera (and the table)
    cx = float(rng.uniform(tlo[0] + 0.3, thi[0] - 0.3)) if thi[0] - tlo[0] > 0.7 else float((tlo[0] + thi[0]) / 2)
    gap = float(rng.uniform(0.08, 0.35))
    chair = _shift_to(_at(chair, cx, 0.0), 1, "min", thi[1] + gap)
    cam = CameraSpec(position=(float(table.obb().center[0] + rng.uniform(-0.3, 0.3)), cam_y, float(rng.uniform(1.0, 1.2))),
                     heading=math.pi / 2 + float(rng.uniform(-0.1, 0.1)), pitch_deg=float(rng.uniform(8, 16)),
                     roll_deg=float(rng.uniform(-3, 3)), hfov_deg=float(rng.uniform(55, 70)))
    return _layout("kitchen", (w, d), [table, chair], cam, table, chair, seed)


def sofa_from_end(seed: int) -> Layout:
    rng = np.random.default_rng(seed)
    w, d = float(rng.uniform(4.8, 6.0)), float(rng.uniform(5.5, 6.5))
    yaw = yaw_from_front((1.0, 0.0))  # back to the left wall, seat facing +x, length along +y
    sofa = _object(rng, "sofa", 1, yaw)
    sofa = _shift_to(_at(sofa, 0.0, 0.0), 0, "min", -w / 2 + WALL_MARGIN)
    sofa = _shift_to(sofa, 1, "min", float(rng.uniform(2.0, 2.6)))
    slo, shi = _extent(sofa)
    table = _object(rng, "coffee table", 2, yaw)
    gap = float(rng.uniform(0.3, 0.6))
    table = _shift_to(_at(table, 0.0, float(sofa.obb().center[1] + rng.uniform(-0.2, 0.2))), 0, "min", shi[0] + gap)
    sx = float(sofa.obb().center[0])
    cam = CameraSpec(position=(sx + float(rng.uniform(-0.05, 0.05)), float(slo[1] - rng.uniform(1.5, 2.0)),
                               float(rng.uniform(1.2, 1.5))),
                     heading=math.pi / 2 + float(rng.uniform(-0.12, -0.04)), pitch_deg=float(rng.uniform(20, 28)),
                     roll_deg=float(rng.uniform(-3, 3)), hfov_deg=float(rng.uniform(65, 78)))
    return _layout("living_room", (w, d), [sofa, table], cam, sofa, table, seed)


def nightstand_beside_bed(seed: int) -> Layout:
    rng = np.random.default_rng(seed)
    w, d = float(rng.uniform(4.5, 5.5)), float(rng.uniform(5.0, 6.0))
    bed = _object(rng, "bed", 1, 0.0)
    bed = _shift_to(_at(bed, float(rng.uniform(-0.6, 0.0)), 0.0), 1, "max", d - WALL_MARGIN)
    ns = _object(rng, "nightstand", 2, 0.0)
    ns = _shift_to(_at(ns, 0.0, 0.0), 1, "max", d - WALL_MARGIN)
    blo, bhi = _extent(bed)
    gap = float(rng.uniform(0.05, 0.4))
    ns = _shift_to(ns, 0, "min", bhi[0] + gap)
    target = ns.obb().center
    pos = np.array([blo[0] - rng.uniform(0.2, 0.6), blo[1] - rng.uniform(0.8, 1.4), rng.uniform(1.1, 1.4)])
    heading = math.atan2(target[1] - pos[1], target[0] - pos[0]) + float(rng.uniform(0.05, 0.15))
    cam = CameraSpec(position=(float(pos[0]), float(pos[1]), float(pos[2])), heading=heading,
                     pitch_deg=float(rng.uniform(15, 24)), roll_deg=float(rng.uniform(-3, 3)),
                     hfov_deg=float(rng.uniform(65, 78)))
    return _layout("bedroom", (w, d), [bed, ns], cam, bed, ns, seed)


PRESETS: dict[str, Callable[[int], Layout]] = {
    "bed_from_foot": bed_from_foot,
    "chair_behind_table": chair_behind_table,
    "sofa_from_end": sofa_from_end,
    "nightstand_beside_bed": nightstand_beside_bed,
}


def preset_layout(name: str, seed: int) -> Layout:
    if name not in PRESETS:
        raise ValueError(f"unknown view preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name](int(seed))


def preset_scene(name: str, seed: int, width: int = 320, height: int = 240) -> SimScene:
    """Render a preset; ValueError when one of the two named objects is not visible from its camera."""
    layout = preset_layout(name, seed)
    sim = render_scene(layout, width, height)
    seen = {o.id for o in sim.scene.objects}
    assert layout.gap is not None
    if not {layout.gap["a"], layout.gap["b"]} <= seen:
        raise ValueError(f"preset {name} seed {seed}: a named object is hidden in the rendered view")
    return sim
