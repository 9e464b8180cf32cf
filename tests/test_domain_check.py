"""The shipped model: ``load("default")``, its domain check (sim renders in, real photos out) and the refusals of
``spatialvlm ask``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatialvlm_core.domain import EVAL_FIRST, DomainCheck, render_sim
from spatialvlm_core.infer import EXIT_DECLINED, SpatialVLM
from spatialvlm_core.model.parsing import is_declined
from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR
from tests.conftest import SHARED

PHOTOS = sorted(SHARED.glob("real/*/rgb.*")) + sorted(SHARED.glob("images/*.jpg"))


@pytest.fixture(scope="module")
def vlm() -> SpatialVLM:
    return SpatialVLM.load("default")


@pytest.fixture(scope="module")
def renders() -> list[np.ndarray]:
    return render_sim(EVAL_FIRST + 7, 4)  # held-out scenes outside the calibration's seed range


def test_load_default_and_none_are_the_shipped_model(vlm: SpatialVLM) -> None:
    assert vlm.domain is not None and vlm.members and vlm.source.startswith("vlm:tiny-relation-points")
    none = SpatialVLM.load(None)
    assert none.source == vlm.source and none.domain is not None
    assert none.domain.threshold == pytest.approx(vlm.domain.threshold)
    with pytest.raises(FileNotFoundError, match="'default'"):
        SpatialVLM.load("no-such-checkpoint")


def test_calibration_is_stored_beside_the_model_and_set_from_renders_only() -> None:
    check = DomainCheck.load(DEFAULT_MODEL_DIR)
    assert check is not None and check.meta["n"] >= 500
    assert check.threshold == pytest.approx(check.meta["percentile_score"] * check.meta["margin"])
    assert "calibrate" in check.meta["command"] and "sim seed" in check.meta["scenes"]


def test_sim_renders_are_in_domain(vlm: SpatialVLM, renders: list[np.ndarray]) -> None:
    assert vlm.domain is not None
    scores = vlm.domain_scores(renders)
    assert scores is not None and max(scores) <= vlm.domain.threshold
    assert vlm.domain_reason(renders[0]) is None


@pytest.mark.skipif(not PHOTOS, reason=f"no real photos under {SHARED} (real/*/rgb.*, images/*.jpg)")
def test_real_photos_are_declined_with_their_score(vlm: SpatialVLM, renders: list[np.ndarray]) -> None:
    assert vlm.domain is not None
    real = vlm.domain_scores([str(p) for p in PHOTOS])
    sim = vlm.domain_scores(renders)
    assert real is not None and sim is not None
    assert min(real) > vlm.domain.threshold > max(sim)
    ans = vlm.ask(PHOTOS[0], "How far is the sofa from the table?")
    assert is_declined(ans) and ans.value is None and "domain score" in ans.text and "geometric" in ans.text


def test_spatialvlm_ask_refuses_off_topic_and_unknown_objects(tmp_path: Path, renders: list[np.ndarray],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from spatialvlm_core.cli import main

    png = tmp_path / "room.png"
    Image.fromarray(renders[0]).save(png)
    assert main(["ask", "--image", str(png), "--question", "What is the capital of France?"]) == EXIT_DECLINED
    out = json.loads(capsys.readouterr().out)
    assert out["value"] is None and "not a spatial question" in out["text"]
    assert main(["ask", "--model", "default", "--image", str(png),
                 "--question", "How far is the piano from the sofa?"]) == EXIT_DECLINED
    out = json.loads(capsys.readouterr().out)
    assert out["value"] is None and "'the piano'" in out["text"]
