"""Resume under faults: SIGKILL/SIGTERM mid-run, orphaned workers, stale temporaries, render determinism.

The full check (200 scenes, 5 kills each for ``synth --workers 2`` and ``sim``) is ``python -m evals.fault_resume``;
here the same code runs small, with kill moments chosen by what the run has done (not by the clock), so each
moment is hit on a slow machine too.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evals.fault_resume import digest_tree, fault_sim, fault_synth, live_processes, temporaries
from spatialvlm_core.atomic import LOCK_NAME, atomic_write_text, remove_stale_temporaries, single_writer
from spatialvlm_core.pipeline import PipelineConfig, RunOptions, Stages, synth_dataset
from spatialvlm_core.types import Box3D, Frame, Object3D, OrientedBox3D, QAPair, Scene3D

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc (Linux)")


# --------------------------------------------------------------------------- temporaries and the lock
def test_stale_temporaries_are_removed_and_nothing_else(tmp_path: Path) -> None:
    keep = [tmp_path / "scene_0000" / "rgb.png", tmp_path / "data" / "train-00000-of-00001.parquet",
            tmp_path / ".hidden", tmp_path / "notes.tmp"]  # fmt: skip
    stale = [tmp_path / ".scene_0001.tmp-ab12cd_3", tmp_path / ".scene_0002.old-zz99yy88",
             tmp_path / "data" / ".train-00000-of-00001.parquet.k2j3h4g5.tmp", tmp_path / ".write-probe.abcdefgh"]  # fmt: skip
    for p in keep + stale[2:]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    for d in stale[:2]:
        (d / "inner").mkdir(parents=True)
        (d / "inner" / "rgb.png").write_text("half")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)
    # non-recursive: only the folder itself (where sim scene folders are written)
    nested = tmp_path / "data" / ".x.json.abcdefgh.tmp"
    nested.write_text("x")
    assert remove_stale_temporaries(tmp_path, recursive=False) == [] and nested.exists()


def test_one_writer_per_folder(tmp_path: Path) -> None:
    with single_writer(tmp_path) as lock:
        assert lock.name == LOCK_NAME and lock.is_file()
        with pytest.raises(ValueError, match="being written by another process"), single_writer(tmp_path):
            pass
    assert not (tmp_path / LOCK_NAME).exists()  # removed on a normal exit
    with single_writer(tmp_path):  # and free again
        atomic_write_text(tmp_path / "a.txt", "a")
    assert (tmp_path / "a.txt").read_text() == "a"


# --------------------------------------------------------------------------- render determinism
def test_a_scene_renders_the_same_whatever_was_rendered_before() -> None:
    sim = pytest.importorskip("spatialvlm_core.sim")
    from spatialvlm_core.sim.render import Renderer

    cfg = sim.SimConfig(width=96, height=72, room="living_room")
    with Renderer(96, 72) as fresh:
        alone = sim.generate_scene(9, cfg, renderer=fresh).rgb
    with Renderer(96, 72) as shared:
        for seed in (8, 3):  # other rooms first: different floor sizes, the same floor texture
            sim.generate_scene(seed, cfg, renderer=shared)
        after = sim.generate_scene(9, cfg, renderer=shared).rgb
    assert np.array_equal(alone, after), f"{int((alone != after).any(-1).sum())} pixels differ"


# --------------------------------------------------------------------------- SIGTERM with a process pool
def _reconstruct(frame: Frame) -> Scene3D:
    m = float(frame.rgb.mean()) / 255.0
    objs = [Object3D(id=f"o{k}", name=n, caption=f"the {n}", aabb=Box3D(center=(m + k, 0.0, 0.4), size=(0.5, 0.5, 0.8)),
                     obb=OrientedBox3D(center=(m + k, 0.0, 0.4), size=(0.5, 0.5, 0.8)), centroid=(m + k, 0.0, 0.4))
            for k, n in enumerate(("chair", "table"))]  # fmt: skip
    return Scene3D(scene_id=frame.image_id, objects=objs, canonical=True)


def _ask(scene: Scene3D, seed: int) -> list[QAPair]:
    a, b = scene.objects
    d = round(float(np.linalg.norm(np.subtract(a.centroid, b.centroid))) + seed % 97 / 1000, 3)
    return [QAPair(id=f"{scene.scene_id}-0", image_id="?", qtype="distance", category="quantitative",
                   kind="quantitative", question=f"How far is {a.caption} from {b.caption}?", answer=f"{d} m",
                   value=d, unit="m", truth=d, object_ids=[a.id, b.id])]  # fmt: skip


def plain_stages(config: PipelineConfig) -> Stages:
    return Stages(reconstruct=_reconstruct, ask=_ask)


def _term_parent_once_a_shard_is_saved(frame: Frame) -> Scene3D:
    """In a worker: on image 6 (4th shard) wait until the manifest lists a shard, then SIGTERM the parent."""
    if frame.image_id == "img06.png":
        manifest = Path(os.environ["RESUME_FAULT_OUT"]) / "manifest.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if manifest.is_file() and json.loads(manifest.read_text())["shards"]:
                break
            time.sleep(0.05)
        os.kill(os.getppid(), signal.SIGTERM)
        time.sleep(400)  # the parent must stop us; finishing this shard would hide that it did not
    return _reconstruct(frame)


def terming_stages(config: PipelineConfig) -> Stages:
    return Stages(reconstruct=_term_parent_once_a_shard_is_saved, ask=_ask)


def _pool_workers() -> list[int]:
    """Our live pool worker processes (spawned children running multiprocessing's spawn_main)."""
    return [p.pid for p in live_processes() if p.ppid == os.getpid() and "spawn_main" in p.cmd]


@linux_only
def test_sigterm_stops_the_pool_and_a_rerun_finishes_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(1)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).save(src / f"img{i:02d}.png")
    cfg = PipelineConfig(depth="none", shard_size=2, seed=5)
    pool = RunOptions(workers=2, progress=False)
    synth_dataset(
        src, tmp_path / "clean", cfg, options=RunOptions(progress=False), stages_factory=plain_stages
    )

    out = tmp_path / "ds"
    monkeypatch.setenv("RESUME_FAULT_OUT", str(out))
    t = time.monotonic()
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        synth_dataset(src, out, cfg, options=pool, stages_factory=terming_stages)
    assert time.monotonic() - t < 300, "the parent waited for the worker's shard instead of stopping it"
    assert _pool_workers() == []  # stopped and reaped, not orphaned
    man = json.loads((out / "manifest.json").read_text())
    saved = set(man["shards"])
    assert saved and "3" not in saved and not man["complete"] and man["counts"]["shards_done"] == len(saved)
    assert not (out / LOCK_NAME).exists()

    m = synth_dataset(src, out, cfg, options=pool, stages_factory=plain_stages)
    assert m.complete and sorted(m.last_run_shards) == sorted(set(range(5)) - {int(k) for k in saved})
    assert digest_tree(out) == digest_tree(tmp_path / "clean") and not temporaries(out)


# --------------------------------------------------------------------------- SIGKILL of the real commands
def _count(pattern: str, root: Path) -> int:
    return len(list(root.glob(pattern))) if root.is_dir() else 0


@linux_only
@pytest.mark.slow
def test_sigkill_sim_and_synth_then_resume(tmp_path: Path) -> None:
    pytest.importorskip("spatialvlm_core.sim")
    n = 12
    sim_moments = [  # while a scene folder is half-written (or after 3 scenes), and late (9 of 12 done)
        lambda _t: _count(".scene_*.tmp-*", tmp_path / "sim_kill0") > 0 or _count("scene_*", tmp_path / "sim_kill0") >= 3,
        lambda _t: _count("scene_*", tmp_path / "sim_kill1") >= 9,
    ]  # fmt: skip
    _, sim_rows = fault_sim(tmp_path, n, sim_moments, size="96x72")

    def workers_up(out: Path):  # both workers started (so orphans are possible), no shard finished yet
        return lambda _t: len(_child_pids_in_sessions_writing(out)) >= 2

    def first_shard(out: Path):
        return lambda _t: (
            (out / "manifest.json").is_file()
            and bool(json.loads((out / "manifest.json").read_text())["shards"])
        )

    synth_moments = [workers_up(tmp_path / "synth_kill0"), first_shard(tmp_path / "synth_kill1")]
    _, synth_rows = fault_synth(tmp_path, tmp_path / "sim_clean", synth_moments, shard_size=2)

    for r in sim_rows + synth_rows:
        assert r.moment_s > 0, f"{r.command} finished before the kill moment"
        assert r.survivors == [], f"{r.command}: processes alive 2 s after SIGKILL: {r.survivors}"
        assert r.identical, f"{r.command}: resumed output differs from a clean run: {r.differing}"
        assert r.rerun_wrote_only_missing, (
            f"{r.command}: re-run wrote {r.rerun_wrote}, {r.missing_before_rerun} missing"
        )
        assert r.temporaries_after == 0
    assert synth_rows[1].done_at_kill >= 1  # the manifest advanced shard by shard, before the run's end
    assert sim_rows[1].done_at_kill >= 9


def _child_pids_in_sessions_writing(out: Path) -> list[int]:
    """Pool workers of the ``synth`` run writing ``out``: spawned python processes whose parent names ``out``."""
    procs = live_processes()
    writing = {p.pid for p in procs if str(out) in p.cmd}
    return [p.pid for p in procs if "spawn_main" in p.cmd and p.ppid in writing]
