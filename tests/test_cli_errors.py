"""One error style for both CLIs (#21): every failure is one line on stderr naming the file or field, with a
non-zero exit; ``--debug`` (anywhere on the line) lets the traceback through."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import spatialvlm_core.reconstruct as reconstruct_mod
from spatial_agent.cli import main as agent_main
from spatialvlm_core.cli import main as core_main
from spatialvlm_core.types import MAX_QUESTION_CHARS

LONG_QUESTION = "How far is the sofa from the table? " * 300  # 10,800 characters


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture()
def image(tmp_path: Path) -> Path:
    p = tmp_path / "room.png"
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(p)
    return p


def test_a_bug_is_one_line_with_exit_1_and_debug_shows_the_traceback(monkeypatch, image: Path, tmp_path: Path,
                                                                       capsys) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(reconstruct_mod, "_run", broken)
    argv = ["reconstruct", str(image), "--out", str(tmp_path / "s.json")]
    assert core_main(argv) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("spatialvlm reconstruct: internal error (RuntimeError): something inside broke")
    assert "--debug" in line
    with pytest.raises(RuntimeError, match="inside broke"):
        core_main([*argv, "--debug"])  # after the subcommand's own flags
    with pytest.raises(RuntimeError, match="inside broke"):
        core_main(["--debug", *argv])


def test_questions_over_the_limit_are_refused_by_both_clis(image: Path, capsys) -> None:
    assert agent_main(["ask", str(image), LONG_QUESTION]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"at most {MAX_QUESTION_CHARS}" in line and line.startswith("spatial-agent: error:")
    assert core_main(["ask", "--image", str(image), "--question", LONG_QUESTION]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"at most {MAX_QUESTION_CHARS}" in line and line.startswith("spatialvlm ask: error:")


def test_depth_in_millimetres_names_the_flag_that_fixes_it(image: Path, tmp_path: Path, capsys) -> None:
    depth = tmp_path / "d.npy"
    np.save(depth, np.full((48, 64), 2500.0, np.float32))  # 2.5 m written in millimetres
    assert core_main(["reconstruct", str(image), "--depth", str(depth), "--out", str(tmp_path / "s.json")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "millimetres" in line and "--depth-scale 0.001" in line


def test_missing_and_malformed_files_are_named(image: Path, tmp_path: Path, capsys) -> None:
    assert core_main(["reconstruct", str(tmp_path / "nope.png"), "--out", str(tmp_path / "s.json")]) == 2
    assert "nope.png" in _one_line(capsys.readouterr().err)
    bad = tmp_path / "K.json"
    bad.write_text("{not json")
    assert core_main(["reconstruct", str(image), "--intrinsics", str(bad), "--out", str(tmp_path / "s.json")]) == 2
    assert "K.json" in _one_line(capsys.readouterr().err)
    assert agent_main(["ask", str(image), "How far is the sofa?", "--scene", str(tmp_path / "none.json")]) == 2
    assert "none.json" in _one_line(capsys.readouterr().err)


def test_intrinsics_accepts_the_sims_camera_json(image: Path, tmp_path: Path, capsys) -> None:
    """``spatialvlm sim`` writes camera.json with the intrinsics nested under "intrinsics"."""
    cam = tmp_path / "camera.json"
    cam.write_text(json.dumps({"intrinsics": {"fx": 60.0, "fy": 60.0, "cx": 31.5, "cy": 23.5, "width": 64,
                                              "height": 48}, "world_from_camera": np.eye(4).tolist()}))
    depth = tmp_path / "d.npy"
    np.save(depth, np.full((48, 64), 2.5, np.float32))
    out = tmp_path / "s.json"
    assert core_main(["reconstruct", str(image), "--depth", str(depth), "--intrinsics", str(cam),
                      "--out", str(out)]) == 0, capsys.readouterr().err
    k = reconstruct_mod.load_intrinsics(cam, 64, 48)
    assert (k.fx, k.cx, k.cy) == (60.0, 31.5, 23.5)


def test_synth_that_writes_no_qa_exits_2_and_says_why(image: Path, tmp_path: Path, capsys) -> None:
    """Photos without a depth map under the default sensor depth: every image is dropped."""
    out = tmp_path / "qa"
    assert core_main(["synth", "--source", str(image), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    line = _one_line(err)
    assert line.startswith("spatialvlm synth: error:") and "no QA pairs written" in line
    assert "missing depth file" in line and "--depth size-prior" in line


def test_make_splits_with_an_empty_split_exits_2_and_names_it(monkeypatch, tmp_path: Path, capsys) -> None:
    from types import SimpleNamespace

    import spatialvlm_core.pipeline.cli as pipeline_cli

    def fake_splits(out, *a, **kw):  # type: ignore[no-untyped-def]
        def manifest(qa: int, dropped: int) -> SimpleNamespace:
            return SimpleNamespace(counts=SimpleNamespace(images_ok=3 - dropped, qa_pairs=qa, images_dropped=dropped))

        return {"train": manifest(40, 0), "bench": manifest(0, 3)}

    monkeypatch.setattr(pipeline_cli, "make_splits", fake_splits)
    rc = core_main(["make-splits", "--out", str(tmp_path / "splits"), "--train-scenes", "3", "--bench-scenes", "3"])
    line = _one_line(capsys.readouterr().err)
    assert rc == 2 and "bench" in line and "no QA pairs" in line
