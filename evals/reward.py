"""Dense reward annotation on held-out synthetic trajectories with exact gripper-object distances.

    .venv/bin/python -m evals.reward [--n 30] [--frames 20] [--size 160x120] [--tool learned|pipeline|oracle]
        [--model DIR] [--plot PNG] [--report]

Tools: ``learned`` is the SpatialVLM (the shipped model, or ``--model DIR``) answering from the RGB frame alone,
the paper's robot use; ``pipeline`` reconstructs each frame from ground-truth masks and sensor depth; ``oracle``
reads the exact scene. Prints: median Spearman correlation between annotated and true distance per trajectory,
the share of (successful, failed) trajectory pairs ranked correctly by total reward (per shaping), the
missing-frame rate (with why frames were missing: declined questions or images, unparsed answers) and annotation
speed (frames/s, tool calls only; rendering is timed separately). ``--report`` writes
``evals/reports/reward_<tool>.md`` and a per-trajectory plot of annotated vs true distance beside it.

Trajectory seeds start at 10_000, away from the seeds tests use and from the manipulation training frames'
(``spatialvlm_core/sim/manipulation.py``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

from evals.report import save_figure
from spatial_agent.reward import (
    RewardAnnotator,
    RewardConfig,
    RewardTrace,
    learned_tool,
    oracle_tool,
    pipeline_tool,
    spearman,
)
from spatial_agent.reward_shaping import SHAPINGS
from spatialvlm_core.sim.trajectories import Trajectory, generate_trajectory

KIND_MIX = ("success", "fail", "wander")
SEED0 = 10_000
TOOLS = ("learned", "pipeline", "oracle")
REPORTS = Path(__file__).parent / "reports"


def _tool(tool_name: str, model: str | None) -> Any:
    if tool_name == "learned":
        return learned_tool(model)
    if tool_name == "pipeline":
        return pipeline_tool()
    if tool_name == "oracle":
        return oracle_tool()
    raise ValueError(f"--tool must be one of {TOOLS}, got {tool_name!r}")


def _why_missing(answer: str) -> str:
    """A short class of a missing answer's text (what the tool said instead of a length)."""
    low = answer.lower()
    if "cannot ground" in low:
        return "question declined (object not in the model's classes)"
    if "unlike the simulator" in low or "domain score" in low:
        return "image declined (out of the training domain)"
    if "cannot find" in low:
        return "object not found"
    if low.startswith("i can't answer"):
        return "answer rejected (spatialvlm_core.model.parsing.checked_answer)"
    return "no length in the answer"


def run(n: int = 30, frames: int = 20, size: tuple[int, int] = (160, 120), tool_name: str = "pipeline",
        smoothing: str = "median_ema", model: str | None = None) -> dict[str, Any]:
    """Annotate ``n`` held-out trajectories; returns the metrics and, under ``"traces"``, one record per
    trajectory (kind, success, true and annotated distances, Spearman)."""
    if tool_name not in TOOLS:
        raise ValueError(f"tool must be one of {TOOLS}, got {tool_name!r}")
    t0 = time.perf_counter()
    trajs: list[Trajectory] = [generate_trajectory(SEED0 + i, KIND_MIX[i % 3], n_frames=frames, size=size)
                               for i in range(n)]  # fmt: skip
    render_s = time.perf_counter() - t0
    shared = _tool(tool_name, model) if tool_name == "learned" else None  # the model loads once
    rhos: list[float] = []
    totals: dict[str, list[tuple[bool, float]]] = {s: [] for s in SHAPINGS}
    n_missing = n_frames = 0
    why: dict[str, int] = {}
    tool_s = 0.0
    traces: list[dict[str, Any]] = []
    for tr in trajs:
        tool = shared if shared is not None else _tool(tool_name, model)
        trace: RewardTrace = RewardAnnotator(tool, RewardConfig(smoothing=smoothing)).annotate(  # type: ignore[arg-type]
            tr.as_frames(), tr.task)
        tool_s += trace.seconds
        n_missing += sum(trace.missing)
        n_frames += trace.n_frames
        for miss, text in zip(trace.missing, trace.answers, strict=True):
            if miss:
                k = _why_missing(text)
                why[k] = why.get(k, 0) + 1
        rho = spearman(trace.distances, tr.true_distances)
        if rho is not None:
            rhos.append(rho)
        for s in SHAPINGS:
            vals = [r for r in trace.rewards[s] if r is not None]
            totals[s].append((tr.success, sum(vals) if vals else float("-inf")))
        traces.append({"id": tr.trajectory_id, "kind": tr.kind, "success": tr.success, "question": trace.question,
                       "truth": tr.true_distances, "annotated": trace.distances, "smoothed": trace.smoothed,
                       "spearman": rho, "example_answer": trace.answers[0]})  # fmt: skip
    pair_acc: dict[str, float] = {}
    for s, rows in totals.items():
        good = [t for ok, t in rows if ok]
        bad = [t for ok, t in rows if not ok]
        pairs = list(itertools.product(good, bad))
        pair_acc[s] = sum(1.0 if g > b else 0.5 if g == b else 0.0 for g, b in pairs) / max(len(pairs), 1)
    return {"trajectories": n, "frames": n_frames, "median_spearman": statistics.median(rhos) if rhos else float("nan"),
            "min_spearman": min(rhos) if rhos else float("nan"), "n_spearman": len(rhos),
            **{f"pair_acc_{s}": v for s, v in pair_acc.items()},
            "missing_rate": n_missing / max(n_frames, 1), "missing_why": why,
            "frames_per_s": n_frames / max(tool_s, 1e-9), "render_frames_per_s": n_frames / max(render_s, 1e-9),
            "traces": traces}  # fmt: skip


def plot_traces(traces: list[dict[str, Any]], path: str | Path, title: str) -> Path:
    """One panel per trajectory: the tool's per-frame distance (dots), its smoothed curve and the truth (dashed)."""
    from evals.report import _pyplot

    plt = _pyplot()
    cols = 6
    rows = max(1, math.ceil(len(traces) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.0 * rows), squeeze=False, sharex=True)
    nan = float("nan")
    for ax, t in zip(axes.flat, traces, strict=False):
        x = range(len(t["truth"]))
        ax.plot(x, t["truth"], "k--", lw=1.2, label="true")
        ax.plot(x, [nan if v is None else v for v in t["annotated"]], "o", ms=2.5, label="annotated")
        ax.plot(x, [nan if v is None else v for v in t["smoothed"]], "-", lw=1, label="smoothed")
        rho = "n/a" if t["spearman"] is None else f"{t['spearman']:.2f}"
        ax.set_title(f"{t['id']} rho {rho}", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(traces):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=6)
    fig.supxlabel("frame", fontsize=8)
    fig.supylabel("gripper-object distance (m)", fontsize=8)
    return save_figure(fig, path, suptitle=title, dpi=90)


def _num(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{v:.3f}"


def report_markdown(r: dict[str, Any], args: dict[str, Any], plot: str | None) -> str:
    from evals.report import markdown_table

    rows = [["median Spearman (annotated vs true distance)", _num(r["median_spearman"])],
            ["min Spearman", _num(r["min_spearman"])],
            ["trajectories with a Spearman", f"{r['n_spearman']} / {r['trajectories']}"]]
    rows += [[f"success > fail pairs ranked correctly ({s})", f"{100 * r[f'pair_acc_{s}']:.1f}%"] for s in SHAPINGS]
    rows += [["missing-frame rate", f"{100 * r['missing_rate']:.1f}%"],
             ["annotation speed (frames/s)", f"{r['frames_per_s']:.1f}"]]
    lines = [f"# Dense reward from {args['tool']!r}: per-frame gripper-object distance", "",
             f"Command: `python -m evals.reward {' '.join(args['argv'])}`", "",
             f"{r['trajectories']} held-out trajectories ({'/'.join(KIND_MIX)}; seeds {SEED0}..{SEED0 + r['trajectories'] - 1}), "
             f"{r['frames']} frames. Question asked per frame: \"{r['traces'][0]['question'] if r['traces'] else ''}\" "
             "(the task's object). Bar for the learned tool: median Spearman >= 0.8, success/fail ranked >= 90%.", "",
             markdown_table(["metric", "value"], rows)]  # fmt: skip
    if r["missing_why"]:
        lines += ["", "Why frames were missing:", "",
                  markdown_table(["reason", "frames"], sorted(r["missing_why"].items(), key=lambda kv: -kv[1]))]
    lines += ["", "Per trajectory:", "",
              markdown_table(["trajectory", "kind", "Spearman", "example answer"],
                             [[t["id"], t["kind"], "-" if t["spearman"] is None else f"{t['spearman']:.2f}",
                               t["example_answer"][:90].replace("|", "/")] for t in r["traces"]])]
    if plot:
        lines += ["", f"![annotated vs true distance]({Path(plot).name})"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--size", default="160x120")
    ap.add_argument("--tool", choices=TOOLS, default="pipeline")
    ap.add_argument("--model", default=None, help="SpatialVLM checkpoint directory for --tool learned "
                                                  "(default: the shipped model)")
    ap.add_argument("--smoothing", default="median_ema")
    ap.add_argument("--plot", type=Path, default=None, help="PNG of annotated vs true distance per trajectory")
    ap.add_argument("--report", action="store_true",
                    help="write evals/reports/reward_<tool>.md and the per-trajectory plot beside it")
    a = ap.parse_args(argv)
    if a.model is not None and a.tool != "learned":
        ap.error("--model needs --tool learned")
    w, h = (int(v) for v in a.size.lower().split("x"))
    r = run(a.n, a.frames, (w, h), a.tool, a.smoothing, a.model)
    print(f"reward eval: {r['trajectories']} trajectories ({'/'.join(KIND_MIX)}), {r['frames']} frames, "
          f"{w}x{h}, tool={a.tool}" + (f" ({a.model})" if a.model else ""))
    print(f"  median Spearman(annotated, true distance): {_num(r['median_spearman'])} "
          f"(min {_num(r['min_spearman'])}, over {r['n_spearman']} trajectories)")
    for s in SHAPINGS:
        print(f"  success>fail pairs ranked correctly by total {s} reward: {r[f'pair_acc_{s}']:.1%}")
    print(f"  missing-frame rate: {r['missing_rate']:.1%}"
          + "".join(f"; {k}: {v}" for k, v in sorted(r["missing_why"].items(), key=lambda kv: -kv[1])))
    print(f"  annotation speed: {r['frames_per_s']:.1f} frames/s (rendering {r['render_frames_per_s']:.1f} frames/s)")
    plot = a.plot or (REPORTS / f"reward_{a.tool}.png" if a.report else None)
    title = f"tool={a.tool}{f' ({a.model})' if a.model else ''}: median Spearman {_num(r['median_spearman'])}"
    if plot is not None:
        print(f"  plot: {plot_traces(r['traces'], plot, title)}")
    if a.report:
        md = REPORTS / f"reward_{a.tool}.md"
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(report_markdown(r, {"tool": a.tool, "argv": sys.argv[1:] if argv is None else argv},
                                      str(plot) if plot else None))
        print(f"  report: {md}")


if __name__ == "__main__":
    main()
