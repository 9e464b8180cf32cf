"""Dataset pipeline: layout, determinism across runners/workers, crash + resume, bad output, exports.

Stages here are small fakes (the pipeline takes them by injection); they are deterministic functions of the
image content and the per-image seed, so any order/worker dependence would show up as a diff.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from spatialvlm_core.dataset.exports import export_llava, to_llava_records
from spatialvlm_core.dataset.shards import read_rows, row_to_qa
from spatialvlm_core.pipeline import (
    PipelineConfig,
    RunOptions,
    Stages,
    _config_from_args,
    image_seed,
    parse_backend_options,
    synth_dataset,
)
from spatialvlm_core.types import Box3D, Frame, Object3D, OrientedBox3D, QAPair, Scene3D

N_IMAGES = 7


# --------------------------------------------------------------------------- fakes
def _fake_reconstruct(frame: Frame) -> Scene3D:
    if int(frame.rgb[0, 0, 1]) == 13:  # a marker pixel: "perception found nothing usable"
        raise ValueError("no objects detected")
    m = float(frame.rgb.mean()) / 255.0
    objs = []
    for k, name in enumerate(("chair", "table")):
        c = (m + k, 0.5 * k, 0.4)
        objs.append(Object3D(id=f"o{k}", name=name, caption=f"the {name}", aabb=Box3D(center=c, size=(0.5, 0.5, 0.8)),
                             obb=OrientedBox3D(center=c, size=(0.5, 0.5, 0.8)), centroid=c))  # fmt: skip
    return Scene3D(scene_id=frame.image_id, objects=objs, canonical=True)


def _fake_ask(scene: Scene3D, seed: int) -> list[QAPair]:
    rng = random.Random(seed)
    a, b = scene.objects
    d = float(np.linalg.norm(np.subtract(a.centroid, b.centroid)))
    out = []
    for k in range(rng.randint(2, 4)):
        v = round(d * rng.uniform(0.9, 1.1), 2)
        out.append(QAPair(id=f"{scene.scene_id}-{k}", image_id="?", qtype="distance", category="quantitative",
                          kind="quantitative", question=f"How far is {a.caption} from {b.caption}? ({k})",
                          answer=f"{v} m", value=v, unit="m", truth=d, object_ids=[a.id, b.id],
                          provenance={"seed": seed, "k": k}))  # fmt: skip
    out.append(QAPair(id=f"{scene.scene_id}-p", image_id="?", qtype="left_predicate", category="qualitative",
                      kind="predicate", question=f"Is {a.caption} left of {b.caption}?", answer="Yes.",
                      truth_bool=True, object_ids=[a.id, b.id]))  # fmt: skip
    return out


def fake_stages(config: PipelineConfig) -> Stages:
    """Module-level so worker processes and Ray actors can unpickle it by reference."""
    return Stages(reconstruct=_fake_reconstruct, ask=_fake_ask)


# --------------------------------------------------------------------------- data
def _make_source(root: Path, n: int = N_IMAGES) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = root / ("living" if i % 2 else "kitchen")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).save(sub / f"img{i:02d}.png")
    return root


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return _make_source(tmp_path / "src")


CFG = PipelineConfig(depth="none", shard_size=2, seed=7)  # depth="none": plain images need no depth file
QUIET = RunOptions(progress=False)


def _parquet_rows(out: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for p in sorted((out / "data").glob("*.parquet")):
        rows.extend(pq.read_table(p).to_pylist())
    return rows


def _snapshot(out: Path) -> dict[str, Any]:
    """Everything a run writes except timings: what must match between runs."""
    return {
        "rows": _parquet_rows(out),
        "jsonl": read_rows(out),
        "scenes": {p.name: p.read_text() for p in sorted((out / "scenes").glob("*.json"))},
        "images": sorted(p.relative_to(out).as_posix() for p in (out / "images").rglob("*") if p.is_file()),
        "dropped": (out / "dropped.jsonl").read_text(),
        "files": sorted(p.relative_to(out).as_posix() for p in (out / "data").iterdir()),
    }


# --------------------------------------------------------------------------- tests
def test_layout_rows_and_manifest(source: Path, tmp_path: Path) -> None:
    (source / "README.txt").write_text("hello")
    (source / "kitchen" / "broken.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "ds"
    m = synth_dataset(source, out, CFG, options=QUIET, stages_factory=fake_stages)

    assert m.complete and m.counts.shards_total == 4 == m.counts.shards_done  # 8 images / 2 per shard
    assert sorted(p.name for p in (out / "data").iterdir()) == [f"train-{i:05d}-of-00004.parquet" for i in range(4)]
    rows = _parquet_rows(out)
    assert rows == read_rows(out)  # JSONL holds the same rows
    assert m.counts.qa_pairs == len(rows) and m.counts.images_ok == N_IMAGES
    assert m.counts.qa_by_type["left_predicate"] == N_IMAGES

    # every row's image exists and its QA is a valid QAPair carrying the dataset's image id and seed
    for r in rows:
        assert (out / r["image"]).is_file() and r["image"] == f"images/{r['image_id']}"
        qa = row_to_qa(r)
        assert qa.image_id == r["image_id"]
        if qa.qtype == "distance":
            assert qa.provenance["seed"] == image_seed(7, r["image_id"])
    scene = Scene3D.model_validate_json((out / "scenes" / "kitchen__img00.png.json").read_text())
    assert scene.scene_id == "kitchen__img00.png" and len(scene.objects) == 2

    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert {(d["image_id"], d["stage"]) for d in dropped} == {("README.txt", "read"), ("kitchen/broken.png", "read")}
    assert all(d["file"] and d["reason"] for d in dropped)

    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["seed"] == 7 and man["backends"]["detector"] == "ground-truth"
    assert "pyarrow" in man["packages"] and man["timings_s"]["reconstruct"] >= 0
    assert PipelineConfig.model_validate(man["config"]) == CFG  # config round-trips through the manifest


def test_hf_datasets_opens_the_shards(source: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "ds"
    m = synth_dataset(source, out, CFG, options=QUIET, stages_factory=fake_stages)
    ds = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train",
                               cache_dir=str(tmp_path / "hf"))  # fmt: skip
    assert len(ds) == m.counts.qa_pairs
    assert {"question", "answer", "image", "scene_id", "object_ids", "value"} <= set(ds.column_names)


def test_value_error_in_a_stage_drops_the_image_only(source: Path, tmp_path: Path) -> None:
    img = np.full((6, 8, 3), 13, np.uint8)
    Image.fromarray(img).save(source / "kitchen" / "empty.png")
    m = synth_dataset(source, tmp_path / "ds", CFG, options=QUIET, stages_factory=fake_stages)
    assert m.counts.images_ok == N_IMAGES and m.counts.images_dropped == 1
    (d,) = m.all_dropped()
    assert (d.image_id, d.stage, d.reason) == ("kitchen/empty.png", "reconstruct", "no objects detected")


class _Decision:
    def __init__(self, keep: bool, score: float) -> None:
        self.keep, self.score, self.reason = keep, score, "looks like 'an outdoor scene'"


def test_scene_filter_drops_with_its_reason(source: Path, tmp_path: Path) -> None:
    def factory(config: PipelineConfig) -> Stages:
        def keep_bright(frame: Frame) -> _Decision:
            score = float(frame.rgb.mean()) / 255
            return _Decision(score >= 0.5, score)

        return Stages(reconstruct=_fake_reconstruct, ask=_fake_ask, filter=keep_bright)

    m = synth_dataset(source, tmp_path / "ds", CFG, options=QUIET, stages_factory=factory)
    dropped = m.all_dropped()
    assert dropped and m.counts.images_ok + len(dropped) == N_IMAGES
    assert all(d.stage == "filter" and "outdoor" in d.reason for d in dropped)
    assert {r["image_id"] for r in read_rows(tmp_path / "ds")}.isdisjoint({d.image_id for d in dropped})


def test_sensor_depth_requires_depth_files(source: Path, tmp_path: Path) -> None:
    np.save(source / "kitchen" / "img00.depth.npy", np.full((6, 8), 2.0, np.float32))
    m = synth_dataset(source, tmp_path / "ds", CFG.model_copy(update={"depth": "sensor"}), options=QUIET,
                      stages_factory=fake_stages)  # fmt: skip
    assert m.counts.images_ok == 1 and m.counts.images_dropped == N_IMAGES - 1
    assert all("missing depth file" in d.reason and "sensor" in d.reason for d in m.all_dropped())


def test_workers_and_order_do_not_change_the_output(source: Path, tmp_path: Path) -> None:
    synth_dataset(source, tmp_path / "one", CFG, options=QUIET, stages_factory=fake_stages)
    synth_dataset(source, tmp_path / "two", CFG, options=RunOptions(workers=2, progress=False),
                  stages_factory=fake_stages)  # fmt: skip
    assert _snapshot(tmp_path / "one") == _snapshot(tmp_path / "two")
    # a different seed changes the questions: the seed really reaches the generator
    synth_dataset(source, tmp_path / "s8", CFG.model_copy(update={"seed": 8}), options=QUIET,
                  stages_factory=fake_stages)  # fmt: skip
    assert _snapshot(tmp_path / "one")["rows"] != _snapshot(tmp_path / "s8")["rows"]


def test_crash_then_resume_equals_a_clean_run(source: Path, tmp_path: Path) -> None:
    synth_dataset(source, tmp_path / "clean", CFG, options=QUIET, stages_factory=fake_stages)

    calls: list[str] = []
    crash = [True]

    def crashing(config: PipelineConfig) -> Stages:
        def rec(frame: Frame) -> Scene3D:
            calls.append(frame.image_id)
            if crash[0] and len(calls) == 3:  # first image of the 2nd shard
                raise RuntimeError("worker killed")
            return _fake_reconstruct(frame)

        return Stages(reconstruct=rec, ask=_fake_ask)

    out = tmp_path / "ds"
    with pytest.raises(RuntimeError, match="worker killed"):
        synth_dataset(source, out, CFG, options=QUIET, stages_factory=crashing)
    man = json.loads((out / "manifest.json").read_text())
    assert list(man["shards"]) == ["0"] and not man["complete"]
    assert len(list((out / "data").glob("*.parquet"))) == 1  # nothing half-written under a final name
    assert not list(out.rglob("*.tmp"))

    calls.clear()
    crash[0] = False
    m = synth_dataset(source, out, CFG, options=QUIET, stages_factory=crashing)
    assert m.complete and len(calls) == N_IMAGES - 2  # shard 0 was not redone
    assert _snapshot(out) == _snapshot(tmp_path / "clean")

    calls.clear()
    synth_dataset(source, out, CFG, options=QUIET, stages_factory=crashing)  # finished: nothing to do
    assert calls == []


def test_output_inside_the_source_is_not_read_back(source: Path) -> None:
    out = source / "dataset"
    first = synth_dataset(source, out, CFG, options=QUIET, stages_factory=fake_stages)
    again = synth_dataset(source, out, CFG, options=QUIET, stages_factory=fake_stages)  # same inputs: resumes
    assert again.complete and again.counts.images_selected == first.counts.images_selected == N_IMAGES


def test_resume_with_a_different_config_is_refused(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    synth_dataset(source, out, CFG, options=QUIET, stages_factory=fake_stages)
    with pytest.raises(ValueError, match="different config"):
        synth_dataset(source, out, CFG.model_copy(update={"seed": 1}), options=QUIET, stages_factory=fake_stages)


def test_unwritable_output_fails_before_any_work(source: Path, tmp_path: Path) -> None:
    called: list[int] = []

    def factory(config: PipelineConfig) -> Stages:
        called.append(1)
        return fake_stages(config)

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        synth_dataset(source, blocker, CFG, options=QUIET, stages_factory=factory)
    with pytest.raises(PermissionError, match="not writable"):
        synth_dataset(source, blocker / "ds", CFG, options=QUIET, stages_factory=factory)
    assert called == []


def test_limit_and_reference_images(source: Path, tmp_path: Path) -> None:
    cfg = CFG.model_copy(update={"limit": 3, "images": "reference"})
    out = tmp_path / "ds"
    m = synth_dataset(source, out, cfg, options=QUIET, stages_factory=fake_stages)
    assert m.counts.images_selected == 3 and m.counts.shards_total == 2
    rows = _parquet_rows(out)
    assert {r["image_id"] for r in rows} == {"kitchen/img00.png", "kitchen/img02.png", "kitchen/img04.png"}
    assert all(Path(r["image"]).is_absolute() and Path(r["image"]).is_file() for r in rows)
    assert not (out / "images").exists()


def test_llava_export_groups_turns_per_image(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    synth_dataset(source, out, CFG, options=QUIET, stages_factory=fake_stages)
    rows = read_rows(out)
    recs = json.loads(export_llava(out).read_text())
    assert len(recs) == N_IMAGES
    for rec in recs:
        mine = [r for r in rows if r["scene_id"] == rec["id"]]
        conv = rec["conversations"]
        assert rec["image"] == mine[0]["image"] and len(conv) == 2 * len(mine)
        assert conv[0]["value"] == "<image>\n" + mine[0]["question"]
        assert [c["from"] for c in conv[:2]] == ["human", "gpt"] and conv[1]["value"] == mine[0]["answer"]
        assert sum("<image>" in c["value"] for c in conv) == 1
    split = to_llava_records(rows, max_turns=2)
    assert all(len(r["conversations"]) <= 4 for r in split) and len(split) > len(recs)
    with pytest.raises(ValueError, match="has no 'question'"):
        to_llava_records([{"answer": "a", "image": "x"}])


@pytest.mark.ray
def test_ray_runner_matches_local(source: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    synth_dataset(source, tmp_path / "local", CFG, options=QUIET, stages_factory=fake_stages)
    m = synth_dataset(source, tmp_path / "ray", CFG, options=RunOptions(runner="ray", workers=2, progress=False),
                      stages_factory=fake_stages)  # fmt: skip
    assert m.complete and m.runner["runner"] == "ray"
    assert _snapshot(tmp_path / "local") == _snapshot(tmp_path / "ray")


def _parser() -> Any:
    import argparse

    from spatialvlm_core.pipeline import register

    p = argparse.ArgumentParser(prog="spatialvlm")
    register(p.add_subparsers(dest="command", required=True))
    return p


def test_cli_parses_and_rejects_an_unwritable_output(source: Path, tmp_path: Path) -> None:
    args = _parser().parse_args(["synth", "--source", str(source), "--out", str(tmp_path / "ds"), "--runner", "ray",
                                 "--workers", "2", "--limit", "5", "--seed", "3", "--qa-per-image", "4",
                                 "--export", "llava", "--backend-option", "clip.model=/m/clip",
                                 "--backend-option", "detector.score_threshold=0.3"])  # fmt: skip
    assert (args.runner, args.workers, args.limit, args.seed, args.qa_per_image) == ("ray", 2, 5, 3, 4)
    assert args.detector == "ground-truth" and args.depth == "sensor"
    cfg = _config_from_args(args)
    assert cfg.backend_options == {"clip": {"model": "/m/clip"}, "detector": {"score_threshold": 0.3}}
    with pytest.raises(ValueError, match=r"KIND\.KEY=VALUE"):
        parse_backend_options(["model=/x"])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = _parser().parse_args(["synth", "--source", str(source), "--out", str(blocker), "--no-progress"])
    with pytest.raises(NotADirectoryError):
        bad.func(bad)
    splits = _parser().parse_args(["make-splits", "--out", str(tmp_path / "s"), "--train-scenes", "3",
                                   "--bench-scenes", "1", "--seed", "2"])  # fmt: skip
    assert (splits.train_scenes, splits.bench_scenes, splits.seed) == (3, 1, 2)


@pytest.mark.ray
def test_ray_crash_then_resume(source: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    flag = tmp_path / "crash-now"
    flag.write_text("1")

    def crashing(config: PipelineConfig) -> Stages:  # pickled by value into the Ray actors
        def rec(frame: Frame) -> Scene3D:
            if frame.image_id == "living/img01.png" and flag.exists():  # 2nd shard
                raise RuntimeError("actor killed")
            return _fake_reconstruct(frame)

        return Stages(reconstruct=rec, ask=_fake_ask)

    ray_opts = RunOptions(runner="ray", workers=2, progress=False)
    out = tmp_path / "ds"
    with pytest.raises(RuntimeError, match="actor killed"):
        synth_dataset(source, out, CFG, options=ray_opts, stages_factory=crashing)
    assert not json.loads((out / "manifest.json").read_text())["complete"]
    flag.unlink()
    assert synth_dataset(source, out, CFG, options=ray_opts, stages_factory=crashing).complete
    synth_dataset(source, tmp_path / "clean", CFG, options=QUIET, stages_factory=fake_stages)
    assert _snapshot(out) == _snapshot(tmp_path / "clean")
