"""Procedural indoor scenes rendered offscreen with MuJoCo, with exact ground truth (see DESIGN.md).

    from spatialvlm_core.sim import SimConfig, generate_scene, save_scene, load_scene
    sim = generate_scene(seed=0, config=SimConfig(room="living_room", gap=("sofa", "armchair", 1.2)))
    sim.frame()  # Frame with rgb, metric depth, intrinsics and GroundTruth(instances, scene)
"""

from spatialvlm_core.sim.catalog import CATEGORIES, COLORS, CategorySpec, Part, get_category
from spatialvlm_core.sim.config import ROOMS, SimConfig
from spatialvlm_core.sim.io import load_scene, save_scene
from spatialvlm_core.sim.layout import CameraSpec, Layout, PlacedObject, Room
from spatialvlm_core.sim.mjcf import build_mjcf
from spatialvlm_core.sim.render import Renderer, RenderOutput, depth_from_buffer, get_renderer
from spatialvlm_core.sim.sampling import sample_layout
from spatialvlm_core.sim.scene import SimScene, generate_scene, instance_lut, render_scene

__all__ = [
    "CATEGORIES",
    "COLORS",
    "ROOMS",
    "CameraSpec",
    "CategorySpec",
    "Layout",
    "Part",
    "PlacedObject",
    "RenderOutput",
    "Renderer",
    "Room",
    "SimConfig",
    "SimScene",
    "build_mjcf",
    "depth_from_buffer",
    "generate_scene",
    "get_category",
    "get_renderer",
    "instance_lut",
    "load_scene",
    "render_scene",
    "sample_layout",
    "save_scene",
]
