"""Training loop: a few steps on a toy dataset, exact resume, config round trip, dataset errors, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spatialvlm_core.dataset.reader import load_qa_dataset, mix_datasets
from spatialvlm_core.dataset.toy import write_toy_dataset
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.train import TrainConfig, train
from spatialvlm_core.train.cli import register


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy"), n_images=12, seed=3, size=32)


def _cfg(toy: Path, out: Path, **kw: object) -> TrainConfig:
    base = dict(data=str(toy), out=str(out), preset="micro", steps=6, batch_size=4, lr=3e-3, warmup_steps=2,
                checkpoint_every=3, log_every=1, seed=7, progress=False)
    return TrainConfig(**{**base, **kw})


def _losses(out: Path) -> dict[int, float]:
    rows = map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_train_resume_gives_same_curve_and_reload_answers_same(toy: Path, tmp_path: Path) -> None:
    a = tmp_path / "a"
    summary = train(_cfg(toy, a))
    curve = _losses(a)
    assert sorted(curve) == [1, 2, 3, 4, 5, 6]
    assert curve[6] < curve[1]  # it learns something
    assert (a / "checkpoints" / "step-3" / "training_state.pt").is_file()
    assert summary["steps"] == 6

    # Interrupted run: only the step-3 checkpoint and the metrics up to it survive; resuming replays 4..6.
    b = tmp_path / "b"
    shutil.copytree(a / "checkpoints" / "step-3", b / "checkpoints" / "step-3")
    (b / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": curve[s]}) + "\n" for s in (1, 2, 3)))
    train(_cfg(toy, b))
    resumed = _losses(b)
    assert sorted(resumed) == [1, 2, 3, 4, 5, 6]
    for s in (4, 5, 6):
        assert resumed[s] == pytest.approx(curve[s], rel=1e-5, abs=1e-6)

    # Save -> reload -> identical answers.
    exs = load_qa_dataset(toy)[:6]
    imgs, qs = [str(e.image) for e in exs], [e.question for e in exs]
    first = [x.text for x in SpatialVLM.load(a).ask_batch(imgs, qs)]
    second = [x.text for x in SpatialVLM.load(a).ask_batch(imgs, qs)]
    assert first == second


def test_train_options_frozen_vision_and_mixing(toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "fv"
    train(_cfg(toy, out, steps=2, freeze_vision=True, spatial_fraction=0.5, grad_accum=2, checkpoint_every=10))
    saved = json.loads((out / "config.json").read_text())["preset"]
    assert saved["freeze_vision"] is True
    cfg = TrainConfig.from_json((out / "train_config.json").read_text())
    assert cfg == _cfg(toy, out, steps=2, freeze_vision=True, spatial_fraction=0.5, grad_accum=2,
                       checkpoint_every=10)


def test_mix_datasets_share(toy: Path) -> None:
    spatial = load_qa_dataset(toy)
    mixed = mix_datasets(spatial, 0.25, seed=0)
    n_generic = sum(e.qa is None for e in mixed)
    assert n_generic == round(len(spatial) * 3)
    assert all("mostly" in e.answer for e in mixed if e.qa is None)
    assert mix_datasets(spatial, 1.0, seed=0) == spatial
    with pytest.raises(ValueError, match="spatial_fraction"):
        mix_datasets(spatial, 0.0, seed=0)


def _write_rows(root: Path, rows: list[dict]) -> Path:
    (root / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "data" / "part-0.parquet")
    return root


def test_dataset_errors_name_row_and_field(toy: Path, tmp_path: Path) -> None:
    rows = pq.read_table(next((toy / "data").glob("*.parquet"))).to_pylist()[:3]
    for r in rows:
        r["image"] = str(toy / r["image"])  # absolute paths still resolve under any root
    bad = [dict(r) for r in rows]
    bad[1]["question"] = None
    with pytest.raises(ValueError, match=r"row 1 .*missing field 'question'"):
        load_qa_dataset(_write_rows(tmp_path / "d1", bad))
    bad = [dict(r) for r in rows]
    bad[2]["image"] = "images/missing.png"
    with pytest.raises(FileNotFoundError, match=r"row 2 .*'image'.*missing.png"):
        load_qa_dataset(_write_rows(tmp_path / "d2", bad))
    bad = [dict(r) for r in rows]
    bad[0]["category"] = "sideways"
    with pytest.raises(ValueError, match=r"row 0 .*'category'"):
        load_qa_dataset(_write_rows(tmp_path / "d3", bad))
    with pytest.raises(FileNotFoundError, match="no dataset shards"):
        load_qa_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_qa_dataset(tmp_path / "nowhere")


def test_cli_train(toy: Path, tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--data", str(toy), "--preset", "micro", "--out", str(tmp_path / "c"),
                              "--steps", "2", "--batch-size", "2", "--no-freeze-vision"])
    assert args.func(args) == 0
    assert (tmp_path / "c" / "model.safetensors").is_file()
    assert SpatialVLM.load(tmp_path / "c").ask(str(next((toy / "images").glob("*.png"))), "How far?").source == "vlm:micro"
