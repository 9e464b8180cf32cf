"""Outputs follow the umask like open()/mkdir() do, and a training state never unpickles code."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from spatialvlm_core.atomic import atomic_dir, atomic_write_text


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_outputs_follow_the_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        f = atomic_write_text(tmp_path / "manifest.json", "{}")
        with atomic_dir(tmp_path / "scene_0000") as d:
            (d / "x.txt").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "scene_0000").stat().st_mode) == 0o777 & ~mask


class _Boom:
    def __reduce__(self):  # what a crafted checkpoint does: run code when unpickled
        return (os.system, ("echo pwned > /dev/null",))


def test_a_crafted_training_state_is_refused(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from spatialvlm_core.train.checkpoints import load_state, rng_state, set_rng_state

    bad = tmp_path / "training_state.pt"
    with open(bad, "wb") as fh:
        pickle.dump({"optimizer": _Boom()}, fh)
    with pytest.raises(ValueError, match="refusing to load"):
        load_state(bad)
    # The real state round-trips through weights_only loading and restores the generators.
    good = tmp_path / "ok.pt"
    torch.save({"rng": rng_state(), "step": 3}, good)
    import random

    import numpy as np

    st = load_state(good)
    a = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    set_rng_state(st["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == a
