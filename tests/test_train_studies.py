"""The training studies (evals/studies): intervals, colour scoring, the mixes, a tiny training run on CPU, and
reports whose verdicts follow the numbers."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from evals.studies.report import STUDIES, conclusion, write_reports
from evals.studies.runner import POINTS, colour_correct
from evals.studies.stats import diff_interval, mean_interval


def test_mean_interval_is_the_t_interval() -> None:
    iv = mean_interval([1.0, 2.0, 3.0])
    half = 4.302653 * 1.0 / math.sqrt(3)  # t(0.975, df=2) * sd / sqrt(n)
    assert iv.n == 3 and iv.mean == pytest.approx(2.0)
    assert (iv.lo, iv.hi) == pytest.approx((2.0 - half, 2.0 + half), rel=1e-5)
    one = mean_interval([0.4, float("nan")])
    assert one.n == 1 and math.isnan(one.lo) and "no interval" in one.fmt()


def test_diff_interval_matches_welch() -> None:
    from scipy.stats import ttest_ind

    a, b = [0.61, 0.64, 0.60], [0.50, 0.58]
    d = diff_interval(a, b)
    ci = ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert d.mean == pytest.approx(sum(a) / 3 - sum(b) / 2)
    assert (d.lo, d.hi) == pytest.approx((ci.low, ci.high), rel=1e-6)
    assert not d.excludes_zero()  # two seeds of b, wide spread: not resolved
    assert diff_interval([0.9, 0.91, 0.92], [0.5, 0.51, 0.52]).excludes_zero()


def test_colour_correct_takes_the_first_colour_named() -> None:
    vocab = {"red", "blue", "light gray"}
    assert colour_correct("It is red.", "red", vocab)
    assert colour_correct("Red, or maybe blue.", "red", vocab)
    assert not colour_correct("Blue, not red.", "red", vocab)
    assert not colour_correct("I cannot tell.", "red", vocab)
    assert not colour_correct("It is reddish.", "red", vocab)  # word boundaries
    assert colour_correct("The chair is light gray.", "light gray", vocab)


def _synthetic(frozen_gap: float, noise_drop: float, mix_colour_drop: float, seeds: int = 3) -> dict:
    """Results where each study's effect is set by one number (seed jitter 0.005 around it)."""
    rng = random.Random(0)
    base = {"qualitative_accuracy": 0.7, "parse_rate": 1.0, "within_50_200": 0.6, "within_90_110": 0.2,
            "median_rel_error": 0.4, "colour_accuracy": 0.1, "colour_majority": 0.2}
    shift = {"frozen": {"within_90_110": -frozen_gap, "median_rel_error": frozen_gap},
             "noise-0.1": {"within_50_200": -noise_drop}, "noise-0.2": {"within_50_200": -noise_drop},
             "noise-0.3": {"within_50_200": -noise_drop},
             "share-0": {"colour_accuracy": 0.8, "within_50_200": -0.5, "qualitative_accuracy": -0.2},
             "share-0.25": {"colour_accuracy": 0.8 - mix_colour_drop},
             "share-0.5": {"colour_accuracy": 0.8 - mix_colour_drop}}
    runs = []
    for p in POINTS:
        for s in range(seeds):
            vals = {k: v + shift.get(p, {}).get(k, 0.0) + rng.uniform(-0.005, 0.005) for k, v in base.items()}
            runs.append({"point": p, "seed": s, **vals})
    meta = {"preset": "tiny-relation-points", "steps": 2000, "batch_size": 32, "device": "cuda",
            "data": {"train_scenes": 800, "eval_scenes": 100}}
    return {"meta": meta, "runs": runs}


def test_verdicts_follow_the_numbers() -> None:
    by_key = {s.key: s for s in STUDIES}
    agree = _synthetic(frozen_gap=0.1, noise_drop=0.0, mix_colour_drop=0.0)["runs"]
    assert conclusion(by_key["frozen"], agree)[0] == "agrees"
    assert conclusion(by_key["noise"], agree)[0] == "agrees"
    assert conclusion(by_key["share"], agree)[0] == "agrees"
    flip = _synthetic(frozen_gap=-0.1, noise_drop=0.2, mix_colour_drop=0.3)["runs"]
    assert conclusion(by_key["frozen"], flip)[0] == "disagrees"
    assert conclusion(by_key["noise"], flip)[0] == "disagrees"
    assert conclusion(by_key["share"], flip)[0] == "disagrees"
    two = _synthetic(frozen_gap=0.0, noise_drop=0.0, mix_colour_drop=0.0, seeds=2)["runs"]
    assert conclusion(by_key["frozen"], two)[0] == "not resolved"  # jitter only: no effect outside the noise


def test_report_files_have_intervals_and_plots(tmp_path: Path) -> None:
    res = tmp_path / "results.json"
    res.write_text(json.dumps(_synthetic(frozen_gap=0.1, noise_drop=0.0, mix_colour_drop=0.0)))
    written = write_reports(res, tmp_path / "reports")
    names = sorted(p.name for p in written)
    assert names == sorted([f"study_{k}.{e}" for k in ("frozen", "noise", "share") for e in ("md", "png")]
                           + ["study_results.json"])
    md = (tmp_path / "reports" / "study_frozen.md").read_text()
    assert "## What the paper found" in md and "## Conclusion: agrees" in md
    assert "t-interval" in md and "outside the noise" in md and "![" in md
    row = next(ln for ln in md.splitlines() if ln.startswith("| frozen |"))
    assert row.count("[") == 4  # every metric cell has its interval
    assert "Constant-answer baseline" in (tmp_path / "reports" / "study_share.md").read_text()
    with pytest.raises(ValueError, match="expected"):
        bad = tmp_path / "bad.json"
        bad.write_text("[]")
        write_reports(bad, tmp_path)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mujoco", reason="rendering the study data needs MuJoCo")
    from evals.studies.data import StudyDataConfig, render_study_data

    root = tmp_path_factory.mktemp("studies")
    return render_study_data(root, StudyDataConfig(train_scenes=2, eval_scenes=1), progress=False)


def test_mix_dataset_shares(tiny_data: Path) -> None:
    from evals.studies.data import mix_dataset
    from spatialvlm_core.dataset.reader import read_dataset_rows as rows

    n_spatial, n_colour = len(rows(tiny_data / "spatial-s0")), len(rows(tiny_data / "colour"))
    half = rows(mix_dataset(tiny_data, 0.5))
    assert sum(r["qtype"] == "object_colour" for r in half) == n_spatial == len(half) - n_spatial
    assert len({r["id"] for r in half}) == len(half)  # cycled colour rows get distinct ids
    assert len(rows(mix_dataset(tiny_data, 0.0))) == n_colour
    assert mix_dataset(tiny_data, 1.0) == tiny_data / "spatial-s0"
    with pytest.raises(ValueError, match="share"):
        mix_dataset(tiny_data, 1.5)
    # Label noise changes the labels, never the questions' images.
    noisy = rows(tiny_data / "spatial-s0.3")
    assert {r["image"] for r in noisy} == {r["image"] for r in rows(tiny_data / "spatial-s0")}


@pytest.mark.slow
def test_run_one_trains_and_scores_on_cpu(tiny_data: Path) -> None:
    from evals.studies.runner import run_one

    row = run_one(tiny_data, "share-0.5", seed=0, steps=2, batch_size=4, device="cpu")
    assert row["point"] == "share-0.5" and row["steps"] == 2 and row["examples"] > 0
    assert math.isfinite(row["final_loss"])
    for k in ("qualitative_accuracy", "colour_accuracy", "colour_majority"):
        assert 0.0 <= row[k] <= 1.0
    assert row["n_colour"] > 0 and row["n_qualitative"] > 0


def test_cli_wires_run_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import evals.train_studies as cli

    (tmp_path / "study_data.json").write_text("{}")
    seen: dict = {}
    monkeypatch.setattr(cli, "run_all", lambda *a, **kw: seen.update(args=a, kw=kw) or tmp_path / "results.json")
    cli.main(["run", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--steps", "auto", "--jobs", "4",
              "--min-steps", "50", "--calibrate-steps", "7", "--max-wall", "300", "--seeds", "0", "1"])
    assert seen["args"][3] == [0, 1] and seen["args"][4] is None and seen["args"][7] == 4  # seeds, steps, jobs
    assert seen["kw"]["step_range"] == (50, 3600) and seen["kw"]["calibrate_steps"] == 7
    assert seen["kw"]["max_wall_s"] == 300
    with pytest.raises(ValueError, match="--steps"):
        cli.main(["one", "--data", str(tmp_path), "--point", "base", "--steps", "auto", "--json", "x.json"])
    with pytest.raises(FileNotFoundError, match="render"):
        cli.main(["run", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
