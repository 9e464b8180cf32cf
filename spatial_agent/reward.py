"""Dense reward annotation: ask a spatial tool, per frame, how far the gripper is from the task's object.

The paper's robotics use (SpatialVLM, Sec. 5.3): describe the task in words ("pick up the mug"), ask every frame
"What is the distance between the gripper and the mug?" and turn the answers into a smooth reward.

    annot = RewardAnnotator(tool)                      # any SpatialTool; ask_batch is used when present
    trace = annot.annotate(frames, task="pick up the mug")
    trace.distances   # metres per frame, None where the gripper or the object was not found (trace.missing)
    trace.reward      # the configured shaping on the smoothed curve (bridged frames stay flagged)

Tools for synthetic trajectories: ``oracle_tool()`` reads each frame's exact ``Scene3D``; ``pipeline_tool()``
reconstructs each frame from its pixels (ground-truth masks + sensor depth -> lifted boxes), so distances come
from the image pipeline rather than from the ground-truth numbers. ``learned_tool()`` is the learned SpatialVLM,
which sees the RGB image only (the paper's setting).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spatial_agent.reward_io import load_frames
from spatial_agent.reward_shaping import SHAPINGS, SMOOTHINGS, Shaping, Smoothing, shape, smooth
from spatial_agent.tools import GeometricTool, with_article
from spatialvlm_core.atomic import atomic_write_text
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.types import Answer, Frame, Scene3D
from spatialvlm_core.units import to_meters

# --------------------------------------------------------------------------- task parsing
# Verb phrases whose object is the thing the gripper must reach, most specific first.
_TASK_PATTERNS: tuple[str, ...] = (
    r"(?:move|put|place|bring|carry|push|slide|drag|drop|stack|transfer|set|take)\s+(?P<obj>.+?)\s+"
    r"(?:to|onto|on|into|in|inside|next to|near|towards|toward|beside|under|over|off|away|from|back)\b.*",
    r"pick\s+(?P<obj>.+?)\s+up\b.*",
    r"pick\s+up\s+(?P<obj>.+)",
    r"(?:reach|go|move|get)\s+(?:for|towards|toward|to|over to)\s+(?P<obj>.+)",
    r"(?:grasp|grab|grip|lift|hold|touch|approach|fetch|get|take|open|close|push|press|pour|reach|move|"
    r"pick|retrieve|collect|hand me|give me|find)\s+(?P<obj>.+)",
)
_LEADING = re.compile(r"^(?:please\s+|robot,?\s+|now\s+|then\s+|try to\s+|can you\s+)+", re.I)


def parse_task(task: str) -> str:
    """The object phrase a task is about, with an article: "pick up the red mug" -> "the red mug".

    Raises ValueError (naming the task) when no object can be found.
    """
    if not isinstance(task, str) or not task.strip():
        raise ValueError("task must be a non-empty sentence such as 'pick up the mug'")
    text = _LEADING.sub("", task.strip().rstrip(".!?").strip()).strip()
    low = text.lower()
    for pat in _TASK_PATTERNS:
        m = re.fullmatch(pat, low)
        if m:
            obj = m.group("obj").strip()
            # "pick up the mug from the table" -> "the mug"
            obj = re.split(r"\s+(?:from|off|on top of|with|using|and then|then|and)\s+", obj)[0]
            obj = re.sub(r"\s+(?:up|please|carefully|slowly|quickly)$", "", obj).strip(" ,")
            if obj and obj not in ("it", "up", "the", "a"):
                return with_article(obj)
    words = re.findall(r"[a-z][a-z\- ]*", low)
    if words and len(low.split()) <= 4:  # a bare object phrase ("the mug")
        return with_article(low)
    raise ValueError(f"cannot find the object in task {task!r}; phrase it like 'pick up the mug' or "
                     "'move the cup to the plate'")


def distance_question(target: str, effector: str = "gripper") -> str:
    return f"What is the distance between {with_article(effector)} and {with_article(target)}?"


# --------------------------------------------------------------------------- values
class RewardConfig(BaseModel):
    """How distances become a reward. ``reward_from="smoothed"`` shapes the smoothed (bridged) curve."""

    model_config = ConfigDict(extra="forbid")

    shaping: Shaping = "progress"
    gamma: float = Field(0.99, gt=0, le=1)  # potential-based shaping discount
    smoothing: Smoothing = "median_ema"
    median_window: int = Field(3, ge=1)
    ema_alpha: float = Field(0.6, gt=0, le=1)
    savgol_window: int = Field(5, ge=3)
    savgol_order: int = Field(2, ge=0)
    reward_from: str = Field("smoothed", pattern="^(smoothed|raw)$")
    effector: str = "gripper"  # what the question calls the robot's hand
    batch_size: int = Field(16, ge=1)


class RewardTrace(BaseModel):
    """Per-frame distances (metres), flags and rewards for one trajectory."""

    model_config = ConfigDict(extra="forbid")

    task: str
    target: str  # object phrase parsed from the task
    question: str
    tool: str
    config: RewardConfig
    frame_ids: list[str]
    unit: str = "m"
    distances: list[float | None]  # raw tool answers in metres; None = missing
    missing: list[bool]  # the tool did not find the gripper or the object (or gave no length)
    answers: list[str]  # the tool's text per frame
    smoothed: list[float | None]  # median + EMA / Savitzky-Golay over the bridged curve
    bridged: list[bool]  # smoothed value interpolated across a missing frame
    rewards: dict[str, list[float | None]]  # every shaping, on the curve named by config.reward_from
    reward: list[float | None]  # config.shaping
    total_reward: float | None  # sum of ``reward`` over the frames that have one
    missing_rate: float
    seconds: float  # wall time of the tool calls
    provenance: dict[str, Any] = Field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.frame_ids)

    @property
    def frames_per_second(self) -> float:
        return self.n_frames / self.seconds if self.seconds > 0 else float("inf")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON atomically (temporary file + rename)."""
        return atomic_write_text(path, self.model_dump_json(indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RewardTrace:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"reward file not found: {p}")
        try:
            return cls.model_validate_json(p.read_text())
        except ValueError as e:
            raise ValueError(f"{p}: not a valid reward trace ({e})") from e


def answer_meters(ans: Answer) -> float | None:
    """The answer's length in metres, or None when it states no usable length (not found, no unit, negative)."""
    m = ans.meters
    if m is None and ans.value is not None and ans.unit:
        try:
            m = to_meters(ans.value, ans.unit)
        except ValueError:
            return None
    if m is None or not math.isfinite(m) or m < 0:
        return None
    return float(m)


# --------------------------------------------------------------------------- annotator
class RewardAnnotator:
    """Per-frame gripper-object distances from a spatial tool, turned into a shaped, smoothed reward.

    ``pass_frames``: hand ``Frame`` inputs to the tool as is (geometric tools reconstruct from them) or as rgb
    arrays (text tools); default: as is for ``GeometricTool`` and tools with ``accepts_frames = True``.
    """

    def __init__(self, tool: Any, config: RewardConfig | None = None, pass_frames: bool | None = None) -> None:
        if not (hasattr(tool, "ask_batch") or hasattr(tool, "ask")):
            raise TypeError(f"{type(tool).__name__} has neither ask(image, question) nor ask_batch(images, questions)")
        self.tool = tool
        self.config = config or RewardConfig()
        if pass_frames is None:
            pass_frames = isinstance(tool, GeometricTool) or bool(getattr(tool, "accepts_frames", False))
        self.pass_frames = pass_frames

    def _image(self, item: Any) -> Any:
        if isinstance(item, Frame) and not self.pass_frames:
            return item.rgb
        return item

    def _ask_all(self, images: list[Any], question: str) -> list[Answer]:
        out: list[Answer] = []
        bs = self.config.batch_size
        batch_fn = getattr(self.tool, "ask_batch", None)
        if batch_fn is None:  # a VLMTool wrapping a batched model: batch through the model
            batch_fn = getattr(getattr(self.tool, "vlm", None), "ask_batch", None)
        for s in range(0, len(images), bs):
            chunk = images[s:s + bs]
            if callable(batch_fn):
                got = list(batch_fn(chunk, [question] * len(chunk)))
                if len(got) != len(chunk):
                    raise ValueError(f"tool {self._tool_name()} returned {len(got)} answers for {len(chunk)} frames")
            else:
                got = [self.tool.ask(im, question) for im in chunk]
            for a in got:
                if not isinstance(a, Answer):
                    raise TypeError(f"tool {self._tool_name()} returned {type(a).__name__}, expected Answer")
            out += got
        return out

    def _tool_name(self) -> str:
        return str(getattr(self.tool, "name", None) or getattr(self.tool, "source", None) or type(self.tool).__name__)

    def annotate(self, frames: Any, task: str, *, target: str | None = None, max_frames: int | None = None,
                 stride: int = 1) -> RewardTrace:
        """Annotate ``frames`` (images, a folder, a trajectory folder or a video) for ``task``.

        ``target`` overrides the object phrase parsed from the task.
        """
        cfg = self.config
        phrase = with_article(target) if target else parse_task(task)
        question = distance_question(phrase, cfg.effector)
        items, ids = load_frames(frames, max_frames=max_frames, stride=stride)
        if not items:
            raise ValueError("no frames to annotate")
        t0 = time.perf_counter()
        answers = self._ask_all([self._image(it) for it in items], question)
        seconds = time.perf_counter() - t0
        dists = [answer_meters(a) for a in answers]
        missing = [d is None for d in dists]
        smoothed, bridged = smooth(dists, cfg.smoothing, median_window=cfg.median_window, ema_alpha=cfg.ema_alpha,
                                   savgol_window=cfg.savgol_window, savgol_order=cfg.savgol_order)
        basis = smoothed if cfg.reward_from == "smoothed" else dists
        rewards = {s: shape(basis, s, cfg.gamma) for s in SHAPINGS}
        reward = rewards[cfg.shaping]
        known = [r for r in reward if r is not None]
        return RewardTrace(
            task=task, target=phrase, question=question, tool=self._tool_name(), config=cfg, frame_ids=ids,
            distances=dists, missing=missing, answers=[a.text for a in answers], smoothed=smoothed, bridged=bridged,
            rewards=rewards, reward=reward, total_reward=float(sum(known)) if known else None,
            missing_rate=float(np.mean(missing)), seconds=seconds,
            provenance={"tool": self._tool_name(), "n_frames": len(items), "stride": stride,
                        "source": str(frames) if isinstance(frames, str | os.PathLike) else type(frames).__name__},
        )  # fmt: skip


# --------------------------------------------------------------------------- tools for synthetic frames
def _frame_of(image: Any) -> Frame:
    if not isinstance(image, Frame) or image.ground_truth is None:
        raise ValueError("this tool needs synthetic Frames with ground truth (e.g. Trajectory.as_frames() or a "
                         "trajectory folder)")
    return image


def oracle_tool() -> GeometricTool:
    """Answers from each frame's exact ``Scene3D`` (objects hidden in the frame are not found)."""

    def scene(image: Any) -> Scene3D:
        gt = _frame_of(image).ground_truth
        assert gt is not None
        return gt.scene

    tool = GeometricTool(reconstruct=scene)
    tool.name = "geometric:oracle"
    return tool


def pipeline_tool(segmenter: str = "ground-truth", depth: str = "sensor", detector: str = "ground-truth") -> GeometricTool:
    """Answers from ``spatialvlm_core.reconstruct.reconstruct`` of each frame (masks -> sensor depth -> 3D boxes)."""
    def scene(image: Any) -> Scene3D:
        from spatialvlm_core.reconstruct import reconstruct  # scipy (~0.25 s): keeps --help fast

        return reconstruct(_frame_of(image), detector=detector, segmenter=segmenter, depth=depth)

    tool = GeometricTool(reconstruct=scene)
    tool.name = f"geometric:reconstruct({detector},{segmenter},{depth})"
    return tool


def learned_tool(model: str | os.PathLike[str] | None = None) -> Any:
    """The learned SpatialVLM (the shipped model, or the checkpoint directory ``model``): answers from the RGB
    image alone (no depth, no masks). It declines questions naming objects it was not trained on and images
    outside its training domain; such frames come back missing."""
    return SpatialVLM.load(model if model is not None else "default")  # used directly: it has ask_batch


# --------------------------------------------------------------------------- metrics and plot
def spearman(a: Sequence[float | None], b: Sequence[float | None]) -> float | None:
    """Spearman rank correlation over the positions where both are known (None when < 3 pairs or constant)."""
    from scipy.stats import spearmanr  # scipy.stats (~0.5 s): only for the report

    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if len(pairs) < 3:
        return None
    xs, ys = zip(*pairs, strict=True)
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    r = float(spearmanr(xs, ys).statistic)
    return r if math.isfinite(r) else None


def plot_trace(trace: RewardTrace, path: str | os.PathLike[str], truth: Sequence[float] | None = None) -> Path:
    """Distance (raw, smoothed, truth) and reward over time; missing frames shaded. matplotlib Agg."""
    import matplotlib  # heavy: only when plotting; Agg before pyplot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(trace.n_frames)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    raw = [np.nan if d is None else d for d in trace.distances]
    sm = [np.nan if d is None else d for d in trace.smoothed]
    ax1.plot(t, raw, "o", ms=4, label="tool answer")
    ax1.plot(t, sm, "-", label="smoothed")
    if truth is not None:
        ax1.plot(t[: len(truth)], truth, "k--", label="ground truth")
    for ax in (ax1, ax2):
        for i in np.nonzero(trace.missing)[0]:
            ax.axvspan(i - 0.5, i + 0.5, color="0.85", lw=0)
    ax1.set_ylabel(f"distance ({trace.unit})")
    ax1.set_title(f"{trace.task!r}: {trace.question}", fontsize=9)
    ax1.legend(fontsize=8)
    for name, values in trace.rewards.items():
        ax2.plot(t, [np.nan if r is None else r for r in values], lw=2 if name == trace.config.shaping else 1,
                 label=name + (" (reward)" if name == trace.config.shaping else ""))
    if truth is not None:
        ax2.plot(t[: len(truth)], shape(list(truth), trace.config.shaping, trace.config.gamma), "k--",
                 label=f"{trace.config.shaping} from ground truth")
    ax2.set_xlabel("frame (grey: missing)")
    ax2.set_ylabel("reward")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- CLI
def _truth(path: str) -> list[float]:
    from spatialvlm_core.sim.trajectories import load_trajectory_meta  # mujoco: only with --truth

    meta = load_trajectory_meta(path)
    vals = meta["true_distances"]
    if not isinstance(vals, list):
        raise ValueError(f"{path}: 'true_distances' must be a list")
    return [float(v) for v in vals]


def _tool_for(args: argparse.Namespace, items: list[Any]) -> Any:
    if args.model or args.tool in ("vlm", "learned"):
        return learned_tool(args.model)
    has_gt = all(isinstance(it, Frame) and it.ground_truth is not None for it in items)
    if args.tool in ("auto", "geometric", "oracle") and has_gt:
        return oracle_tool() if args.tool == "oracle" else pipeline_tool()
    raise ValueError(f"{args.source}: frames carry no depth/ground truth, so the geometric tool cannot measure them; "
                     "pass --model CHECKPOINT (a trained SpatialVLM) or --tool vlm for the shipped model")


def _cmd(args: argparse.Namespace) -> int:
    cfg = RewardConfig(shaping=args.shaping, smoothing=args.smoothing, gamma=args.gamma, effector=args.effector)
    items, _ = load_frames(args.source, max_frames=args.max_frames, stride=args.stride)
    tool = _tool_for(args, items)
    trace = RewardAnnotator(tool, cfg).annotate(items, args.task, target=args.target)
    truth = _truth(args.truth)[:: args.stride][: args.max_frames] if args.truth else None
    if truth is not None:
        if len(truth) != trace.n_frames:
            raise ValueError(f"{args.truth}: {len(truth)} true distances for {trace.n_frames} frames")
        trace.provenance["truth"] = args.truth
        trace.provenance["spearman_vs_truth"] = spearman(trace.distances, truth)
    trace.save(args.out)
    if args.plot:
        plot_trace(trace, args.plot, truth)
    rho = trace.provenance.get("spearman_vs_truth")
    total = "n/a" if trace.total_reward is None else f"{trace.total_reward:.3f}"
    print(f"{trace.n_frames} frames, target {trace.target!r}, missing {trace.missing_rate:.0%}, total {args.shaping} "
          f"reward {total}, {trace.frames_per_second:.1f} frames/s"
          + (f", Spearman vs truth {rho:.3f}" if isinstance(rho, float) else "") + f" -> {args.out}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("reward", help="dense reward for a robot video: per-frame gripper-object distance")
    p.add_argument("source", help="video file, folder of frames, or trajectory folder (trajectory.json)")
    p.add_argument("--task", required=True, help='e.g. "pick up the mug"')
    p.add_argument("--out", required=True, help="rewards JSON to write")
    p.add_argument("--plot", default=None, help="PNG of distance and reward over time")
    p.add_argument("--truth", default=None, help="trajectory.json (or its folder) with true distances to compare")
    p.add_argument("--model", default=None, help="SpatialVLM checkpoint directory (answers from the learned VLM)")
    p.add_argument("--tool", choices=["auto", "geometric", "oracle", "vlm", "learned"], default="auto",
                   help="auto: geometric reconstruction for trajectory folders, else the VLM given by --model")
    p.add_argument("--target", default=None, help="object phrase (overrides the one parsed from --task)")
    p.add_argument("--effector", default="gripper")
    p.add_argument("--shaping", choices=SHAPINGS, default="progress")
    p.add_argument("--smoothing", choices=SMOOTHINGS, default="median_ema")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--max-frames", type=int, default=None)
    p.set_defaults(func=_cmd)

