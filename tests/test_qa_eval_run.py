"""The spatial QA benchmark end to end: a tiny sim bench, a pipeline-style dataset, the blind prior."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from evals.spatial_qa import BlindPrior, build_sim_bench, candidates_for, load_dataset_bench, main
from spatialvlm_core.types import QAPair


def _results(out: Path) -> dict[str, dict]:
    data = json.loads((out / "results.json").read_text())
    return {m["name"]: m for m in data["models"]}


def test_sim_bench_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert main(["--n-scenes", "2", "--qa-per-scene", "12", "--model", "none", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "geometric (GT depth)" in printed and "learned: skipped" in printed
    res = _results(out)
    assert res["learned"]["skipped"].startswith("not requested")
    gt = res["geometric (GT depth)"]["summary"]
    # The ceiling: same reconstruction as the questions, so only answer rounding separates it from the truth.
    assert gt["overall"]["n"] == 24 and gt["overall"]["accuracy"] == 1.0
    assert gt["quantitative"]["valid_rate"] == 1.0 and gt["quantitative"]["within_2x"] == 1.0
    noisy = res["geometric (noisy depth)"]["summary"]
    assert noisy["overall"]["n"] == 24 and noisy["quantitative"]["mra"] <= gt["quantitative"]["mra"]
    assert res["blind prior"]["summary"]["overall"]["n"] == 24
    for f in ("report.md", "log_error_hist.png", "pred_vs_true.png", "by_type.png", "predictions.jsonl"):
        assert (out / f).stat().st_size > 0, f
    report = (out / "report.md").read_text()
    assert "blind prior fitted on the bench itself" in report and "| question type |" in report
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 3 * 24


def test_learned_row_with_micro_checkpoint(tmp_path: Path) -> None:
    from spatialvlm_core.model import create_model

    ck = tmp_path / "ck"
    create_model("micro", tokenizer_texts=["How far is the red box?", "1.5 meters"]).save(ck)
    out = tmp_path / "rep"
    assert main(["--n-scenes", "1", "--qa-per-scene", "4", "--model", str(ck), "--out", str(out)]) == 0
    learned = _results(out)["learned"]
    assert learned["skipped"] is None and learned["n_answered"] == 4
    assert learned["summary"]["overall"]["n"] == 4  # an untrained model: scored, whatever it says


def test_missing_checkpoint_and_data_errors(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    assert main(["--n-scenes", "1", "--qa-per-scene", "2", "--model", str(tmp_path / "nope"), "--out", str(out)]) == 0
    assert "checkpoint not found" in _results(out)["learned"]["skipped"]
    with pytest.raises(FileNotFoundError, match="--data folder not found"):
        load_dataset_bench(tmp_path / "missing")
    (tmp_path / "empty" / "data").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no data/\*\.parquet"):
        load_dataset_bench(tmp_path / "empty")
    with pytest.raises(ValueError, match="n-scenes"):
        build_sim_bench(0)


def test_dataset_bench(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spatialvlm_core.dataset.shards import qa_to_row

    bench = build_sim_bench(2, qa_per_scene=8, log=lambda s: None)
    data = tmp_path / "bench"
    rows = []
    for im in bench.images:
        (data / "images").mkdir(parents=True, exist_ok=True)
        (data / "scenes").mkdir(exist_ok=True)
        Image.fromarray(im.image).save(data / "images" / f"{im.image_id}.png")
        (data / "scenes" / f"{im.image_id}.json").write_text(im.scene.model_dump_json())
        rows += [qa_to_row(q, f"images/{im.image_id}.png", im.image_id) for q in im.qa]
    (data / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), data / "data" / "part-00000.parquet")

    loaded = load_dataset_bench(data, log=lambda s: None)
    assert [i.image_id for i in loaded.images] == [i.image_id for i in bench.images]
    assert [q.id for q in loaded.pairs] == [q.id for q in bench.pairs]
    assert all(i.frame is None for i in loaded.images) and "no depth frame" in loaded.notes[0]
    out = tmp_path / "rep"
    assert main(["--data", str(data), "--train", str(data), "--model", "none", "--out", str(out)]) == 0
    res = _results(out)
    assert res["geometric (GT depth)"]["summary"]["overall"]["accuracy"] == 1.0
    assert res["geometric (noisy depth)"]["skipped"] == "no frame with depth available"

    # The renderer's scene folder next to the dataset gives the first image its depth frame back.
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene, save_scene

    seed = 900000
    save_scene(generate_scene(seed, SimConfig(room=sorted(ROOMS)[seed % len(ROOMS)])),
               data / ".scenes" / bench.images[0].image_id)
    loaded = load_dataset_bench(data, log=lambda s: None)
    assert loaded.images[0].frame is not None and loaded.images[1].frame is None
    assert main(["--data", str(data), "--model", "none", "--out", str(out)]) == 0
    assert _results(out)["geometric (noisy depth)"]["n_answered"] == len(bench.images[0].qa)
    assert "train split" in res["blind prior"]["description"]


def _qa(qtype: str, kind: str, **kw: object) -> QAPair:
    cat = "quantitative" if kind == "quantitative" else "qualitative"
    return QAPair(id=f"{qtype}-{len(kw)}-{kw.get('truth', kw.get('truth_bool'))}", image_id="i", qtype=qtype,
                  category=cat, kind=kind, question="Q?", answer="A.", **kw)  # type: ignore[arg-type]


def test_blind_prior_exact() -> None:
    train = [
        _qa("distance", "quantitative", value=1.0, unit="m", truth=1.0),
        _qa("distance", "quantitative", value=2.0, unit="m", truth=2.0),
        _qa("distance", "quantitative", value=4.0, unit="m", truth=4.0),
        _qa("left_right_predicate", "predicate", truth_bool=False),
        _qa("left_right_predicate", "predicate", truth_bool=False, value=None),
        _qa("left_right_predicate", "predicate", truth_bool=True),
        _qa("clock_direction", "quantitative", value=1.0, unit="o'clock", truth=1.2),
        _qa("clock_direction", "quantitative", value=1.0, unit="o'clock", truth=0.9),
        _qa("clock_direction", "quantitative", value=11.0, unit="o'clock", truth=11.1),
        _qa("taller_choice", "choice", choice="the red box", object_ids=["a", "b"],
            provenance={"winner_id": "b"}),
    ]
    prior = BlindPrior(train)
    a = prior.answer(_qa("distance", "quantitative", value=3.0, unit="m", truth=3.0), [])
    assert a.meters == 2.0 and a.source == "blind-prior"
    assert prior.answer(_qa("left_right_predicate", "predicate", truth_bool=True), []).boolean is False
    assert prior.answer(_qa("clock_direction", "quantitative", value=5.0, unit="o'clock", truth=5), []).value == 1.0
    pick = prior.answer(_qa("taller_choice", "choice", choice="x", object_ids=["a", "b"]), ["the red box", "the cup"])
    assert pick.text == "the cup."  # the second-named object won in training
    assert prior.answer(_qa("height", "quantitative", value=1.0, unit="m", truth=1.0), []).value is None
    with pytest.raises(ValueError, match="at least one"):
        BlindPrior([])


def test_candidates_for_choices() -> None:
    from spatialvlm_core.questions.testing import make_box_object, make_scene

    scene = make_scene([make_box_object("a", "box", "the red box", (0, 1, 0.5), (1, 1, 1)),
                        make_box_object("b", "cup", "the cup", (1, 1, 0.1), (0.1, 0.1, 0.2)),
                        make_box_object("c", "lamp", "the lamp", (2, 1, 1), (0.3, 0.3, 2))])
    binary = _qa("taller_choice", "choice", choice="the lamp", object_ids=["c", "a"])
    assert candidates_for(binary, scene) == ["the lamp", "the red box"]
    anchored = _qa("closest_object_choice", "choice", choice="the cup", object_ids=["a", "b"])
    assert candidates_for(anchored, scene) == ["the cup", "the lamp"]
    assert candidates_for(_qa("distance", "quantitative", value=1.0, unit="m", truth=1.0), scene) == []
