"""MJCF text for a ``Layout``: room (floor, walls, ceiling), lights and one body per object.

Built as a string (no XML library round trips) because compiling is on the per-scene hot path. Object
bodies are named by object id and their geoms ``<id>/<k>``, so a segmentation render maps geom -> body ->
object. Other modules may pass ``extra_xml`` (bodies appended to the worldbody, e.g. a gripper) and
``extra_assets``; everything they add renders as background (instance 0) unless named like an object.
"""

from __future__ import annotations

import math

from spatialvlm_core.sim.catalog import Part
from spatialvlm_core.sim.layout import Layout, PlacedObject

# Depth range of the camera (metres). The model's statistic extent is pinned to 1 so that MuJoCo's
# relative znear/zfar are metres too.
ZNEAR = 0.02
ZFAR = 40.0
WALL_T = 0.1


def _f(v: float) -> str:
    return f"{v:.6g}"


def _vec(v: tuple[float, ...] | list[float]) -> str:
    return " ".join(_f(x) for x in v)


def _geom_xml(name: str, part: Part) -> str:
    rgba = _vec((*part.rgb, 1.0))
    if part.kind == "box":
        size = _vec(part.half)
    else:
        size = f"{_f(part.half[0])} {_f(part.half[2])}"
    axis = {"x": ' zaxis="1 0 0"', "y": ' zaxis="0 1 0"', "z": ""}[part.axis] if part.kind != "box" else ""
    return f'<geom name="{name}" type="{part.kind}" pos="{_vec(part.pos)}" size="{size}"{axis} rgba="{rgba}"/>'


def object_body_xml(obj: PlacedObject) -> str:
    geoms = "".join(_geom_xml(f"{obj.id}/{k}", p) for k, p in enumerate(obj.parts()))
    half = obj.yaw / 2
    quat = _vec((math.cos(half), 0.0, 0.0, math.sin(half)))
    return f'<body name="{obj.id}" pos="{_vec(obj.pos)}" quat="{quat}">{geoms}</body>'


def room_xml(layout: Layout) -> str:
    r = layout.room
    w, d, h, t = r.width, r.depth, r.height, WALL_T
    wall = _vec((*r.wall_rgb, 1.0))
    walls = [
        ("wall_back", (0.0, d + t / 2, h / 2), (w / 2 + t, t / 2, h / 2)),
        ("wall_front", (0.0, -t / 2, h / 2), (w / 2 + t, t / 2, h / 2)),
        ("wall_left", (-w / 2 - t / 2, d / 2, h / 2), (t / 2, d / 2 + t, h / 2)),
        ("wall_right", (w / 2 + t / 2, d / 2, h / 2), (t / 2, d / 2 + t, h / 2)),
    ]
    out = [f'<geom name="floor" type="plane" pos="0 {_f(d / 2)} 0" size="{_f(w / 2 + t)} {_f(d / 2 + t)} 0.1" material="floor"/>']
    out += [f'<geom name="{n}" type="box" pos="{_vec(p)}" size="{_vec(s)}" rgba="{wall}"/>' for n, p, s in walls]
    out.append(f'<geom name="ceiling" type="box" pos="0 {_f(d / 2)} {_f(h + t / 2)}" size="{_f(w / 2 + t)} {_f(d / 2 + t)} {_f(t / 2)}" rgba="0.93 0.93 0.92 1"/>')
    out.append(f'<geom name="skirting" type="box" pos="0 {_f(d - 0.005)} 0.04" size="{_f(w / 2)} 0.005 0.04" rgba="0.95 0.95 0.95 1"/>')
    return "".join(out)


def build_mjcf(layout: Layout, extra_xml: str = "", *, width: int = 640, height: int = 480, extra_assets: str = "") -> str:
    """The MJCF document for ``layout`` (+ extra worldbody XML); offscreen buffer sized for ``width`` x ``height``."""
    r = layout.room
    floor1, floor2 = _vec(r.floor_rgb), _vec(r.floor_rgb2)
    light_pos = _vec((0.0, r.depth / 2, r.height - 0.05))
    bodies = "".join(object_body_xml(o) for o in layout.objects)
    return (
        '<mujoco model="spatialvlm_sim">'
        '<compiler angle="radian"/>'
        '<statistic extent="1" center="0 0 1"/>'
        f'<visual><global offwidth="{width}" offheight="{height}"/>'
        f'<map znear="{_f(ZNEAR)}" zfar="{_f(ZFAR)}"/>'
        '<quality shadowsize="1024" offsamples="0"/>'
        '<headlight ambient="0.35 0.35 0.35" diffuse="0.35 0.35 0.35" specular="0 0 0"/></visual>'
        '<asset>'
        f'<texture name="floor_tex" type="2d" builtin="checker" width="64" height="64" rgb1="{floor1}" rgb2="{floor2}"/>'
        '<material name="floor" texture="floor_tex" texrepeat="2 2" texuniform="true" reflectance="0"/>'
        f'{extra_assets}</asset>'
        '<worldbody>'
        f'<light name="ceiling_light" pos="{light_pos}" dir="0 0.2 -1" directional="false" diffuse="0.55 0.55 0.52" '
        'specular="0.1 0.1 0.1" castshadow="true" attenuation="1 0 0" cutoff="120"/>'
        f'{room_xml(layout)}{bodies}{extra_xml}'
        '</worldbody></mujoco>'
    )
