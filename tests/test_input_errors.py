"""Bad input gets one clear error naming the file or field (part of #21): corrupt images, over-long questions,
depth in millimetres."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spatial_agent.agent import SpatialAgent
from spatial_agent.cli import main as agent_main
from spatial_agent.tools import GeometricTool
from spatialvlm_core.cli import main as core_main
from spatialvlm_core.lifting import lift
from spatialvlm_core.types import MAX_QUESTION_CHARS, Detections, Frame, Scene3D


def test_a_corrupt_image_is_named_with_a_nonzero_exit(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\xff\xd8 this is not really a jpeg")
    assert agent_main(["ask", str(bad), "How far is the sofa from the table?"]) == 2
    err = capsys.readouterr().err
    assert "photo.jpg" in err and "not a readable image" in err and len(err.strip().splitlines()) == 1
    assert core_main(["reconstruct", str(bad), "--out", str(tmp_path / "s.json")]) == 2
    err = capsys.readouterr().err
    assert "photo.jpg" in err and "not a readable image" in err and "Traceback" not in err


def test_an_overlong_question_is_refused() -> None:
    agent = SpatialAgent(tool=GeometricTool(scene=Scene3D(scene_id="s", canonical=True)))
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=f"at most {MAX_QUESTION_CHARS}"):
        agent.ask(img, "how far " * 1000)


def test_depth_in_millimetres_gets_a_hint() -> None:
    depth = np.full((20, 30), 2500.0, dtype=np.float32)  # 2.5 m written in millimetres
    frame = Frame(image_id="mm", rgb=np.zeros((20, 30, 3), dtype=np.uint8), depth=depth)
    with pytest.raises(ValueError, match="look like millimetres"):
        lift(frame, Detections(image_id="mm", width=30, height=20))
