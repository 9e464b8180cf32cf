"""Sharded training (``TrainConfig.parallel="fsdp"``): 2 CPU processes (gloo) with weights, gradients and optimiser
state split across them train a tiny random LLaVA to the same weights as 2 data-parallel processes, save a whole
checkpoint that reloads, and resume from a checkpoint onto the same curve."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_hf_families import _llava

from spatialvlm_core.dataset.toy import write_toy_dataset
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.train import TrainConfig, train
from spatialvlm_core.train.distributed import launch

# Sharding changes only where sums are taken (a reduce-scatter instead of an all-reduce), so the weights agree to
# float32 rounding, not bit for bit.
WEIGHT_ATOL = 1e-5


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fsdp")
    torch.manual_seed(0)
    _llava(root / "llava")
    return write_toy_dataset(root / "toy", n_images=8, seed=2, size=32), root / "llava"


def _cfg(setup: tuple[Path, Path], out: Path, **kw: object) -> TrainConfig:
    toy, base = setup
    full = dict(data=str(toy), out=str(out), preset=str(base), steps=4, batch_size=4, lr=1e-2,
                warmup_steps=1, checkpoint_every=2, log_every=1, seed=3, progress=False, device="cpu")
    return TrainConfig(**{**full, **kw})


def _launch2(cfg: TrainConfig, tmp: Path, name: str) -> None:
    path = tmp / f"{name}.json"
    path.write_text(cfg.to_json())
    assert launch(path, 2) == 0


def _losses(out: Path) -> dict[int, float]:
    rows = map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return {k: v for f in sorted(out.rglob("*.safetensors")) if "checkpoints" not in f.parts
            for k, v in load_file(str(f)).items()}


@pytest.mark.parametrize("lm_mode", ["full", "lora"])
def test_fsdp_trains_like_data_parallel_saves_whole_and_resumes(setup: tuple[Path, Path], tmp_path: Path,
                                                                lm_mode: str) -> None:
    ddp, fsdp = tmp_path / "ddp", tmp_path / "fsdp"
    _launch2(_cfg(setup, ddp, lm_mode=lm_mode), tmp_path, "ddp")
    _launch2(_cfg(setup, fsdp, parallel="fsdp", lm_mode=lm_mode), tmp_path, "fsdp")
    c_ddp, c_fsdp = _losses(ddp), _losses(fsdp)
    assert sorted(c_fsdp) == [1, 2, 3, 4]
    for s in c_ddp:
        assert c_fsdp[s] == pytest.approx(c_ddp[s], rel=1e-4)
    w_ddp, w_fsdp = _weights(ddp), _weights(fsdp)
    assert w_fsdp.keys() == w_ddp.keys() and w_fsdp  # a whole checkpoint, not one rank's shard
    for k, v in w_ddp.items():
        assert w_fsdp[k].shape == v.shape and torch.allclose(w_fsdp[k], v, atol=WEIGHT_ATOL), k
    assert SpatialVLM.load(fsdp).model.preset.kind == "hf"  # reloads in one process

    # Interrupted sharded run: only step 2 survives; resuming under FSDP replays steps 3 and 4.
    again = tmp_path / "again"
    shutil.copytree(fsdp / "checkpoints" / "step-2", again / "checkpoints" / "step-2")
    (again / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": c_fsdp[s]}) + "\n" for s in (1, 2)))
    _launch2(_cfg(setup, again, parallel="fsdp", lm_mode=lm_mode), tmp_path, "again")
    resumed = _losses(again)
    for s in (3, 4):
        assert resumed[s] == pytest.approx(c_fsdp[s], rel=1e-5, abs=1e-6)


def test_composed_model_refuses_fsdp_with_the_reason(tmp_path: Path) -> None:
    toy = write_toy_dataset(tmp_path / "toy", n_images=4, seed=0, size=32)
    cfg = TrainConfig(data=str(toy), out=str(tmp_path / "run"), preset="micro", steps=1, batch_size=2,
                      parallel="fsdp", progress=False, device="cpu")
    with pytest.raises(ValueError, match="composed model's warm-ups"):
        train(cfg)
