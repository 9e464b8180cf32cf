"""Furniture and object library built from MuJoCo primitives at real-world sizes.

Every object lives in its own local frame: origin at the footprint centre on its resting surface, +x along
its length, +y along its depth, +z up, and its *front* facing -y (so yaw 0 faces a camera looking along +y).
A category turns a sampled (length, depth, height) and a colour into a list of ``Part`` geoms; the exact
ground-truth box is the tight box of those parts, never the sampled size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from spatialvlm_core.colors import PAINTS

Vec3 = tuple[float, float, float]
RGBA = tuple[float, float, float, float]
Placement = Literal["floor", "on_table", "wall"]

# The sim's paints by colour name (sRGB 0..1): a view of the one colour table (spatialvlm_core.colors), whose
# names are what captions say.
COLORS: dict[str, tuple[float, float, float]] = PAINTS
WOOD: tuple[float, float, float] = (0.55, 0.38, 0.22)
DARK: tuple[float, float, float] = (0.15, 0.13, 0.12)
LEAF: tuple[float, float, float] = (0.18, 0.45, 0.16)


class Part(BaseModel):
    """One MuJoCo geom in the object's local frame.

    ``half``: box half extents; cylinder/capsule (radius, radius, half length of the cylindrical part).
    ``axis``: the long axis of a cylinder/capsule (boxes ignore it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["box", "cylinder", "capsule"]
    pos: Vec3
    half: Vec3
    rgb: tuple[float, float, float]
    axis: Literal["x", "y", "z"] = "z"

    @model_validator(mode="after")
    def _positive(self) -> Part:
        if min(self.half) <= 0:
            raise ValueError(f"{self.kind} part at {self.pos} needs positive half sizes, got {self.half}")
        return self

    def local_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact axis-aligned bounds (lo, hi) of this geom in the object frame."""
        p = np.asarray(self.pos, dtype=float)
        if self.kind == "box":
            h = np.asarray(self.half, dtype=float)
        else:
            r, along = self.half[0], self.half[2] + (self.half[0] if self.kind == "capsule" else 0.0)
            h = np.array([r, r, r])
            h["xyz".index(self.axis)] = along
        return p - h, p + h


class CategorySpec(BaseModel):
    """A category: where it goes, its size variants (name -> (L, W, H) ranges), colours and geometry."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str
    placement: Placement
    sizes: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]]
    colors: tuple[str, ...]
    build: Callable[[float, float, float, tuple[float, float, float]], list[Part]] = Field(repr=False)
    support: bool = False  # small objects may stand on its top
    against_wall: bool = False  # usually stands with its back to a wall
    mount_z: tuple[float, float] = (0.0, 0.0)  # wall objects: bottom height range above the floor


# --------------------------------------------------------------------------- geometry helpers
def _box(x: float, y: float, z: float, hx: float, hy: float, hz: float, rgb: tuple[float, float, float]) -> Part:
    return Part(kind="box", pos=(x, y, z), half=(hx, hy, hz), rgb=rgb)


def _cyl(x: float, y: float, z: float, r: float, hh: float, rgb: tuple[float, float, float], axis: str = "z") -> Part:
    return Part(kind="cylinder", pos=(x, y, z), half=(r, r, hh), rgb=rgb, axis=axis)  # type: ignore[arg-type]


def _legs(L: float, W: float, h: float, t: float, rgb: tuple[float, float, float]) -> list[Part]:
    """Four square legs of thickness ``t`` and height ``h`` at the corners of an L x W footprint."""
    xs, ys = L / 2 - t / 2, W / 2 - t / 2
    return [_box(sx * xs, sy * ys, h / 2, t / 2, t / 2, h / 2, rgb) for sx in (-1, 1) for sy in (-1, 1)]


# --------------------------------------------------------------------------- builders
def _table(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    top = 0.04
    return [_box(0, 0, H - top / 2, L / 2, W / 2, top / 2, c), *_legs(L - 0.04, W - 0.04, H - top, 0.05, c)]


def _desk(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    top = 0.035
    drawer_w = min(0.4, L * 0.3)
    return [
        _box(0, 0, H - top / 2, L / 2, W / 2, top / 2, c),
        _box(L / 2 - drawer_w / 2, 0, (H - top) / 2, drawer_w / 2, W / 2 - 0.02, (H - top) / 2, c),
        *[_box(-L / 2 + 0.025, sy * (W / 2 - 0.025), (H - top) / 2, 0.025, 0.025, (H - top) / 2, DARK) for sy in (-1, 1)],
    ]


def _chair(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    seat_h, seat_t, back_t = 0.45, 0.05, 0.05
    return [
        *_legs(L, W, seat_h - seat_t, 0.04, WOOD),
        _box(0, 0, seat_h - seat_t / 2, L / 2, W / 2, seat_t / 2, c),
        _box(0, W / 2 - back_t / 2, (seat_h + H) / 2, L / 2, back_t / 2, (H - seat_h) / 2, c),
    ]


def _office_chair(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    seat_h = 0.48
    return [
        _box(0, 0, 0.03, L / 2, 0.03, 0.03, DARK),
        _box(0, 0, 0.03, 0.03, W / 2, 0.03, DARK),
        _cyl(0, 0, (seat_h - 0.06) / 2 + 0.03, 0.03, (seat_h - 0.06) / 2 - 0.0, DARK),
        _box(0, -0.03, seat_h - 0.04, L / 2 - 0.04, W / 2 - 0.07, 0.04, c),
        _box(0, W / 2 - 0.04, (seat_h + H) / 2 + 0.02, L / 2 - 0.06, 0.04, (H - seat_h) / 2 - 0.02, c),
    ]


def _sofa(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    seat_h, arm_w, back_t, arm_h = 0.42, min(0.2, L * 0.15), 0.2, 0.62
    return [
        _box(0, -back_t / 2, seat_h / 2, L / 2 - arm_w, (W - back_t) / 2, seat_h / 2, c),
        _box(0, W / 2 - back_t / 2, H / 2, L / 2, back_t / 2, H / 2, c),
        *[_box(sx * (L / 2 - arm_w / 2), -back_t / 2, arm_h / 2, arm_w / 2, (W - back_t) / 2, arm_h / 2, c) for sx in (-1, 1)],
    ]


def _bed(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    base_h, head_t = 0.3, 0.08
    return [
        _box(0, -head_t / 2, base_h / 2, L / 2, (W - head_t) / 2, base_h / 2, WOOD),
        _box(0, -head_t / 2, base_h + 0.1, L / 2 - 0.02, (W - head_t) / 2 - 0.02, 0.1, c),
        _box(0, W / 2 - head_t / 2, H / 2, L / 2, head_t / 2, H / 2, WOOD),
        _box(0, W / 2 - head_t - 0.25, base_h + 0.25, L / 2 - 0.15, 0.18, 0.05, COLORS["white"]),
    ]


def _cabinet(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    body = _box(0, 0.01, H / 2, L / 2, W / 2 - 0.01, H / 2, c)
    handles = [_box(sx * L * 0.1, -W / 2 + 0.005, H * 0.75, 0.01, 0.005, min(0.08, H * 0.15), COLORS["silver"]) for sx in (-1, 1)]
    return [body, *handles]


def _fridge(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    split = H * 0.62
    return [
        _box(0, 0.015, split / 2, L / 2, W / 2 - 0.015, split / 2, c),
        _box(0, 0.015, (split + H) / 2 + 0.005, L / 2, W / 2 - 0.015, (H - split) / 2 - 0.005, c),
        _box(L / 2 - 0.08, -W / 2 + 0.0075, split * 0.7, 0.012, 0.0075, 0.25, COLORS["silver"]),
        _box(L / 2 - 0.08, -W / 2 + 0.0075, split + 0.15, 0.012, 0.0075, 0.1, COLORS["silver"]),
    ]


def _bookshelf(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    t = 0.025
    n = max(2, round(H / 0.38))
    parts = [
        *[_box(sx * (L / 2 - t / 2), 0, H / 2, t / 2, W / 2, H / 2, c) for sx in (-1, 1)],
        _box(0, W / 2 - t / 4, H / 2, L / 2 - t, t / 4, H / 2, c),
    ]
    for i in range(n + 1):
        z = min(H - t / 2, t / 2 + i * (H - t) / n)
        parts.append(_box(0, 0, z, L / 2 - t, W / 2 - t / 4, t / 2, c))
    book_cols = [COLORS["red"], COLORS["blue"], COLORS["white"], COLORS["green"]]
    for i in range(n):
        z0 = t + i * (H - t) / n
        bh = min(0.24, (H - t) / n - t - 0.02)
        parts.append(_box(-L / 4, W / 8, z0 + bh / 2, L / 5, W / 3, bh / 2, book_cols[i % len(book_cols)]))
    return parts


def _floor_lamp(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = min(L, W) / 2
    shade_h = 0.3
    return [
        _cyl(0, 0, 0.015, r * 0.8, 0.015, DARK),
        _cyl(0, 0, (H - shade_h) / 2, 0.015, (H - shade_h) / 2 - 0.0, DARK),
        _cyl(0, 0, H - shade_h / 2, r, shade_h / 2, c),
    ]


def _table_lamp(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = min(L, W) / 2
    shade_h = H * 0.45
    return [
        _cyl(0, 0, 0.01, r * 0.6, 0.01, DARK),
        _cyl(0, 0, (H - shade_h) / 2, 0.012, (H - shade_h) / 2, DARK),
        _cyl(0, 0, H - shade_h / 2, r, shade_h / 2, c),
    ]


def _tv(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    stand_h, screen_h, screen_t = 0.45, min(H - 0.5, L * 0.6), 0.05
    return [
        _box(0, 0, stand_h / 2, L / 2, W / 2, stand_h / 2, c),
        _box(0, W / 4, stand_h + 0.025, 0.1, 0.06, 0.025, DARK),
        _box(0, W / 4, H - screen_h / 2, L * 0.45, screen_t / 2, screen_h / 2, DARK),
    ]


def _plant(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = min(L, W) / 2
    pot_h = min(0.4, H * 0.35)
    fol_r = min(r, (H - pot_h) / 2 - 0.01)  # short plants get a rounder, smaller crown
    hh = (H - pot_h) / 2 - fol_r
    return [
        _cyl(0, 0, pot_h / 2, r * 0.6, pot_h / 2, c),
        Part(kind="capsule", pos=(0, 0, (pot_h + H) / 2), half=(fol_r, fol_r, hh), rgb=LEAF),
    ]


def _ottoman(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    return [_cyl(0, 0, H / 2, min(L, W) / 2, H / 2, c)]


def _plain_box(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    return [_box(0, 0, H / 2, L / 2, W / 2, H / 2, c)]


def _trash_can(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = min(L, W) / 2
    return [_cyl(0, 0, H / 2, r, H / 2, c), _cyl(0, 0, H - 0.01, r * 0.9, 0.012, DARK)]


def _door(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    return [
        _box(0, 0, H / 2, L / 2, W / 2, H / 2, WOOD),
        _box(0, -0.005, H / 2, L / 2 - 0.06, W / 2, H / 2 - 0.06, c),
        _box(L / 2 - 0.1, -W / 2 - 0.015, H * 0.48, 0.05, 0.01, 0.012, COLORS["silver"]),
    ]


def _painting(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    return [
        _box(0, 0, H / 2, L / 2, W / 2, H / 2, DARK),
        _box(0, -0.002, H / 2, L / 2 - 0.04, W / 2, H / 2 - 0.04, c),
    ]


def _clock(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = min(L, H) / 2
    return [_cyl(0, 0, r, r, W / 2, c, axis="y"), _box(0, -W / 2 - 0.002, r + r * 0.25, 0.006, 0.002, r * 0.25, DARK)]


def _mug(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = W / 2
    return [_cyl(-(L / 2 - r), 0, H / 2, r, H / 2, c), _box(L / 2 - (L - 2 * r) / 2, 0, H / 2, (L - 2 * r) / 2, 0.006, H * 0.3, c)]


def _bottle(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = min(L, W) / 2
    body = H * 0.68
    return [
        _cyl(0, 0, body / 2, r, body / 2, c),
        _cyl(0, 0, body + (H - body) / 2, r * 0.4, (H - body) / 2, c),
        _cyl(0, 0, H - 0.01, r * 0.45, 0.01, COLORS["white"]),
    ]


def _bowl(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = min(L, W) / 2
    return [_cyl(0, 0, H * 0.2, r * 0.55, H * 0.2, c), _cyl(0, 0, H * 0.7, r, H * 0.3, c)]


def _laptop(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    base_t, lid_t = 0.018, 0.008
    return [
        _box(0, 0, base_t / 2, L / 2, W / 2 - lid_t / 2, base_t / 2, c),
        _box(0, W / 2 - lid_t / 2, H / 2, L / 2, lid_t / 2, H / 2, c),
        _box(0, W / 2 - lid_t - 0.0005, H / 2 + 0.005, L / 2 - 0.015, 0.0005, H / 2 - 0.02, DARK),
    ]


def _vase(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    r = min(L, W) / 2
    return [_cyl(0, 0, H * 0.35, r, H * 0.35, c), _cyl(0, 0, H * 0.85, r * 0.5, H * 0.15, c)]


def _plate(L: float, W: float, H: float, c: tuple[float, float, float]) -> list[Part]:
    return [_cyl(0, 0, H / 2, min(L, W) / 2, H / 2, c)]


def _r(lo: float, hi: float) -> tuple[float, float]:
    return (lo, hi)


SOFT = ("red", "blue", "green", "gray", "beige", "brown", "teal", "purple", "orange", "black", "yellow")
HARD = ("brown", "white", "black", "gray", "beige", "red", "blue")
BRIGHT = ("red", "blue", "green", "yellow", "orange", "purple", "pink", "white", "black", "teal")

_SPECS: list[CategorySpec] = [
    CategorySpec(name="sofa", placement="floor", sizes={"two-seat": (_r(1.5, 1.8), _r(0.85, 0.95), _r(0.8, 0.9)), "three-seat": (_r(2.0, 2.4), _r(0.9, 1.0), _r(0.8, 0.95))}, colors=SOFT, build=_sofa, against_wall=True),
    CategorySpec(name="armchair", placement="floor", sizes={"small": (_r(0.75, 0.85), _r(0.75, 0.85), _r(0.8, 0.9)), "large": (_r(0.95, 1.05), _r(0.9, 1.0), _r(0.95, 1.05))}, colors=SOFT, build=_sofa),
    CategorySpec(name="dining chair", placement="floor", sizes={"short": (_r(0.42, 0.46), _r(0.45, 0.5), _r(0.8, 0.85)), "tall": (_r(0.44, 0.48), _r(0.47, 0.52), _r(0.98, 1.08))}, colors=HARD, build=_chair),
    CategorySpec(name="office chair", placement="floor", sizes={"small": (_r(0.58, 0.62), _r(0.58, 0.62), _r(0.9, 0.98)), "large": (_r(0.66, 0.7), _r(0.66, 0.7), _r(1.1, 1.2))}, colors=("black", "gray", "blue", "red", "white"), build=_office_chair),
    CategorySpec(name="dining table", placement="floor", sizes={"small": (_r(0.9, 1.1), _r(0.8, 0.9), _r(0.73, 0.77)), "large": (_r(1.6, 2.0), _r(0.9, 1.0), _r(0.74, 0.78))}, colors=HARD, build=_table, support=True),
    CategorySpec(name="coffee table", placement="floor", sizes={"small": (_r(0.8, 0.95), _r(0.5, 0.6), _r(0.38, 0.45)), "large": (_r(1.15, 1.3), _r(0.6, 0.7), _r(0.4, 0.46))}, colors=HARD, build=_table, support=True),
    CategorySpec(name="side table", placement="floor", sizes={"short": (_r(0.45, 0.5), _r(0.45, 0.5), _r(0.5, 0.55)), "tall": (_r(0.4, 0.45), _r(0.4, 0.45), _r(0.68, 0.75))}, colors=HARD, build=_table, support=True),
    CategorySpec(name="desk", placement="floor", sizes={"small": (_r(1.0, 1.2), _r(0.55, 0.6), _r(0.73, 0.76)), "large": (_r(1.5, 1.7), _r(0.7, 0.8), _r(0.74, 0.77))}, colors=HARD, build=_desk, support=True, against_wall=True),
    CategorySpec(name="bed", placement="floor", sizes={"single": (_r(0.95, 1.05), _r(2.0, 2.1), _r(0.9, 1.0)), "double": (_r(1.45, 1.65), _r(2.0, 2.1), _r(1.0, 1.15))}, colors=SOFT, build=_bed, against_wall=True),
    CategorySpec(name="nightstand", placement="floor", sizes={"small": (_r(0.4, 0.45), _r(0.35, 0.4), _r(0.5, 0.55)), "large": (_r(0.5, 0.6), _r(0.4, 0.45), _r(0.6, 0.68))}, colors=HARD, build=_cabinet, support=True),
    CategorySpec(name="bookshelf", placement="floor", sizes={"short": (_r(0.7, 0.9), _r(0.3, 0.35), _r(0.8, 1.1)), "tall": (_r(0.8, 1.0), _r(0.3, 0.38), _r(1.8, 2.1))}, colors=HARD, build=_bookshelf, against_wall=True),
    CategorySpec(name="floor lamp", placement="floor", sizes={"short": (_r(0.35, 0.4), _r(0.35, 0.4), _r(1.2, 1.35)), "tall": (_r(0.4, 0.45), _r(0.4, 0.45), _r(1.6, 1.8))}, colors=("white", "beige", "black", "red", "yellow", "blue"), build=_floor_lamp),
    CategorySpec(name="tv", placement="floor", sizes={"small": (_r(0.9, 1.1), _r(0.4, 0.45), _r(1.0, 1.1)), "large": (_r(1.4, 1.7), _r(0.42, 0.48), _r(1.25, 1.4))}, colors=HARD, build=_tv, against_wall=True),
    CategorySpec(name="potted plant", placement="floor", sizes={"small": (_r(0.35, 0.45), _r(0.35, 0.45), _r(0.6, 0.8)), "tall": (_r(0.5, 0.6), _r(0.5, 0.6), _r(1.3, 1.6))}, colors=("white", "red", "gray", "blue", "black", "orange"), build=_plant),
    CategorySpec(name="fridge", placement="floor", sizes={"small": (_r(0.55, 0.6), _r(0.6, 0.65), _r(1.4, 1.55)), "tall": (_r(0.65, 0.75), _r(0.65, 0.72), _r(1.8, 1.95))}, colors=("white", "silver", "black", "red"), build=_fridge, against_wall=True),
    CategorySpec(name="cabinet", placement="floor", sizes={"low": (_r(0.8, 1.2), _r(0.45, 0.55), _r(0.8, 0.92)), "tall": (_r(0.6, 0.9), _r(0.4, 0.5), _r(1.6, 1.9))}, colors=HARD, build=_cabinet, support=True, against_wall=True),
    CategorySpec(name="wardrobe", placement="floor", sizes={"narrow": (_r(0.9, 1.1), _r(0.55, 0.6), _r(1.9, 2.1)), "wide": (_r(1.5, 1.9), _r(0.58, 0.62), _r(2.0, 2.2))}, colors=HARD, build=_cabinet, against_wall=True),
    CategorySpec(name="ottoman", placement="floor", sizes={"small": (_r(0.4, 0.45), _r(0.4, 0.45), _r(0.38, 0.42)), "large": (_r(0.6, 0.7), _r(0.6, 0.7), _r(0.4, 0.46))}, colors=SOFT, build=_ottoman),
    CategorySpec(name="trash can", placement="floor", sizes={"small": (_r(0.25, 0.3), _r(0.25, 0.3), _r(0.3, 0.4)), "large": (_r(0.38, 0.42), _r(0.38, 0.42), _r(0.6, 0.7))}, colors=("gray", "black", "white", "blue", "green"), build=_trash_can),
    CategorySpec(name="box", placement="floor", sizes={"small": (_r(0.3, 0.4), _r(0.25, 0.35), _r(0.2, 0.3)), "large": (_r(0.55, 0.7), _r(0.4, 0.5), _r(0.4, 0.55))}, colors=("brown", "white", "beige", "red", "blue"), build=_plain_box),
    CategorySpec(name="door", placement="wall", sizes={"narrow": (_r(0.78, 0.85), _r(0.04, 0.05), _r(2.0, 2.05)), "wide": (_r(0.9, 1.0), _r(0.04, 0.05), _r(2.05, 2.1))}, colors=("white", "brown", "gray", "blue", "red"), build=_door, mount_z=(0.0, 0.0)),
    CategorySpec(name="painting", placement="wall", sizes={"small": (_r(0.4, 0.55), _r(0.03, 0.04), _r(0.35, 0.45)), "large": (_r(0.9, 1.2), _r(0.03, 0.04), _r(0.6, 0.8))}, colors=BRIGHT, build=_painting, mount_z=(1.0, 1.4)),
    CategorySpec(name="clock", placement="wall", sizes={"small": (_r(0.25, 0.3), _r(0.04, 0.05), _r(0.25, 0.3)), "large": (_r(0.4, 0.45), _r(0.05, 0.06), _r(0.4, 0.45))}, colors=("white", "black", "red", "yellow", "blue"), build=_clock, mount_z=(1.6, 1.9)),
    CategorySpec(name="mug", placement="on_table", sizes={"small": (_r(0.1, 0.11), _r(0.075, 0.08), _r(0.085, 0.095)), "large": (_r(0.12, 0.13), _r(0.09, 0.095), _r(0.11, 0.12))}, colors=BRIGHT, build=_mug),
    CategorySpec(name="bottle", placement="on_table", sizes={"short": (_r(0.065, 0.075), _r(0.065, 0.075), _r(0.18, 0.22)), "tall": (_r(0.075, 0.085), _r(0.075, 0.085), _r(0.3, 0.34))}, colors=("green", "blue", "white", "red", "orange", "black"), build=_bottle),
    CategorySpec(name="bowl", placement="on_table", sizes={"small": (_r(0.13, 0.15), _r(0.13, 0.15), _r(0.06, 0.07)), "large": (_r(0.22, 0.26), _r(0.22, 0.26), _r(0.09, 0.11))}, colors=BRIGHT, build=_bowl),
    CategorySpec(name="laptop", placement="on_table", sizes={"small": (_r(0.3, 0.32), _r(0.21, 0.23), _r(0.2, 0.22)), "large": (_r(0.36, 0.38), _r(0.25, 0.26), _r(0.23, 0.25))}, colors=("silver", "black", "gray", "white"), build=_laptop),
    CategorySpec(name="book", placement="on_table", sizes={"thin": (_r(0.15, 0.18), _r(0.22, 0.24), _r(0.015, 0.025)), "thick": (_r(0.17, 0.2), _r(0.24, 0.27), _r(0.045, 0.06))}, colors=BRIGHT, build=_plain_box),
    CategorySpec(name="vase", placement="on_table", sizes={"short": (_r(0.1, 0.12), _r(0.1, 0.12), _r(0.15, 0.2)), "tall": (_r(0.12, 0.15), _r(0.12, 0.15), _r(0.3, 0.4))}, colors=BRIGHT, build=_vase),
    CategorySpec(name="table lamp", placement="on_table", sizes={"short": (_r(0.2, 0.24), _r(0.2, 0.24), _r(0.3, 0.36)), "tall": (_r(0.26, 0.3), _r(0.26, 0.3), _r(0.45, 0.55))}, colors=("white", "beige", "black", "red", "yellow", "blue"), build=_table_lamp),
    CategorySpec(name="plate", placement="on_table", sizes={"small": (_r(0.18, 0.2), _r(0.18, 0.2), _r(0.015, 0.02)), "large": (_r(0.26, 0.28), _r(0.26, 0.28), _r(0.02, 0.025))}, colors=("white", "blue", "red", "green", "yellow"), build=_plate),
]  # fmt: skip

CATEGORIES: dict[str, CategorySpec] = {s.name: s for s in _SPECS}


def get_category(name: str) -> CategorySpec:
    """The spec of a category; unknown names raise ValueError listing the known ones."""
    try:
        return CATEGORIES[name]
    except KeyError:
        raise ValueError(f"unknown object category {name!r}; known: {sorted(CATEGORIES)}") from None


def tight_bounds(parts: list[Part]) -> tuple[np.ndarray, np.ndarray]:
    """Exact local (lo, hi) of a list of parts: the ground-truth box before the object's pose."""
    if not parts:
        raise ValueError("an object needs at least one part")
    los, his = zip(*(p.local_bounds() for p in parts), strict=True)
    return np.min(los, axis=0), np.max(his, axis=0)


def sample_dims(spec: CategorySpec, size: str, rng: np.random.Generator) -> Vec3:
    """A (length, depth, height) draw from a size variant's ranges, rounded to the millimetre."""
    if size not in spec.sizes:
        raise ValueError(f"category {spec.name!r} has no size {size!r}; known: {sorted(spec.sizes)}")
    dims = [round(float(rng.uniform(lo, hi)), 3) for lo, hi in spec.sizes[size]]
    return (dims[0], dims[1], dims[2])


def yaw_from_front(front_xy: tuple[float, float]) -> float:
    """Yaw that turns the local front (-y) to face the world direction ``front_xy``."""
    fx, fy = front_xy
    return math.atan2(fx, -fy)
