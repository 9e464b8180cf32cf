"""Input discovery and reading: stable ids/order, sidecars, and clear reasons for bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatialvlm_core.dataset.sources import SourceError, discover, read_frame, safe_id


def _png(path: Path, w: int = 8, h: int = 6, value: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    _png(root / "b.png")
    _png(root / "a" / "z.jpg")
    _png(root / "a" / "c.webp")
    np.save(root / "b.depth.npy", np.full((6, 8), 2.5, np.float32))
    (root / "b.intrinsics.json").write_text(json.dumps({"fx": 5, "fy": 5, "cx": 4, "cy": 3, "width": 8, "height": 6}))
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_text("ignored")
    return root


def test_discover_is_sorted_with_relative_ids_and_sidecars(tree: Path) -> None:
    d = discover(tree)
    assert [r.image_id for r in d.records] == ["a/c.webp", "a/z.jpg", "b.png"]
    b = d.records[2]
    assert b.depth_path == str(tree / "b.depth.npy") and b.intrinsics_path == str(tree / "b.intrinsics.json")
    assert d.records[0].depth_path is None
    assert [(x.image_id, x.reason) for x in d.dropped] == [("notes.txt", "not an image file (.txt)")]


def test_discover_glob_and_list_dedupes(tree: Path) -> None:
    d = discover(str(tree / "**" / "*.png"))
    assert [r.image_id for r in d.records] == ["b.png"]
    d2 = discover([tree, str(tree / "*.png")])
    assert [r.image_id for r in d2.records] == ["a/c.webp", "a/z.jpg", "b.png"]
    with pytest.raises(FileNotFoundError, match="matched no files"):
        discover(str(tree / "*.tiff"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover(tree / "missing")


def test_read_frame_with_depth_and_intrinsics(tree: Path) -> None:
    rec = next(r for r in discover(tree).records if r.image_id == "b.png")
    f = read_frame(rec, require_depth=True)
    assert f.image_id == "b.png" and f.rgb.shape == (6, 8, 3)
    assert f.depth is not None and float(f.depth[0, 0]) == 2.5
    assert f.intrinsics is not None and f.intrinsics.fx == 5


def test_bad_inputs_raise_source_errors_naming_the_file(tree: Path) -> None:
    recs = {r.image_id: r for r in discover(tree).records}
    with pytest.raises(SourceError, match=r"missing depth file z\.depth\.npy"):
        read_frame(recs["a/z.jpg"], require_depth=True)
    (tree / "a" / "z.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.raises(SourceError, match=r"cannot decode image z\.jpg"):
        read_frame(recs["a/z.jpg"])
    (tree / "b.intrinsics.json").write_text(json.dumps({"fx": 5, "fy": 5, "cx": 4, "cy": 3, "width": 16, "height": 6}))
    with pytest.raises(SourceError, match=r"b\.intrinsics\.json is for 16x6 but the image is 8x6"):
        read_frame(recs["b.png"])
    np.save(tree / "b.depth.npy", np.ones((3, 3), np.float32))
    with pytest.raises(SourceError, match=r"b\.depth\.npy has shape"):
        read_frame(recs["b.png"])


def test_safe_id_is_filename_safe_and_distinct() -> None:
    assert safe_id("scene_00001") == "scene_00001"
    assert safe_id("a/b.png") == "a__b.png"
    x, y = safe_id("a b.png"), safe_id("a:b.png")
    assert x != y and "/" not in x and " " not in x


def test_duplicate_ids_are_reported_and_excluded_paths_skipped(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _png(other / "b.png", value=7)
    d = discover([tree, other], exclude=[tree / "a"])
    assert [r.image_id for r in d.records] == ["b.png"] and d.records[0].path == str(tree / "b.png")
    dup = [x for x in d.dropped if x.image_id == "b.png"]
    assert len(dup) == 1 and dup[0].file == str(other / "b.png") and "duplicate image id" in dup[0].reason
