"""The agent's default tool picks by input: Scene3D and RGB-D -> geometric; a sim-like image -> the learned model;
any other photo -> geometric over a monocular-depth reconstruction; the trace says which and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from spatial_agent.agent import SpatialAgent, default_tool
from spatial_agent.routing import RoutingTool
from spatial_agent.testing import living_room
from spatial_agent.tools import GeometricTool, VLMTool
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.types import Frame, Scene3D
from tests.conftest import SHARED, TEST_IMAGE


@pytest.fixture(scope="module")
def vlm() -> SpatialVLM:
    return SpatialVLM.load("default")


@pytest.fixture(scope="module")
def sim_frame() -> Frame:
    from spatialvlm_core.domain import EVAL_FIRST
    from spatialvlm_core.sim import SimConfig, generate_scene

    return generate_scene(EVAL_FIRST + 3, SimConfig(width=128, height=96, room="living_room")).frame()


class RecordingReconstruct:
    """Stands in for ``reconstruct``: records the depth backend asked for and returns a fixed living room."""

    def __init__(self) -> None:
        self.depths: list[Any] = []

    def __call__(self, frame: Any, depth: Any) -> Scene3D:
        self.depths.append(depth)
        return living_room(gap=0.9)


def test_scene3d_goes_to_the_geometric_tool(vlm: SpatialVLM) -> None:
    r = SpatialAgent(tool=RoutingTool(vlm=vlm)).ask(living_room(gap=0.9), "How wide is the gap between the sofa "
                                                                          "and the red chair?")
    assert r.steps[0].node == "route" and r.steps[0].detail.startswith("tool=geometric") and "Scene3D" in \
        r.steps[0].detail
    assert r.value == pytest.approx(0.9)


def test_a_frame_with_depth_goes_to_the_rgbd_reconstruction(vlm: SpatialVLM, sim_frame: Frame,
                                                            tmp_path: Path) -> None:
    rec = RecordingReconstruct()
    router = RoutingTool(vlm=vlm, reconstruct=rec)
    route = router.route(sim_frame)
    assert isinstance(route.tool, GeometricTool) and "depth map" in route.reason and "'sensor'" in route.reason
    # An image file with its depth map (and camera) beside it, as a dataset frame folder has them.
    Image.fromarray(sim_frame.rgb).save(tmp_path / "rgb.png")
    np.save(tmp_path / "depth.npy", sim_frame.depth)
    r = SpatialAgent(tool=router).ask(tmp_path / "rgb.png", "How far is the sofa from the red chair?")
    assert "'sensor'" in r.steps[0].detail and rec.depths == ["sensor"]


def test_the_real_rgbd_pipeline_answers_a_sim_frame_with_depth(sim_frame: Frame) -> None:
    scene = RoutingTool(vlm=lambda: None)._recon("sensor")(sim_frame)  # the real reconstruct, ground-truth boxes
    assert scene.objects and scene.provenance.get("depth") == "sensor"


def test_a_sim_like_image_goes_to_the_learned_model(vlm: SpatialVLM, sim_frame: Frame) -> None:
    rec = RecordingReconstruct()
    route = RoutingTool(vlm=vlm, reconstruct=rec).route(sim_frame.rgb)  # the render alone, no depth
    assert isinstance(route.tool, VLMTool) and "domain score" in route.reason and rec.depths == []


@pytest.mark.skipif(not TEST_IMAGE.exists(), reason=f"test photo not found under {SHARED}")
def test_a_real_photo_goes_to_the_size_prior_reconstruction(vlm: SpatialVLM) -> None:
    rec = RecordingReconstruct()
    agent = SpatialAgent(tool=RoutingTool(vlm=vlm, reconstruct=rec))
    r = agent.ask(TEST_IMAGE, "How far is the sofa from the red chair?")
    assert r.steps[0].node == "route" and "tool=geometric" in r.steps[0].detail
    assert "unlike the simulator renders" in r.steps[0].detail and "'size-prior'" in r.steps[0].detail
    assert rec.depths == ["size-prior"] and r.value is not None  # measured on the (stand-in) reconstruction
    measure = [s for s in r.steps if s.node == "measure"]
    assert measure and all(s.detail == "tool=geometric" for s in measure)


def test_default_tool_is_the_router_with_the_configured_depth() -> None:
    tool = default_tool(depth_model="dpt")
    assert isinstance(tool, RoutingTool) and tool.depth_model == "dpt"
    assert isinstance(SpatialAgent().tool, RoutingTool)
