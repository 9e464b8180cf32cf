"""Shard files: row round trip, fixed schema, atomic writes, manifest round trip and recount."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spatialvlm_core.dataset.shards import (
    ROW_SCHEMA,
    DroppedRow,
    Manifest,
    ShardRecord,
    atomic_write_parquet,
    atomic_write_text,
    check_writable,
    chunk,
    load_manifest,
    qa_to_row,
    row_to_qa,
    save_manifest,
)
from spatialvlm_core.types import QAPair

QA = QAPair(id="q1", image_id="a.png", qtype="distance", category="quantitative", kind="quantitative",
            question="How far?", answer="1.5 m", value=1.5, unit="m", truth=1.52, object_ids=["o1", "o2"],
            provenance={"template": 3, "rounding": {"step": 0.5}})  # fmt: skip
PRED = QAPair(id="q2", image_id="a.png", qtype="left_predicate", category="qualitative", kind="predicate",
              question="Is it left?", answer="No.", truth_bool=False)  # fmt: skip


def test_row_round_trip_and_fixed_schema(tmp_path: Path) -> None:
    rows = [qa_to_row(QA, "images/a.png", "a.png"), qa_to_row(PRED, "images/a.png", "a.png")]
    assert rows[0]["image"] == "images/a.png" and isinstance(rows[0]["provenance"], str)
    assert row_to_qa(rows[0]) == QA and row_to_qa(rows[1]) == PRED
    # a shard with only predicates still has float/list columns of the same types
    atomic_write_parquet(tmp_path / "p.parquet", rows[1:])
    atomic_write_parquet(tmp_path / "e.parquet", [])
    for name in ("p.parquet", "e.parquet"):
        assert pq.read_schema(tmp_path / name).remove_metadata() == ROW_SCHEMA
    assert pq.read_table(tmp_path / "p.parquet").to_pylist() == rows[1:]


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.parquet"
    atomic_write_text(target, "old")
    with pytest.raises((TypeError, ValueError, KeyError)):
        atomic_write_parquet(target, [{"id": object()}])  # not serialisable
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]  # no temp file left behind


def test_chunk_is_fixed_and_validated() -> None:
    assert chunk(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert chunk([], 3) == []
    with pytest.raises(ValueError, match="shard_size"):
        chunk([1], 0)


def test_check_writable(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "ds")
    assert (tmp_path / "new" / "ds").is_dir()
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        check_writable(tmp_path / "f")


def test_manifest_round_trip_and_recount(tmp_path: Path) -> None:
    m = Manifest(source="src", config={"seed": 1}, config_hash="h", inputs_hash="i", seed=1, backends={})
    m.discovery_dropped = [DroppedRow(image_id="z.txt", file="/z.txt", reason="not an image", stage="read")]
    for i, (qa, ok) in enumerate([(3, 2), (1, 1)]):
        m.shards[str(i)] = ShardRecord(index=i, parquet=f"p{i}", jsonl=f"j{i}", image_ids=["a", "b"], images_ok=ok,
                                       qa_pairs=qa, qa_by_type={"distance": qa}, timings_s={"ask": 0.5})  # fmt: skip
    m.shards["0"].dropped = [DroppedRow(image_id="b", file="/b", reason="bad", stage="reconstruct")]
    save_manifest(tmp_path, m)
    back = load_manifest(tmp_path)
    assert back is not None and back == m
    assert (back.counts.qa_pairs, back.counts.images_ok, back.counts.images_dropped) == (4, 3, 2)
    assert back.counts.qa_by_type == {"distance": 4} and back.timings_s["ask"] == 1.0
    assert [r.image_id for r in back.all_dropped()] == ["b", "z.txt"]
    assert (tmp_path / "dropped.jsonl").read_text().count("\n") == 2
    assert not back.shard_done(0, tmp_path)  # files listed but missing: redo the shard
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"cannot read .*manifest\.json"):
        load_manifest(tmp_path)
