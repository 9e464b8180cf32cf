"""Fault check: SIGKILL ``spatialvlm synth --workers 2`` and ``spatialvlm sim`` mid-run, re-run, compare.

For each kill moment: start the command in its own session, SIGKILL only its main process (what a user's
``kill -9`` or the OOM killer does), wait 2 s, list the processes of that session still alive (orphaned
workers), then re-run the same command to the end and compare every file with an uninterrupted run.

    .venv/bin/python -m evals.fault_resume                      # 200 scenes, 5 kills each for synth and sim
    .venv/bin/python -m evals.fault_resume --scenes 24 --kills 2 --shard-size 4

Kill moments are fractions of the uninterrupted run's wall time (spread over (0, 1)); each row also says how
far the run had got (shards in the manifest, scene folders) and which temporaries the kill left behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel

from spatialvlm_core.atomic import LOCK_NAME, is_temporary

SURVIVOR_WAIT_S = 2.0


class KillResult(BaseModel):
    """One kill and its re-run."""

    command: str  # "synth" or "sim"
    moment_s: float  # seconds after start when SIGKILL was sent (-1: the run finished first)
    done_at_kill: int  # shards in the manifest (synth) or scene folders (sim) when killed
    total: int
    temporaries_at_kill: int  # temp files/folders the kill left behind
    survivors: list[str]  # "pid cmdline" of the session's processes alive 2 s after the kill
    rerun_wrote: int  # shards / scenes the re-run wrote
    missing_before_rerun: int  # what the re-run should have written
    rerun_wrote_only_missing: bool
    temporaries_after: int
    identical: bool  # every file equal to the uninterrupted run's
    differing: list[str]  # up to 5 paths that differ (for the report)
    rerun_s: float


# --------------------------------------------------------------------------- processes
def spatialvlm(*args: str) -> list[str]:
    return [sys.executable, "-m", "spatialvlm_core.cli", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    root = str(Path(__file__).resolve().parents[1])  # the checkout, importable from the subprocess
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class Proc(NamedTuple):
    pid: int
    ppid: int
    sid: int
    cmd: str  # the command line, arguments joined by spaces


def live_processes() -> list[Proc]:
    """Every live process: not a zombie, and not exiting (the kernel empties cmdline while a process exits)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp session
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
        if fields[0] != "Z" and cmd:
            out.append(Proc(int(d.name), int(fields[1]), int(fields[3]), cmd))
    return out


def session_processes(sid: int) -> list[str]:
    """Live processes of session ``sid``, as "pid cmdline"."""
    return sorted(f"{p.pid} {p.cmd[:120]}" for p in live_processes() if p.sid == sid)


def run_to_end(argv: Sequence[str]) -> float:
    t = time.perf_counter()
    r = subprocess.run(list(argv), env=_env(), capture_output=True, text=True, check=False)  # noqa: S603
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def kill_at(
    argv: Sequence[str], when: Callable[[float], bool], timeout_s: float = 600.0
) -> tuple[float, list[str]]:
    """Start ``argv`` in a new session, SIGKILL its main process once ``when(elapsed)``; survivors 2 s later.

    Returns (elapsed at the kill or -1 if it finished first, survivors).
    """
    proc = subprocess.Popen(list(argv), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603
                            start_new_session=True)  # fmt: skip
    t0 = time.perf_counter()
    try:
        while proc.poll() is None:
            elapsed = time.perf_counter() - t0
            if when(elapsed) or elapsed > timeout_s:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                time.sleep(SURVIVOR_WAIT_S)
                return elapsed, session_processes(proc.pid)
            time.sleep(0.01)
        return -1.0, session_processes(proc.pid)
    finally:
        for line in session_processes(proc.pid):  # never leave anything behind, whatever the result
            os.kill(int(line.split()[0]), signal.SIGKILL)


# --------------------------------------------------------------------------- folders
def temporaries(root: Path) -> list[Path]:
    return [Path(d) / n for d, dirs, files in os.walk(root) for n in (*dirs, *files) if is_temporary(n)]


def _manifest_view(path: Path) -> dict[str, object]:
    """The manifest minus what legitimately differs between runs (times, versions, runner, last run)."""
    m = json.loads(path.read_text())
    shards = {k: {f: v for f, v in s.items() if f != "timings_s"} for k, s in m["shards"].items()}
    return {"config": m["config"], "counts": m["counts"], "complete": m["complete"], "shards": shards,
            "inputs_hash": m["inputs_hash"], "discovery_dropped": m["discovery_dropped"]}  # fmt: skip


def digest_tree(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file (the manifest by its run-independent content)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name == LOCK_NAME:
            continue
        rel = p.relative_to(root).as_posix()
        data = (
            json.dumps(_manifest_view(p), sort_keys=True).encode()
            if rel == "manifest.json"
            else p.read_bytes()
        )
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


def _differing(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:5]


# What a kill left finished: (finished unit names, units in all, the units the last run wrote or None to count
# the new names); a scene folder with its scene.json, or a shard in the manifest.
Progress = Callable[[Path], tuple[set[str], int, list[str] | None]]


def _shards_progress(out: Path) -> tuple[set[str], int, list[str] | None]:
    p = out / "manifest.json"
    if not p.is_file():
        return set(), 0, None
    m = json.loads(p.read_text())
    return set(m["shards"]), m["counts"]["shards_total"], [str(k) for k in m.get("last_run_shards", [])]


def _scenes_progress(scenes: int) -> Progress:
    def progress(out: Path) -> tuple[set[str], int, list[str] | None]:
        done = {d.name for d in out.glob("scene_*") if (d / "scene.json").is_file()} if out.is_dir() else set()
        return done, scenes, None

    return progress


# --------------------------------------------------------------------------- the two checks
Moment = float | Callable[[float], bool]  # seconds after the start, or a test on the elapsed seconds
Moments = Sequence[Moment] | Callable[[float], Sequence[Moment]]  # or: made from the clean run's wall time


def _moments(moments: Moments, clean_s: float) -> Sequence[Moment]:
    return moments(clean_s) if callable(moments) else moments


def fault_sim(
    work: Path, scenes: int, moments: Moments, size: str = "160x120"
) -> tuple[float, list[KillResult]]:
    """Clean ``spatialvlm sim`` run, then one killed + resumed run per moment; (clean wall s, results)."""
    argv = ["sim", "--scenes", str(scenes), "--size", size, "--seed", "0"]
    return _kill_and_resume("sim", argv, work, moments, _scenes_progress(scenes))


def fault_synth(work: Path, source: Path, moments: Moments, shard_size: int = 8, workers: int = 2,
                ) -> tuple[float, list[KillResult]]:  # fmt: skip
    """Clean ``spatialvlm synth --workers N`` run, then one killed + resumed run per moment."""
    argv = ["synth", "--source", str(source), "--workers", str(workers), "--shard-size", str(shard_size),
            "--no-progress"]  # fmt: skip
    return _kill_and_resume("synth", argv, work, moments, _shards_progress)


def _kill_and_resume(command: str, argv: list[str], work: Path, moments: Moments, progress: Progress,
                     ) -> tuple[float, list[KillResult]]:  # fmt: skip
    clean = work / f"{command}_clean"
    clean_s = run_to_end(spatialvlm(*argv, "--out", str(clean)))
    ref = digest_tree(clean)
    results = []
    for k, moment in enumerate(_moments(moments, clean_s)):
        out = work / f"{command}_kill{k}"
        when = moment if callable(moment) else (lambda t, m=moment: t >= m)
        t_kill, survivors = kill_at(spatialvlm(*argv, "--out", str(out)), when)
        before, _, _ = progress(out)
        temps = len(temporaries(out))
        rerun_s = run_to_end(spatialvlm(*argv, "--out", str(out)))
        after, total, last_run = progress(out)
        wrote = len(last_run) if last_run is not None else len(after - before)
        got = digest_tree(out)
        results.append(KillResult(
            command=command, moment_s=round(t_kill, 2), done_at_kill=len(before), total=total,
            temporaries_at_kill=temps, survivors=survivors, rerun_wrote=wrote, missing_before_rerun=total - len(before),
            rerun_wrote_only_missing=wrote == total - len(before), temporaries_after=len(temporaries(out)),
            identical=got == ref, differing=_differing(got, ref), rerun_s=round(rerun_s, 2),
        ))  # fmt: skip
    return clean_s, results


def spread(kills: int) -> Callable[[float], list[Moment]]:
    """``kills`` moments spread over the clean run: at 1/(k+1), 2/(k+1), ... of its wall time."""
    return lambda clean_s: [round(clean_s * (i + 1) / (kills + 1), 2) for i in range(kills)]


def _table(title: str, clean_s: float, rows: Sequence[KillResult]) -> str:
    lines = [
        f"{title}: uninterrupted run {clean_s:.1f} s",
        "  kill@s  done/total  tmp-left  alive-2s  rerun-wrote  only-missing  tmp-after  identical  rerun-s",
    ]
    for r in rows:
        lines.append(f"  {r.moment_s:6.2f}  {r.done_at_kill:4d}/{r.total:<5d}  {r.temporaries_at_kill:8d}  "
                     f"{len(r.survivors):8d}  {r.rerun_wrote:11d}  {r.rerun_wrote_only_missing!s:>12}  "
                     f"{r.temporaries_after:9d}  {r.identical!s:>9}  {r.rerun_s:7.1f}")  # fmt: skip
        lines += [f"      survivor: {s}" for s in r.survivors] + [f"      differs: {d}" for d in r.differing]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=200)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--shard-size", type=int, default=8)
    ap.add_argument("--size", default="160x120")
    ap.add_argument("--work", default=None, help="scratch folder (default: a new temp folder)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="fault_resume_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"scratch: {work}", flush=True)

    # each clean run gives the time scale the kills are spread over
    sim_clean_s, sim_rows = fault_sim(work, args.scenes, spread(args.kills), args.size)
    print(_table("sim", sim_clean_s, sim_rows), flush=True)

    source = work / "sim_clean"  # the synth source: the sim's scene folders (no download)
    synth_clean_s, synth_rows = fault_synth(work, source, spread(args.kills), args.shard_size)
    print(_table(f"synth --workers 2 (shard size {args.shard_size})", synth_clean_s, synth_rows), flush=True)

    rows = sim_rows + synth_rows
    ok = all(r.identical and not r.survivors and r.rerun_wrote_only_missing and not r.temporaries_after
             for r in rows)  # fmt: skip
    print(f"{sum(r.identical for r in rows)}/{len(rows)} identical, "
          f"{sum(not r.survivors for r in rows)}/{len(rows)} with no process alive 2 s after the kill, "
          f"{sum(r.rerun_wrote_only_missing for r in rows)}/{len(rows)} re-runs wrote only what was missing: "
          f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps([r.model_dump() for r in rows], indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
