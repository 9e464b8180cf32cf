"""`spatial-agent ask` on the real COCO living-room photo: YOLOX detections + given depth -> measured answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spatial_agent.cli import main


def test_ask_real_photo_with_depth(shared_dir: Path, tmp_path: Path, capsys) -> None:
    image = shared_dir / "images" / "coco_living_room_000000000139.jpg"
    # A fronto-parallel wall 3 m away: every detected object lifts to z = 3 m, so distances are lateral only.
    depth = tmp_path / "d.npy"
    np.save(depth, np.full((426, 640), 3.0, np.float32))
    code = main(["ask", str(image), "How far is the tv from the dining table?", "--depth", str(depth), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    (sub,) = out["sub_answers"].values()
    assert sub["meters"] is not None and 0.3 < sub["meters"] < 3.0  # tv and table are ~1-2 m apart at 3 m depth
    code = main(["ask", str(image), "Is the piano taller than 1 m?", "--depth", str(depth)])
    assert code == 0 and "cannot find" in capsys.readouterr().out


def test_ask_missing_image_is_a_clear_error(capsys) -> None:
    assert main(["ask", "no/such/image.jpg", "How far is the tv from the sofa?"]) == 2
    assert "image not found: no/such/image.jpg" in capsys.readouterr().err
