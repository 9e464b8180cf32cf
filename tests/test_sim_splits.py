"""Sim QA splits: the one splitter (dataset/splits.py) and the one writer (dataset/shards.py) behind
dataset/sim_splits.py: disjoint scenes, manifest and shards, resume after an interrupt, a foreign folder refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import spatialvlm_core.dataset.sim_splits as sd
from spatialvlm_core import domain, make_model
from spatialvlm_core.dataset.reader import load_qa_dataset
from spatialvlm_core.dataset.shards import load_manifest, read_rows
from spatialvlm_core.dataset.splits import SPLIT_STRIDE, scene_seeds, split_seed

pytest.importorskip("mujoco", reason="rendering sim splits needs MuJoCo")

SMALL = dict(n_scenes=5, seed=3, width=64, height=48, qa_per_scene=4, locate_per_scene=1, dense_grid=4)


def test_the_splitter_keeps_every_split_of_every_experiment_apart() -> None:
    # Experiment 0 is make_model's: train split seed 0, held-out 1 (the cached held-out split's; its key is
    # pinned in test_manipulation_data.py). The domain check calibrates on the held-out split too.
    assert (make_model.SEED, make_model.EVAL_SEED) == (split_seed("train"), split_seed("held_out")) == (0, 1)
    assert split_seed("held_out") == domain.SCENE_SEED
    blocks = {(e, s): set(scene_seeds(split_seed(s, e), 1000)) for e in range(4) for s in ("train", "held_out")}
    for a in blocks:
        for b in blocks:
            assert a == b or not blocks[a] & blocks[b], (a, b)
    assert scene_seeds(1, 3) == range(SPLIT_STRIDE, SPLIT_STRIDE + 3)
    with pytest.raises(ValueError, match="split must be"):
        split_seed("bench")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a split holds"):
        scene_seeds(0, SPLIT_STRIDE + 1)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "images").iterdir())
            if p.suffix == ".png"}


def test_a_sim_split_is_written_in_shards_and_resumes_after_an_interrupt(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sd, "SCENES_PER_SHARD", 2)  # 5 scenes: shards of 2, 2 and 1
    cfg = sd.SimDataConfig(**SMALL)
    clean = sd.write_sim_dataset(tmp_path / "clean", cfg, progress=False)
    m = load_manifest(clean)
    assert m is not None and m.complete and m.counts.shards_total == 3 and m.last_run_shards == [0, 1, 2]
    assert sorted((clean / "data").glob("*.parquet")) == [clean / f"data/train-0000{i}-of-00003.parquet"
                                                          for i in range(3)]
    assert m.counts.qa_pairs == len(read_rows(clean)) == len(load_qa_dataset(clean)) > 0
    assert all(r["scene_id"] and r["image"].startswith("images/") for r in read_rows(clean))

    real = sd._scene_rows

    def killed_at_scene_3(args):  # type: ignore[no-untyped-def]
        if args[0] == 3:
            raise KeyboardInterrupt
        return real(args)

    monkeypatch.setattr(sd, "_scene_rows", killed_at_scene_3)
    with pytest.raises(KeyboardInterrupt):
        sd.write_sim_dataset(tmp_path / "resumed", cfg, progress=False)
    part = load_manifest(tmp_path / "resumed")
    assert part is not None and not part.complete and sorted(part.shards) == ["0"]
    assert not (tmp_path / "resumed" / "simdata_config.json").exists()  # not yet a cache hit

    monkeypatch.setattr(sd, "_scene_rows", real)
    resumed = sd.write_sim_dataset(tmp_path / "resumed", cfg, progress=False)
    m2 = load_manifest(resumed)
    assert m2 is not None and m2.complete and m2.last_run_shards == [1, 2]  # only the missing shards
    assert read_rows(resumed) == read_rows(clean)
    assert _files(resumed) == _files(clean)
    assert (resumed / "simdata_config.json").read_bytes() == (clean / "simdata_config.json").read_bytes()

    other = sd.SimDataConfig(**{**SMALL, "qa_per_scene": 5})
    with pytest.raises(ValueError, match="another sim split"):
        sd.write_sim_dataset(resumed, other, progress=False)
    assert json.loads((resumed / "simdata_config.json").read_text())["qa_per_scene"] == 4
