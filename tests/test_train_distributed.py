"""Data-parallel training: 2 CPU processes (gloo) follow the 1-process loss curve at the same global batch, and
a 2-process run resumes from its checkpoint onto the same curve."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spatialvlm_core.dataset.toy import write_toy_dataset
from spatialvlm_core.train import TrainConfig, train
from spatialvlm_core.train.cli import main
from spatialvlm_core.train.distributed import World, launch

# Each rank averages the answer-token loss over its own rows, so the mean of two shard means differs from the
# mean over the whole batch when the shards hold different numbers of answer tokens; on this toy set the
# curves agree within a few percent (float summation order adds ~1e-6).
CURVE_RTOL = 0.05


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy"), n_images=12, seed=3, size=32)


def _cfg(toy: Path, out: Path, **kw: object) -> TrainConfig:
    base = dict(data=str(toy), out=str(out), preset="micro", steps=6, batch_size=4, lr=3e-3, warmup_steps=2,
                checkpoint_every=3, log_every=1, seed=7, progress=False, device="cpu")  # gloo, any machine
    return TrainConfig(**{**base, **kw})


def _losses(out: Path) -> dict[int, float]:
    rows = map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _launch2(cfg: TrainConfig, tmp: Path, name: str) -> None:
    path = tmp / f"{name}.json"
    path.write_text(cfg.to_json())
    assert launch(path, 2) == 0


def test_world_shards_the_global_batch_without_overlap() -> None:
    rows = list(range(8))
    shards = [World(r, 2).shard(rows) for r in range(2)]
    assert sorted(shards[0] + shards[1]) == rows and not set(shards[0]) & set(shards[1])
    assert World().shard(rows) == rows


def test_two_processes_follow_the_one_process_curve_and_resume(toy: Path, tmp_path: Path) -> None:
    one = tmp_path / "one"
    train(_cfg(toy, one))
    two = tmp_path / "two"
    _launch2(_cfg(toy, two), tmp_path, "two")
    c1, c2 = _losses(one), _losses(two)
    assert sorted(c2) == [1, 2, 3, 4, 5, 6]
    for s in c1:
        assert c2[s] == pytest.approx(c1[s], rel=CURVE_RTOL)
    assert (two / "model.safetensors").is_file() and (two / "checkpoints" / "step-3").is_dir()

    # Interrupted 2-process run: only the step-3 checkpoint survives; resuming under 2 processes replays 4..6.
    again = tmp_path / "again"
    shutil.copytree(two / "checkpoints" / "step-3", again / "checkpoints" / "step-3")
    (again / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": c2[s]}) + "\n" for s in (1, 2, 3)))
    _launch2(_cfg(toy, again), tmp_path, "again")
    resumed = _losses(again)
    assert sorted(resumed) == [1, 2, 3, 4, 5, 6]
    for s in (4, 5, 6):
        assert resumed[s] == pytest.approx(c2[s], rel=1e-5, abs=1e-6)


def test_num_processes_must_divide_the_batch(toy: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must divide --batch-size"):
        main(["train", "--data", str(toy), "--out", str(tmp_path / "x"), "--preset", "micro", "--batch-size", "3",
              "--num-processes", "2"])
