"""`spatial-agent ask PHOTO ... --plot out.png`: the picture of what the geometric tool measured on a real photo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from spatial_agent.cli import main

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "images" / "coco_living_room_000000000139.jpg"


@pytest.mark.skipif(not PHOTO.is_file(), reason="../shared/images (the COCO photo) is absent")
def test_ask_on_a_photo_answers_with_an_interval_and_draws_the_reconstruction(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ask.png"
    assert main(["ask", str(PHOTO), "How far is the tv from the dining table?", "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    assert "between the tv and the dining table is about" in text and " m (" in text  # value and interval
    assert Image.open(out).size[0] > 800
