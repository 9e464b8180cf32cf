"""The pipeline with its real stages (ground-truth perception, lifting, naming, questions) on MuJoCo scenes."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatialvlm_core.dataset.shards import read_rows, row_to_qa
from spatialvlm_core.pipeline import (
    PipelineConfig,
    RunOptions,
    make_splits,
    register,
    render_sim_scenes,
    synth_dataset,
)
from spatialvlm_core.types import Scene3D

sim = pytest.importorskip("spatialvlm_core.sim")

CFG = PipelineConfig(shard_size=2, seed=3, qa_per_image=12)
QUIET = RunOptions(progress=False)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sim") / "scenes"
    render_sim_scenes(root, 4, base_seed=100, width=128, height=96)
    if len(list(root.iterdir())) < 3:
        pytest.fail("the sim rendered fewer than 3 of 4 scenes")
    return root


def _rows_and_scenes(out: Path) -> tuple[list[dict], dict[str, str]]:
    return read_rows(out), {p.name: p.read_text() for p in sorted((out / "scenes").glob("*.json"))}


def test_real_stages_produce_grounded_rows(scenes: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    m = synth_dataset(scenes, out, CFG, options=QUIET)
    n = len(list(scenes.iterdir()))
    assert m.complete and m.counts.images_ok == n and m.counts.images_dropped == 0
    assert m.backends == {"detector": "ground-truth", "segmenter": "box-depth", "depth": "sensor"}
    rows = read_rows(out)
    assert 0 < len(rows) <= 12 * n and len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        qa = row_to_qa(r)
        scene = Scene3D.model_validate_json((out / "scenes" / f"{r['scene_id']}.json").read_text())
        assert set(qa.object_ids) <= {o.id for o in scene.objects}, qa
        if qa.truth is not None:
            assert math.isfinite(qa.truth)
    # copied images are the scene's rgb.png, pixel for pixel
    first = rows[0]
    copied = np.asarray(Image.open(out / first["image"]))
    original = np.asarray(Image.open(scenes / first["image_id"] / "rgb.png"))
    assert np.array_equal(copied, original)


@pytest.mark.ray
def test_ray_and_local_give_the_same_dataset(scenes: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    synth_dataset(scenes, tmp_path / "local", CFG, options=QUIET)
    synth_dataset(scenes, tmp_path / "ray", CFG, options=RunOptions(runner="ray", workers=2, progress=False))
    local, ray = _rows_and_scenes(tmp_path / "local"), _rows_and_scenes(tmp_path / "ray")
    assert local[0] and local == ray


def test_cli_synth_with_llava_export(scenes: Path, tmp_path: Path) -> None:
    p = argparse.ArgumentParser(prog="spatialvlm")
    register(p.add_subparsers(dest="command", required=True))
    out = tmp_path / "cli"
    args = p.parse_args(["synth", "--source", str(scenes), "--out", str(out), "--limit", "2", "--seed", "3",
                         "--qa-per-image", "5", "--export", "llava", "--no-progress"])  # fmt: skip
    assert args.func(args) == 0
    recs = json.loads((out / "llava.json").read_text())
    assert [r["id"] for r in recs] == ["scene_00000", "scene_00001"]
    assert all(len(r["conversations"]) == 2 * len([x for x in read_rows(out) if x["scene_id"] == r["id"]])
               for r in recs)  # fmt: skip


def test_make_splits_renders_disjoint_scenes(tmp_path: Path) -> None:
    ms = make_splits(tmp_path / "splits", train_scenes=2, bench_scenes=1, seed=1, width=64, height=48,
                     config=PipelineConfig(qa_per_image=4), options=QUIET)  # fmt: skip
    assert set(ms) == {"train", "bench"} and all(m.complete for m in ms.values())
    assert ms["train"].seed != ms["bench"].seed
    train_imgs = {p.read_bytes() for p in (tmp_path / "splits" / "raw" / "train").glob("*/rgb.png")}
    bench_imgs = {p.read_bytes() for p in (tmp_path / "splits" / "raw" / "bench").glob("*/rgb.png")}
    assert train_imgs and bench_imgs and not train_imgs & bench_imgs
    assert (tmp_path / "splits" / "train" / "manifest.json").is_file()


@pytest.mark.shared
def test_real_photo_with_yolox_and_sidecar_depth(shared_dir: Path, tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "photos"
    src.mkdir()
    img = src / "living.jpg"
    shutil.copy(shared_dir / "images" / "coco_living_room_000000000139.jpg", img)
    w, h = Image.open(img).size
    # A floor-like depth ramp (far at the top, near at the bottom): a stand-in for a metric depth model.
    ramp = np.linspace(6.0, 1.5, h, dtype=np.float32)[:, None].repeat(w, axis=1)
    np.save(src / "living.depth.npy", ramp)
    cfg = PipelineConfig(detector="yolox-onnx", segmenter="box-depth", depth="sensor", qa_per_image=8,
                         backend_options={"detector": {"model": str(shared_dir / "models/yolox_nano/yolox_nano.onnx")}})
    m = synth_dataset(src, tmp_path / "ds", cfg, options=QUIET)
    assert m.complete and m.counts.images_ok + m.counts.images_dropped == 1
    assert m.backends["detector"] == "yolox-onnx"
    for r in read_rows(tmp_path / "ds"):
        scene = Scene3D.model_validate_json((tmp_path / "ds" / "scenes" / f"{r['scene_id']}.json").read_text())
        assert set(row_to_qa(r).object_ids) <= {o.id for o in scene.objects}
