"""`make demo` end to end: living room -> RGB-D reconstruction -> agent answer + picture."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from spatial_agent.demo import main


def test_demo_answers_the_fit_question_and_draws_the_gap(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    first = next(line for line in out.splitlines() if line.startswith("A: "))
    # The demo places a 1.3 m gap, so a 1 m robot fits: the reconstruction measures it from depth, and its
    # 80 % interval clears 1 m and holds the truth.
    assert first.startswith("A: Yes"), first
    m = re.search(r"about (\d+\.\d+) m \((\d+\.\d+)-(\d+\.\d+) m\)", first)
    assert m is not None, first
    value, lo, hi = (float(g) for g in m.groups())
    assert abs(value - 1.3) <= 0.05 and 1.0 < lo <= 1.3 <= hi
    assert "Cross-check" in out
    assert Image.open(tmp_path / "demo.png").size[0] > 800
